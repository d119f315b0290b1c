/* libFuzzer target: the index-expression language (docs/expressions.md,
 * src/tensor/expression_parse.c) on any text.
 *
 * The text is also read by an independent recognizer of the grammar the
 * docs give (below), so that the parser accepts exactly the texts of the
 * language within its caps (4096 characters, 1024 tokens, 64 nested
 * levels, numbers of at most 400 characters, integers to 2^63 - 1, finite
 * reals). A refusal is TP_ERR_INVALID_ARGUMENT with the column in its
 * message. What is accepted must print back (the canonical text) as a text
 * of the language that parses to the same tree; its CUDA source must
 * consist of the library's fixed text and one line per tree node of a few
 * fixed forms (literals as bits, indices below ndim, the library's own
 * symbols), so nothing of the user's text reaches NVRTC; and the host
 * evaluator must run without undefined behaviour at any index and store
 * what tp_expression_store_bits says. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/expression_kernel.h"
#include "fuzz_input.h"
#include "tensor/expression.h"
#include "tensorpool/expression.h"

static void broken(const char *text, const char *what, ...)
    __attribute__((format(printf, 2, 3)));
static void broken(const char *text, const char *what, ...) {
  va_list ap;
  va_start(ap, what);
  fprintf(stderr, "fuzz_expression: ");
  vfprintf(stderr, what, ap);
  fprintf(stderr, "\n  text: \"%.200s\"\n  last error: %s\n", text,
          tp_last_error());
  va_end(ap);
  abort();
}
#define CHECK(text, cond, ...)                                                 \
  do {                                                                         \
    if (!(cond))                                                               \
      broken((text), __VA_ARGS__);                                             \
  } while (0)

/* ---- an independent recognizer of docs/expressions.md's grammar ---- */

enum { CAP_LENGTH = 4096, CAP_TOKENS = 1024, CAP_DEPTH = 64, CAP_NUMBER = 400 };

typedef enum tok_kind { T_END, T_NUM, T_NAME, T_SYM } tok_kind;

typedef struct tok {
  tok_kind kind;
  const char *s;
  size_t n;
} tok;

typedef struct recognizer {
  const char *text;
  int ndim;
  tok *toks;
  size_t count, pos;
  int depth, max_depth;
  bool bad; /* not a text of the language (caps aside) */
} recognizer;

/* The functions and their numbers of arguments (the docs' table). */
static const struct {
  const char *name;
  int nargs;
} functions[] = {{"abs", 1},   {"min", 2},   {"max", 2},   {"floor", 1},
                 {"ceil", 1},  {"trunc", 1}, {"round", 1}, {"sqrt", 1},
                 {"fma", 3},   {"fmod", 2},  {"exp", 1},   {"exp2", 1},
                 {"expm1", 1}, {"log", 1},   {"log2", 1},  {"log10", 1},
                 {"pow", 2},   {"sin", 1},   {"cos", 1},   {"tan", 1},
                 {"asin", 1},  {"acos", 1},  {"atan", 1},  {"atan2", 2},
                 {"sinh", 1},  {"cosh", 1},  {"tanh", 1}};

static bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}
static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* A number at s: its length, or 0 when malformed or out of range. */
static size_t read_number(const char *s) {
  size_t n = 0, digits = 0;
  bool real = false;
  while (is_digit(s[n]))
    n++, digits++;
  if (s[n] == '.') {
    real = true;
    n++;
    while (is_digit(s[n]))
      n++, digits++;
  }
  if (digits == 0)
    return 0;
  if (s[n] == 'e' || s[n] == 'E') {
    size_t e = n + 1;
    if (s[e] == '+' || s[e] == '-')
      e++;
    if (!is_digit(s[e]))
      return 0;
    while (is_digit(s[e]))
      e++;
    n = e;
    real = true;
  }
  if (is_name_char(s[n]) || s[n] == '.' || n > CAP_NUMBER)
    return 0;
  char buf[CAP_NUMBER + 1];
  memcpy(buf, s, n);
  buf[n] = '\0';
  if (!real) {
    errno = 0;
    unsigned long long v = strtoull(buf, NULL, 10);
    return errno || v > (unsigned long long)INT64_MAX ? 0 : n;
  }
  return isinf(strtod(buf, NULL)) ? 0 : n;
}

/* Splits the text into tokens; false when a character or number is not of
 * the language. */
