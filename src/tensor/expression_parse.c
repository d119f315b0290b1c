/* The parser of the expression language (grammar in docs/expressions.md):
 * a lexer that knows every character the language allows, then recursive
 * descent with one function per precedence level. The caps on length,
 * tokens and nesting depth are checked first, so the recursion is bounded
 * (at most TP_EXPRESSION_MAX_DEPTH nested levels, each a fixed number of C
 * frames) and no input makes the parser, or the compiler after it, run
 * out of stack. Every refusal is TP_ERR_INVALID_ARGUMENT with the column
 * and an excerpt of the text. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tensor/expression.h"
#include "tensor/expression_number.h"

typedef enum token_kind {
  TOKEN_END,
  TOKEN_INT,
  TOKEN_REAL,
  TOKEN_NAME,
  TOKEN_OP, /* an operator: op holds a tp_expr_op (NOT for '!') */
  TOKEN_LPAREN,
  TOKEN_RPAREN,
  TOKEN_COMMA,
  TOKEN_QUESTION,
  TOKEN_COLON
} token_kind;

typedef struct token {
  token_kind kind;
  int column; /* 1-based */
  int length;
  int op;
  int64_t i;
  double d;
} token;

typedef struct parser {
  const char *caller;
  const char *text;
  size_t length;
  int ndim;
  token *tokens;
  int ntokens;
  int pos;
  size_t lexed; /* characters consumed by the lexer */
  int depth;
  tp_expr_node *nodes;
  int count, capacity;
  tp_status status; /* the first failure */
} parser;

/* ---- messages */

/* Up to 24 characters of the text from `column` on, quoted, with anything
 * but printable ASCII escaped. */
static void excerpt(const parser *p, int column, char out[128]) {
  size_t at = column > 0 ? (size_t)column - 1 : 0, n = 0;
  out[n++] = '"';
  for (int shown = 0; at < p->length && shown < 24; ++at, ++shown) {
    unsigned char c = (unsigned char)p->text[at];
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
      out[n++] = (char)c;
    else
      n += (size_t)snprintf(out + n, 8, "\\x%02X", c);
  }
  if (at < p->length)
    n += (size_t)snprintf(out + n, 8, "...");
  out[n++] = '"';
  out[n] = '\0';
}

/* Records the first failure: "<caller>: <what> at column C: "<text>"". */
static int fail(parser *p, int column, const char *format, ...) {
  if (p->status != TP_SUCCESS)
    return -1;
  char what[512], shown[128];
  va_list args;
  va_start(args, format);
  vsnprintf(what, sizeof what, format, args);
  va_end(args);
  excerpt(p, column, shown);
  p->status = tp_fail(TP_ERR_INVALID_ARGUMENT,
                      "%s: %s at column %d of the expression: %s", p->caller,
                      what, column, shown);
  return -1;
}

/* ---- lexer */

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}
static int is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

/* A number starting at `at`: digits [. digits] [e [+-] digits], or
 * . digits [...]; an integer when it has neither '.' nor an exponent. */
static int lex_number(parser *p, size_t at, token *t) {
  const char *s = p->text;
  size_t end = at, n = p->length;
  int real = 0, digits = 0;
  while (end < n && is_digit(s[end]))
    ++end, ++digits;
  if (end < n && s[end] == '.') {
    real = 1;
    ++end;
    while (end < n && is_digit(s[end]))
      ++end, ++digits;
  }
  if (digits > 0 && end < n && (s[end] == 'e' || s[end] == 'E')) {
    size_t e = end + 1;
    if (e < n && (s[e] == '+' || s[e] == '-'))
      ++e;
    if (e < n && is_digit(s[e])) {
      real = 1;
      end = e;
      while (end < n && is_digit(s[end]))
        ++end;
    } else {
      return fail(p, (int)end + 1,
                  "the exponent of this number has no "
                  "digits");
    }
  }
  if (end < n && (is_name_char(s[end]) || s[end] == '.'))
    return fail(p, (int)at + 1,
                "malformed number (only decimal numbers such as 12, 0.5, "
                "1e-3 are numbers)");
  t->length = (int)(end - at);
  if (t->length > TP_EXPRESSION_NUMBER_MAX)
    return fail(p, (int)at + 1, "a number of more than %d characters",
                TP_EXPRESSION_NUMBER_MAX);
  if (!real) {
    uint64_t v = 0;
    for (size_t k = at; k < end; ++k) {
      uint64_t digit = (uint64_t)(s[k] - '0');
      if (v > (UINT64_C(0x7FFFFFFFFFFFFFFF) - digit) / 10)
        return fail(p, (int)at + 1,
                    "the integer %.*s does not fit 64 bits (a real such as "
                    "%.*s.0 would)",
                    t->length, s + at, t->length, s + at);
      v = v * 10 + digit;
    }
    t->kind = TOKEN_INT;
    t->i = (int64_t)v;
    return 0;
  }
  double d = 0.0;
  if (!tp_expression_read_real(s + at, end - at, &d))
    return fail(p, (int)at + 1, "malformed number");
  if (d - d != 0.0) /* infinite */
    return fail(p, (int)at + 1, "the number %.*s is beyond the largest double",
                t->length, s + at);
  t->kind = TOKEN_REAL;
  t->d = d;
  return 0;
}

/* An operator or punctuation at `at`; its length. */
static int lex_symbol(parser *p, size_t at, token *t) {
  const char *s = p->text;
  char c = s[at], next = at + 1 < p->length ? s[at + 1] : '\0';
  t->length = 1;
  switch (c) {
  case '(': t->kind = TOKEN_LPAREN; return 0;
  case ')': t->kind = TOKEN_RPAREN; return 0;
  case ',': t->kind = TOKEN_COMMA; return 0;
  case '?': t->kind = TOKEN_QUESTION; return 0;
  case ':': t->kind = TOKEN_COLON; return 0;
  default: break;
  }
  t->kind = TOKEN_OP;
  switch (c) {
  case '+': t->op = TP_EXPR_ADD; return 0;
  case '-': t->op = TP_EXPR_SUB; return 0;
  case '*': t->op = TP_EXPR_MUL; return 0;
  case '/': t->op = TP_EXPR_DIV; return 0;
  case '%': t->op = TP_EXPR_MOD; return 0;
  case '<':
  case '>':
    t->length = next == '=' ? 2 : 1;
    t->op = c == '<' ? (next == '=' ? TP_EXPR_LE : TP_EXPR_LT)
                     : (next == '=' ? TP_EXPR_GE : TP_EXPR_GT);
    return 0;
  case '=':
    if (next == '=') {
      t->length = 2;
      t->op = TP_EXPR_EQ;
      return 0;
    }
    return fail(p, (int)at + 1, "'=' is not an operator (compare with '==')");
  case '!':
    t->length = next == '=' ? 2 : 1;
    t->op = next == '=' ? TP_EXPR_NE : TP_EXPR_NOT;
    return 0;
  case '&':
  case '|':
    if (next == c) {
      t->length = 2;
      t->op = c == '&' ? TP_EXPR_AND : TP_EXPR_OR;
      return 0;
    }
    return fail(p, (int)at + 1,
                "'%c' is not an operator (the language has no bitwise "
                "operators; '%c%c' is the logical one)",
                c, c, c);
  default: break;
  }
  unsigned char u = (unsigned char)c;
  if (u >= 0x20 && u < 0x7F)
    return fail(p, (int)at + 1,
                "the character '%c' is not part of the expression language", c);
  return fail(p, (int)at + 1,
              "the byte 0x%02X is not part of the expression language "
              "(printable ASCII only)",
              u);
}

/* Lexes the next token into p->tokens[p->ntokens]. On failure the token
 * is the end (the failure is recorded, so nothing is parsed past it). */