static bool tokenize(recognizer *r) {
  const char *s = r->text;
  size_t len = strlen(s);
  r->toks = malloc((len + 1) * sizeof *r->toks);
  r->count = 0;
  for (size_t i = 0; i < len;) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      i++;
      continue;
    }
    tok t = {T_SYM, s + i, 1};
    if (is_digit(c) || (c == '.' && is_digit(s[i + 1]))) {
      t.kind = T_NUM;
      if (!(t.n = read_number(s + i)))
        return false;
    } else if (is_name_start(c)) {
      t.kind = T_NAME;
      while (is_name_char(s[i + t.n]))
        t.n++;
    } else if (strchr("<>=!&|", c) && c && s[i + 1] &&
               ((c == '&' || c == '|') ? s[i + 1] == c : s[i + 1] == '=')) {
      t.n = 2;
    } else if (!c || !strchr("+-*/%<>!(),?:", c)) {
      return false; /* '=', '&', '|' alone and every other character */
    }
    r->toks[r->count++] = t;
    i += t.n;
  }
  r->toks[r->count] = (tok){T_END, s + len, 0};
  return true;
}

static const tok *peek(recognizer *r) {
  return &r->toks[r->pos];
}

static bool sym(recognizer *r, const char *op) {
  const tok *t = peek(r);
  if (t->kind == T_SYM && t->n == strlen(op) && !memcmp(t->s, op, t->n)) {
    r->pos++;
    return true;
  }
  return false;
}

/* Past 200 levels the text is refused anyway (the cap is 64): stop there
 * instead of recursing through thousands of parentheses. */
static bool enter(recognizer *r) {
  if (++r->depth > r->max_depth)
    r->max_depth = r->depth;
  return r->depth <= 200;
}

static void expression(recognizer *r);

static void primary(recognizer *r) {
  const tok *t = peek(r);
  if (t->kind == T_NUM) {
    r->pos++;
    return;
  }
  if (t->kind == T_NAME) {
    r->pos++;
    if (t->n >= 2 && t->s[0] == 'i' && is_digit(t->s[1])) {
      bool digits = true;
      for (size_t k = 1; k < t->n; k++)
        digits = digits && is_digit(t->s[k]);
      if (digits) { /* i0 .. i<ndim-1>, no leading zero */
        r->bad |= (t->s[1] == '0' && t->n > 2) || t->n > 2 ||
                  t->s[1] - '0' >= r->ndim;
        return;
      }
    }
    if (t->n == 2 && !memcmp(t->s, "pi", 2))
      return;
    for (size_t f = 0; f < sizeof functions / sizeof functions[0]; f++) {
      if (strlen(functions[f].name) != t->n ||
          memcmp(functions[f].name, t->s, t->n))
        continue;
      if (!sym(r, "(") || !enter(r)) {
        r->bad = true;
        return;
      }
      int n = 0;
      do {
        expression(r);
        n++;
      } while (!r->bad && sym(r, ","));
      r->bad |= !sym(r, ")") || n != functions[f].nargs;
      r->depth--;
      return;
    }
    r->bad = true; /* any other name */
    return;
  }
  if (sym(r, "(")) {
    if (!enter(r)) {
      r->bad = true;
      return;
    }
    expression(r);
    r->bad |= !sym(r, ")");
    r->depth--;
    return;
  }
  r->bad = true;
}

static void unary(recognizer *r) {
  if (sym(r, "-") || sym(r, "+") || sym(r, "!")) {
    if (!enter(r)) {
      r->bad = true;
      return;
    }
    unary(r);
    r->depth--;
    return;
  }
  primary(r);
}

/* One left-associative level of binary operators. */
static void level(recognizer *r, int which) {
  static const char *const ops[][4] = {{"||"},       {"&&"},
                                       {"==", "!="}, {"<=", ">=", "<", ">"},
                                       {"+", "-"},   {"*", "/", "%"}};
  if (which == 6) {
    unary(r);
    return;
  }
  level(r, which + 1);
  for (;;) {
    bool matched = false;
    for (int k = 0; k < 4 && ops[which][k] && !matched; k++)
      matched = sym(r, ops[which][k]);
    if (!matched || r->bad)
      return;
    level(r, which + 1);
  }
}

static void conditional(recognizer *r) {
  level(r, 0);
  if (r->bad || !sym(r, "?"))
    return;
  if (!enter(r)) {
    r->bad = true;
    return;
  }
  expression(r);
  r->bad |= !sym(r, ":");
  if (!r->bad)
    conditional(r);
  r->depth--;
}

static void expression(recognizer *r) {
  if (!r->bad)
    conditional(r);
}