static void lex_next(parser *p) {
  size_t at = p->lexed;
  while (at < p->length && (p->text[at] == ' ' || p->text[at] == '\t' ||
                            p->text[at] == '\n' || p->text[at] == '\r'))
    ++at;
  token *t = &p->tokens[p->ntokens++];
  memset(t, 0, sizeof *t);
  t->column = (int)at + 1;
  t->kind = TOKEN_END;
  if (at == p->length || p->status != TP_SUCCESS)
    return;
  if (p->ntokens > TP_EXPRESSION_MAX_TOKENS) {
    fail(p, t->column, "more than %d tokens", TP_EXPRESSION_MAX_TOKENS);
    return;
  }
  char c = p->text[at];
  int rc;
  if (is_digit(c) ||
      (c == '.' && at + 1 < p->length && is_digit(p->text[at + 1]))) {
    rc = lex_number(p, at, t);
  } else if (is_name_start(c)) {
    size_t end = at;
    while (end < p->length && is_name_char(p->text[end]))
      ++end;
    t->kind = TOKEN_NAME;
    t->length = (int)(end - at);
    rc = 0;
  } else {
    rc = lex_symbol(p, at, t);
  }
  if (rc != 0) {
    t->kind = TOKEN_END;
    return;
  }
  p->lexed = at + (size_t)t->length;
}

/* ---- tree building */

static int add(parser *p, tp_expr_op op, tp_expr_type type, int column, int a,
               int b, int c) {
  if (p->count == p->capacity)
    return fail(p, column, "internal: node capacity exceeded");
  tp_expr_node *n = &p->nodes[p->count];
  memset(n, 0, sizeof *n);
  n->op = (uint8_t)op;
  n->type = (uint8_t)type;
  n->column = column;
  n->arg[0] = a;
  n->arg[1] = b;
  n->arg[2] = c;
  n->nargs = (uint8_t)((a >= 0) + (b >= 0) + (c >= 0));
  return p->count++;
}

static tp_expr_type type_of(const parser *p, int node) {
  return (tp_expr_type)p->nodes[node].type;
}

/* `node` as a real: itself, or an integer-to-real conversion of it. */
static int as_real(parser *p, int node) {
  if (node < 0 || type_of(p, node) == TP_EXPR_REAL)
    return node;
  return add(p, TP_EXPR_TO_REAL, TP_EXPR_REAL, p->nodes[node].column, node, -1,
             -1);
}

/* A binary operation, typed as docs/expressions.md says. */
static int binary(parser *p, tp_expr_op op, int column, int a, int b) {
  if (a < 0 || b < 0)
    return -1;
  if (op == TP_EXPR_AND || op == TP_EXPR_OR)
    return add(p, op, TP_EXPR_INT, column, a, b, -1);
  int both_int = type_of(p, a) == TP_EXPR_INT && type_of(p, b) == TP_EXPR_INT;
  if (!both_int) {
    a = as_real(p, a);
    b = as_real(p, b);
    if (a < 0 || b < 0)
      return -1;
  }
  int comparison = op >= TP_EXPR_LT && op <= TP_EXPR_NE;
  tp_expr_type type = comparison || both_int ? TP_EXPR_INT : TP_EXPR_REAL;
  return add(p, op, type, column, a, b, -1);
}

/* ---- recursive descent */

/* The current token, lexed on first use, so that the first error in the
 * text is the one reported. After the end, the end again. */
static token *peek(parser *p) {
  if (p->pos == p->ntokens) {
    if (p->ntokens > 0 && p->tokens[p->ntokens - 1].kind == TOKEN_END)
      return &p->tokens[p->ntokens - 1];
    lex_next(p);
  }
  return &p->tokens[p->pos];
}

static int enter(parser *p, int column) {
  if (++p->depth > TP_EXPRESSION_MAX_DEPTH)
    return fail(p, column, "nesting deeper than %d levels",
                TP_EXPRESSION_MAX_DEPTH);
  return 0;
}

static const char *describe(const token *t) {
  switch (t->kind) {
  case TOKEN_END: return "the end of the expression";
  case TOKEN_INT:
  case TOKEN_REAL: return "a number";
  case TOKEN_NAME: return "a name";
  case TOKEN_OP: return "an operator";
  case TOKEN_LPAREN: return "'('";
  case TOKEN_RPAREN: return "')'";
  case TOKEN_COMMA: return "','";
  case TOKEN_QUESTION: return "'?'";
  case TOKEN_COLON: return "':'";
  }
  return "a token";
}

static int expect(parser *p, token_kind kind, const char *what) {
  token *t = peek(p);
  if (t->kind != kind)
    return fail(p, t->column, "expected %s, found %s", what, describe(t));
  p->pos++;
  return 0;
}

static int parse_expression(parser *p);
static int parse_unary(parser *p);

static int parse_call(parser *p, const token *name, int fn) {
  const tp_expr_function *f = &tp_expr_functions[fn];
  if (peek(p)->kind != TOKEN_LPAREN)
    return fail(p, name->column,
                "the function %s needs its arguments in "
                "parentheses",
                f->name);
  if (enter(p, peek(p)->column) != 0)
    return -1;
  p->pos++;
  int args[3] = {-1, -1, -1}, n = 0;
  if (peek(p)->kind != TOKEN_RPAREN) {
    for (;;) {
      int a = parse_expression(p);
      if (a < 0)
        return -1;
      if (n < 3)
        args[n] = a;
      ++n;
      if (peek(p)->kind != TOKEN_COMMA)
        break;
      p->pos++;
    }
  }
  if (expect(p, TOKEN_RPAREN, "')' after the arguments") != 0)
    return -1;
  p->depth--;
  if (n != f->nargs)
    return fail(p, name->column, "%s takes %d argument%s, not %d", f->name,
                f->nargs, f->nargs == 1 ? "" : "s", n);
  int all_int = 1;
  for (int k = 0; k < n; ++k)
    all_int = all_int && type_of(p, args[k]) == TP_EXPR_INT;
  tp_expr_type type = TP_EXPR_REAL;
  if (f->integer_kept && all_int) {
    type = TP_EXPR_INT;
  } else {
    for (int k = 0; k < n; ++k)
      if ((args[k] = as_real(p, args[k])) < 0)
        return -1;
  }
  int node =
      add(p, TP_EXPR_CALL, type, name->column, args[0], args[1], args[2]);
  if (node >= 0)
    p->nodes[node].fn = (uint8_t)fn;
  return node;
}

static int parse_name(parser *p, const token *t) {
  const char *s = p->text + t->column - 1;
  size_t n = (size_t)t->length;
  if (n >= 2 && s[0] == 'i' && is_digit(s[1]) && (s[1] != '0' || n == 2)) {
    int all_digits = 1;
    for (size_t k = 1; k < n; ++k)
      all_digits = all_digits && is_digit(s[k]);
    if (all_digits) {
      long k = n > 4 ? 9999 : strtol(s + 1, NULL, 10);
      if (k >= p->ndim) {
        if (p->ndim == 0)
          return fail(p, t->column,
                      "the index %.*s names an axis, but the tensor has 0 "
                      "dimensions (no indices)",
                      (int)n, s);
        return fail(p, t->column,
                    "the index %.*s names an axis, but the tensor has %d "
                    "dimensions (indices i0..i%d)",
                    (int)n, s, p->ndim, p->ndim - 1);
      }
      int node = add(p, TP_EXPR_INDEX, TP_EXPR_INT, t->column, -1, -1, -1);
      if (node >= 0)
        p->nodes[node].v.k = (int)k;
      return node;
    }
  }
  if (n == 2 && s[0] == 'p' && s[1] == 'i') {
    int node = add(p, TP_EXPR_LITERAL, TP_EXPR_REAL, t->column, -1, -1, -1);
    if (node >= 0)
      p->nodes[node].v.d = 0x1.921fb54442d18p+1;
    return node;
  }
  int fn = tp_expr_function_find(s, n);
  if (fn >= 0)
    return parse_call(p, t, fn);
  return fail(p, t->column,
              "unknown name '%.*s' (the names are the indices i0..i<ndim-1>, "
              "pi, and the functions %s)",
              (int)(n > 32 ? 32 : n), s, tp_expr_function_list());
}