/* Whether the parser must accept `text`: -1 refuse (not the language or a
 * cap exceeded), 1 accept. */
static int recognize(const char *text, int ndim) {
  recognizer r = {text, ndim, NULL, 0, 0, 0, 0, false};
  int verdict = -1;
  if (ndim >= 0 && ndim <= TP_MAX_NDIM && strlen(text) <= CAP_LENGTH &&
      tokenize(&r) && r.count > 0 && r.count <= CAP_TOKENS) {
    expression(&r);
    if (!r.bad && peek(&r)->kind == T_END && r.max_depth <= CAP_DEPTH)
      verdict = 1;
  }
  free(r.toks);
  return verdict;
}

/* ---- the generated CUDA source ---- */

/* Reads "v<N>" with N < limit at *p. */
static bool value_ref(const char **p, int limit) {
  if (**p != 'v' || !isdigit((unsigned char)(*p)[1]))
    return false;
  char *end;
  long n = strtol(*p + 1, &end, 10);
  *p = end;
  return n < limit;
}

static bool literal(const char **p, const char *s) {
  size_t n = strlen(s);
  if (strncmp(*p, s, n))
    return false;
  *p += n;
  return true;
}

/* A symbol of the library: tp_[a-z0-9_]+. */
static bool library_symbol(const char **p) {
  if (strncmp(*p, "tp_", 3))
    return false;
  const char *q = *p + 3;
  while ((*q >= 'a' && *q <= 'z') || isdigit((unsigned char)*q) || *q == '_')
    q++;
  if (q == *p + 3)
    return false;
  *p = q;
  return true;
}

static bool hex_bits(const char **p) {
  if (!literal(p, "0x"))
    return false;
  for (int k = 0; k < 16; k++, ++*p)
    if (!isxdigit((unsigned char)**p))
      return false;
  return literal(p, "ull");
}

static bool truth(const char **p, int k) {
  return literal(p, "(") && value_ref(p, k) && literal(p, " != ") &&
         (literal(p, "(int64_t)0") || literal(p, "0.0")) && literal(p, ")");
}

/* "  const T vK = <one of the forms the generator writes>;\n" */
static bool node_line(const char **p, int k, int ndim) {
  char head[64];
  const char *q = *p;
  if (!literal(&q, "  const ") ||
      !(literal(&q, "double ") || literal(&q, "int64_t ")))
    return false;
  snprintf(head, sizeof head, "v%d = ", k);
  if (!literal(&q, head))
    return false;
  const char *start = q;
  bool ok = false;
#define TRY(expr)                                                              \
  if (!ok) {                                                                   \
    q = start;                                                                 \
    ok = (expr) && literal(&q, ";\n");                                         \
  }
  TRY(literal(&q, "tp_double_of(") && hex_bits(&q) && literal(&q, ")"));
  TRY(literal(&q, "(int64_t)") && hex_bits(&q));
  TRY(literal(&q, "i[") && isdigit((unsigned char)*q) && *q - '0' < ndim &&
      (++q, literal(&q, "]")));
  TRY(literal(&q, "-") && value_ref(&q, k));
  TRY(literal(&q, "(int64_t)!") && truth(&q, k));
  TRY(literal(&q, "(int64_t)(") && truth(&q, k) &&
      (literal(&q, " && ") || literal(&q, " || ")) && truth(&q, k) &&
      literal(&q, ")"));
  TRY(literal(&q, "(int64_t)(") && value_ref(&q, k) &&
      (literal(&q, " <= ") || literal(&q, " >= ") || literal(&q, " < ") ||
       literal(&q, " > ") || literal(&q, " == ") || literal(&q, " != ")) &&
      value_ref(&q, k) && literal(&q, ")"));
  TRY(value_ref(&q, k) &&
      (literal(&q, " + ") || literal(&q, " - ") || literal(&q, " * ") ||
       literal(&q, " / ")) &&
      value_ref(&q, k));
  TRY(truth(&q, k) && literal(&q, " ? ") && value_ref(&q, k) &&
      literal(&q, " : ") && value_ref(&q, k));
  /* floor, ceil, trunc, round of an integer: the integer itself. */
  TRY(literal(&q, "(") && value_ref(&q, k) && literal(&q, ")"));
  /* A call of a library function: tp_...(vA[, vB[, vC]]). */
  TRY(library_symbol(&q) && literal(&q, "(") && value_ref(&q, k) &&
      (literal(&q, ")") ||
       (literal(&q, ", ") && value_ref(&q, k) &&
        (literal(&q, ")") ||
         (literal(&q, ", ") && value_ref(&q, k) && literal(&q, ")"))))));
#undef TRY
  if (ok)
    *p = q;
  return ok;
}