static int parse_primary(parser *p) {
  token *t = peek(p);
  switch (t->kind) {
  case TOKEN_INT:
  case TOKEN_REAL: {
    p->pos++;
    int node = add(p, TP_EXPR_LITERAL,
                   t->kind == TOKEN_INT ? TP_EXPR_INT : TP_EXPR_REAL, t->column,
                   -1, -1, -1);
    if (node >= 0) {
      if (t->kind == TOKEN_INT)
        p->nodes[node].v.i = t->i;
      else
        p->nodes[node].v.d = t->d;
    }
    return node;
  }
  case TOKEN_NAME: p->pos++; return parse_name(p, t);
  case TOKEN_LPAREN: {
    if (enter(p, t->column) != 0)
      return -1;
    p->pos++;
    int node = parse_expression(p);
    if (node < 0 || expect(p, TOKEN_RPAREN, "')'") != 0)
      return -1;
    p->depth--;
    return node;
  }
  default:
    return fail(p, t->column,
                "expected a number, an index, a function or "
                "'(', found %s",
                describe(t));
  }
}

static int parse_unary(parser *p) {
  token *t = peek(p);
  if (t->kind != TOKEN_OP ||
      (t->op != TP_EXPR_SUB && t->op != TP_EXPR_ADD && t->op != TP_EXPR_NOT))
    return parse_primary(p);
  if (enter(p, t->column) != 0)
    return -1;
  p->pos++;
  int a = parse_unary(p);
  if (a < 0)
    return -1;
  p->depth--;
  if (t->op == TP_EXPR_ADD)
    return a;
  if (t->op == TP_EXPR_NOT)
    return add(p, TP_EXPR_NOT, TP_EXPR_INT, t->column, a, -1, -1);
  return add(p, TP_EXPR_NEG, type_of(p, a), t->column, a, -1, -1);
}

/* One left-associative level: operands from `next`, operators `ops`. */
static int parse_level(parser *p, int (*next)(parser *), const int *ops,
                       int nops) {
  int left = next(p);
  while (left >= 0) {
    token *t = peek(p);
    int match = 0;
    for (int k = 0; t->kind == TOKEN_OP && k < nops; ++k)
      match = match || t->op == ops[k];
    if (!match)
      break;
    p->pos++;
    int right = next(p);
    left = binary(p, (tp_expr_op)t->op, t->column, left, right);
  }
  return left;
}

static int parse_term(parser *p) {
  static const int ops[] = {TP_EXPR_MUL, TP_EXPR_DIV, TP_EXPR_MOD};
  return parse_level(p, parse_unary, ops, 3);
}
static int parse_additive(parser *p) {
  static const int ops[] = {TP_EXPR_ADD, TP_EXPR_SUB};
  return parse_level(p, parse_term, ops, 2);
}
static int parse_relation(parser *p) {
  static const int ops[] = {TP_EXPR_LT, TP_EXPR_LE, TP_EXPR_GT, TP_EXPR_GE};
  return parse_level(p, parse_additive, ops, 4);
}
static int parse_equality(parser *p) {
  static const int ops[] = {TP_EXPR_EQ, TP_EXPR_NE};
  return parse_level(p, parse_relation, ops, 2);
}
static int parse_and(parser *p) {
  static const int ops[] = {TP_EXPR_AND};
  return parse_level(p, parse_equality, ops, 1);
}
static int parse_or(parser *p) {
  static const int ops[] = {TP_EXPR_OR};
  return parse_level(p, parse_and, ops, 1);
}

static int parse_conditional(parser *p) {
  int c = parse_or(p);
  token *t = peek(p);
  if (c < 0 || t->kind != TOKEN_QUESTION)
    return c;
  if (enter(p, t->column) != 0)
    return -1;
  p->pos++;
  int a = parse_expression(p);
  if (a < 0 || expect(p, TOKEN_COLON, "':' of the conditional") != 0)
    return -1;
  int b = parse_conditional(p);
  if (b < 0)
    return -1;
  p->depth--;
  if (type_of(p, a) != type_of(p, b)) {
    a = as_real(p, a);
    b = as_real(p, b);
    if (a < 0 || b < 0)
      return -1;
  }
  return add(p, TP_EXPR_COND, type_of(p, a), t->column, c, a, b);
}

static int parse_expression(parser *p) {
  return parse_conditional(p);
}

/* ---- entry points */

tp_status tp_expression_parse_for(const char *caller, const char *text,
                                  int ndim, tp_expression **out) {
  if (!text || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL %s", caller,
                   !text ? "expression" : "out-pointer");
  if (ndim < 0 || ndim > TP_MAX_NDIM)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: ndim %d outside 0..%d", caller,
                   ndim, TP_MAX_NDIM);
  size_t length = strlen(text);
  if (length > TP_EXPRESSION_MAX_LENGTH)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: an expression of %zu characters, more than %d (at "
                   "column %d)",
                   caller, length, TP_EXPRESSION_MAX_LENGTH,
                   TP_EXPRESSION_MAX_LENGTH + 1);
  parser p;
  memset(&p, 0, sizeof p);
  p.caller = caller;
  p.text = text;
  p.length = length;
  p.ndim = ndim;
  p.tokens = malloc((TP_EXPRESSION_MAX_TOKENS + 1) * sizeof *p.tokens);
  if (!p.tokens)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no memory for the tokens",
                   caller);
  if (strspn(text, " \t\n\r") == length) {
    free(p.tokens);
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: empty expression", caller);
  }
  /* Each token makes at most one node, plus conversions to real: at most
   * three per operator or call. */
  p.capacity = 4 * (TP_EXPRESSION_MAX_TOKENS + 1);
  p.nodes = malloc((size_t)p.capacity * sizeof *p.nodes);
  tp_expression *e = calloc(1, sizeof *e);
  if (!p.nodes || !e) {
    free(p.tokens);
    free(p.nodes);
    free(e);
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no memory for the expression",
                   caller);
  }
  int root = parse_expression(&p);
  if (root >= 0 && p.status == TP_SUCCESS && peek(&p)->kind != TOKEN_END)
    fail(&p, peek(&p)->column,
         "expected an operator or the end of the expression, found %s",
         describe(peek(&p)));
  if (root >= 0 && p.status == TP_SUCCESS && root != p.count - 1)
    fail(&p, 1, "internal: the result is not the last node");
  free(p.tokens);
  if (p.status != TP_SUCCESS) {
    free(p.nodes);
    free(e);
    return p.status;
  }
  e->ndim = ndim;
  e->count = p.count;
  e->nodes = realloc(p.nodes, (size_t)p.count * sizeof *p.nodes);
  if (!e->nodes)
    e->nodes = p.nodes;
  tp_status st = tp_expression_format(caller, e, &e->canonical);
  if (st != TP_SUCCESS) {
    tp_expression_free(e);
    return st;
  }
  *out = e;
  return TP_SUCCESS;
}

tp_status tp_expression_parse(const char *text, int ndim, tp_expression **out) {
  return tp_expression_parse_for("tp_expression_parse", text, ndim, out);
}

void tp_expression_free(tp_expression *e) {
  if (!e)
    return;
  free(e->nodes);
  free(e->canonical);
  free(e);
}

const char *tp_expression_canonical(const tp_expression *e) {
  return e ? e->canonical : NULL;
}