#define BODY_START "tp_expression_element(const int64_t *i) {\n  (void)i;\n"

/* The source of `e` is the reference's (expression "0") with the node lines
 * and the return line in place of the reference's. */
static void check_source(const char *text, const tp_expression *e,
                         tp_dtype dtype) {
  tp_expression *zero = NULL;
  CHECK(text, tp_expression_parse("0", e->ndim, &zero) == TP_SUCCESS,
        "the expression 0 is refused");
  char *src = NULL, *ref = NULL;
  CHECK(text, tp_expression_cuda_source(e, dtype, &src) == TP_SUCCESS,
        "no CUDA source for an accepted expression");
  CHECK(text, tp_expression_cuda_source(zero, dtype, &ref) == TP_SUCCESS,
        "no CUDA source for 0");
  const char *sb = strstr(src, BODY_START), *rb = strstr(ref, BODY_START);
  CHECK(text, sb && rb && sb - src == rb - ref && !memcmp(src, ref, sb - src),
        "the source before the expression's lines is not the library's");
  const char *p = sb + strlen(BODY_START);
  for (int k = 0; k < e->count; k++)
    CHECK(text, node_line(&p, k, e->ndim),
          "line %d of the expression's source is not of a generated form: "
          "\"%.80s\"",
          k, p);
  char tail[96];
  snprintf(tail, sizeof tail, "  return tp_xm_store_%s(v%d, TP_DTYPE);\n}\n",
           e->nodes[e->count - 1].type == TP_EXPR_INT ? "int" : "real",
           e->count - 1);
  CHECK(text, literal(&p, tail), "the return line is \"%.80s\"", p);
  const char *rt = strstr(rb, "  return tp_xm_store_");
  CHECK(text, rt && strchr(rt, '}') && strcmp(p, strstr(rt, "}\n") + 2) == 0,
        "the source after the expression's lines is not the library's");
  free(src);
  free(ref);
  tp_expression_free(zero);
}

/* ---- the same tree from the canonical text ---- */

static bool same_nodes(const tp_expression *a, const tp_expression *b) {
  if (a->count != b->count || a->ndim != b->ndim)
    return false;
  for (int k = 0; k < a->count; k++) {
    const tp_expr_node *x = &a->nodes[k], *y = &b->nodes[k];
    if (x->op != y->op || x->type != y->type || x->fn != y->fn ||
        x->nargs != y->nargs || memcmp(x->arg, y->arg, sizeof x->arg))
      return false;
    if (x->op == TP_EXPR_LITERAL &&
        (x->type == TP_EXPR_INT ? x->v.i != y->v.i
                                : memcmp(&x->v.d, &y->v.d, sizeof x->v.d)))
      return false;
    if (x->op == TP_EXPR_INDEX && x->v.k != y->v.k)
      return false;
  }
  return true;
}

/* ---- host evaluation ---- */

static void check_values(const char *text, fuzz_input *in,
                         const tp_expression *e, const tp_expression *again,
                         tp_dtype dtype) {
  static const int64_t special[] = {0,
                                    1,
                                    2,
                                    7,
                                    INT32_MAX,
                                    (int64_t)1 << 32,
                                    (int64_t)1 << 53,
                                    INT64_MAX - 1,
                                    INT64_MAX};
  int64_t index[TP_MAX_NDIM] = {0};
  for (int round = 0; round < 4; round++) {
    for (int k = 0; k < e->ndim; k++)
      index[k] = special[fuzz_pick(in, sizeof special / sizeof special[0])];
    tp_expr_value a = tp_expression_value(e, index);
    tp_expr_value b = tp_expression_value(again, index);
    CHECK(text,
          a.type == b.type &&
              tp_expression_store_bits(a, TP_DTYPE_F64) ==
                  tp_expression_store_bits(b, TP_DTYPE_F64) &&
              tp_expression_store_bits(a, TP_DTYPE_I64) ==
                  tp_expression_store_bits(b, TP_DTYPE_I64),
          "the canonical text evaluates differently");
  }
  /* A small tile somewhere: every element as tp_expression_store_bits. */
  tp_layout layout;
  int64_t ext[TP_MAX_NDIM];
  for (int k = 0; k < e->ndim; k++)
    ext[k] = k < 2 ? 3 : 2;
  if (e->ndim > 0)
    ext[0] = INT64_MAX / 4096; /* rows far out; bytes still fit int64 */
  CHECK(text, tp_layout_make(dtype, e->ndim, ext, &layout) == TP_SUCCESS,
        "layout");
  tp_tile tile;
  memset(&tile, 0, sizeof tile);
  tile.count = 1;
  for (int k = 0; k < e->ndim; k++) {
    tile.extents[k] = k == 0 ? 2 : ext[k];
    tile.offsets[k] = k == 0 ? ext[0] - 2 : 0;
    tile.count *= (size_t)tile.extents[k];
  }
  static unsigned char out[2 * 3 * 64 * 16]; /* the largest tile, c128 */
  CHECK(text, tp_expression_fill_host(e, &layout, &tile, out) == TP_SUCCESS,
        "tp_expression_fill_host failed");
  size_t size = tp_dtype_size(dtype);
  for (size_t i = 0; i < tile.count; i++) {
    size_t rest = i;
    for (int k = e->ndim - 1; k >= 0; k--) {
      index[k] = tile.offsets[k] + (int64_t)(rest % (size_t)tile.extents[k]);
      rest /= (size_t)tile.extents[k];
    }
    uint64_t bits =
                 tp_expression_store_bits(tp_expression_value(e, index), dtype),
             got = 0;
    memcpy(&got, out + i * size, size < 8 ? size : 8);
    uint64_t mask = size >= 8 ? UINT64_MAX : ((uint64_t)1 << (8 * size)) - 1;
    CHECK(text, got == (bits & mask),
          "element %zu of the host fill is %#llx, not %#llx", i,
          (unsigned long long)got, (unsigned long long)(bits & mask));
  }
}

/* ---- the run ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = fuzz_input_make(data, size);
  int ndim = (int)fuzz_pick(&in, TP_MAX_NDIM + 3) - 1; /* -1 .. 9 */
  tp_dtype dtype = (tp_dtype)fuzz_pick(&in, TP_DTYPE_COUNT);
  /* The rest is the text; its last 16 bytes (when there are more than 32)
   * choose the indices the values are checked at. */
  size_t rest = size - in.at, tail = rest > 32 ? 16 : 0;
  char *text = malloc(rest - tail + 1);
  memcpy(text, data + in.at, rest - tail);
  text[rest - tail] = '\0'; /* a NUL inside ends the text */
  fuzz_input picks = fuzz_input_make(data + size - tail, tail);

  tp_expression *e = NULL;
  tp_status st = tp_expression_parse(text, ndim, &e);
  CHECK(text, st == TP_SUCCESS || st == TP_ERR_INVALID_ARGUMENT,
        "tp_expression_parse returned %s", tp_status_name(st));
  CHECK(text, tp_expression_check(text, ndim) == st,
        "tp_expression_check and the parser disagree");
  int want = recognize(text, ndim);
  CHECK(text, (st == TP_SUCCESS) == (want > 0),
        "the parser %s a text the grammar %s (ndim %d)",
        st == TP_SUCCESS ? "accepts" : "refuses",
        want > 0 ? "accepts" : "refuses", ndim);
  if (st != TP_SUCCESS) {
    CHECK(text, e == NULL, "a refused expression was returned");
    /* Not the text's fault (ndim), or nothing to point at (blank text). */
    bool blank = strspn(text, " \t\n\r") == strlen(text);
    if (ndim >= 0 && ndim <= TP_MAX_NDIM && !blank)
      CHECK(text, strstr(tp_last_error(), " column "),
            "a refusal without its column");
    free(text);
    return 0;
  }
  const char *canonical = tp_expression_canonical(e);
  CHECK(text, canonical && recognize(canonical, ndim) > 0,
        "the canonical text \"%.200s\" is not of the language", canonical);
  tp_expression *again = NULL;
  CHECK(text, tp_expression_parse(canonical, ndim, &again) == TP_SUCCESS,
        "the canonical text \"%.200s\" is refused", canonical);
  CHECK(text, strcmp(tp_expression_canonical(again), canonical) == 0,
        "the canonical text prints back as \"%.200s\"",
        tp_expression_canonical(again));
  CHECK(text, same_nodes(e, again),
        "the canonical text parses to another tree");
  check_source(text, e, dtype);
  check_values(text, &picks, e, again, dtype);
  tp_expression_free(again);
  tp_expression_free(e);
  free(text);
  return 0;
}
