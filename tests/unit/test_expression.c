/* The expression language on the host: the regression table of hostile
 * inputs, the caps, the grammar and its types, host values against known
 * values, conversions to every dtype, and construction through the public
 * API. No compiler is involved: these run in every build. */
#include <criterion/criterion.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_runtime_fixture.h"
#include "tensor/expression.h"
#include "tensorpool/expression.h"
#include "test_rng.h"

TestSuite(expression, .init = setup, .fini = teardown);

#define expect_message(fragment)                                               \
  cr_expect_not_null(strstr(tp_last_error(), fragment), "message was: %s",     \
                     tp_last_error())

/* ---- the attacks of the review (issue 10), each refused before anything
 * reaches a compiler; the column names where the text stops being an
 * expression. */
static const struct {
  const char *text;
  int column; /* 0: not checked */
} attacks[] = {
    {"#include \"/etc/passwd\"", 1},
    {"__has_include(\"/etc/passwd\")", 1},
    {"%:include \"/etc/passwd\"", 1},
    {"i0 %:include \"/etc/passwd\"", 5},
    {"[]()<%for(;;);return 1;%>()", 1},
    {"<% %>", 1},
    {"i0 + [&]<%tp_dst[-4096]=1;%>()", 6},
    {"tp_dst[-4096] = 1", 1},
    {"*(volatile int *)0x1000 = 7", 1},
    {"tp_count = ~0ull", 1},
    {"i0 + (tp_count = ~0ull)", 7},
    {"[]{while(1);}()", 1},
    {"printf(\"x\")", 1},
    {"__trap()", 1},
    {"i0; }", 3},
    {"i0 // comment", 5},
    {"i0 /* comment */", 5},
    {"i0 \\\n + 1", 4},
    {"\"text\"", 1},
    {"'c'", 1},
    {"sizeof(i0)", 1},
    {"(int)i0", 2},
    {"i0++", 5},
    {"i0 = 1", 4},
    {"i0 << 2", 5},
    {"i0 & 1", 4},
    {"i0 ^ 1", 4},
    {"~i0", 1},
    {"i0, i1", 3},
    {"i0 + tp_expression_fill32(0)", 6},
    {"blockIdx.x", 1},
    {"i0 + i9", 6},
    {"i01", 1},
    {"0x1000", 1},
    {"1f", 1},
    {"1.2.3", 1},
    {"1e", 2},
    {"1e999", 1},
    {"99999999999999999999", 1},
    {"sin", 1},
    {"sin(1, 2)", 1},
    {"i0 + \xc3\xa9", 6},
    {"i0 + \x01", 6},
    {"", 0},
    {"   \t\n", 0},
    {"(i0", 4},
    {"i0)", 3},
    {"1 ? 2", 6},
};

Test(expression, every_attack_is_refused_with_the_column) {
  for (size_t k = 0; k < sizeof attacks / sizeof attacks[0]; ++k) {
    cr_expect_eq(tp_expression_check(attacks[k].text, 2),
                 TP_ERR_INVALID_ARGUMENT, "attack %zu accepted: %s", k,
                 attacks[k].text);
    if (attacks[k].column > 0) {
      char at[32];
      snprintf(at, sizeof at, "at column %d", attacks[k].column);
      cr_expect_not_null(strstr(tp_last_error(), at), "attack %zu: %s", k,
                         tp_last_error());
    }
  }
}

/* Text of `n` copies of `unit` between `head` and `tail` (malloc'ed). */
static char *repeat(const char *head, const char *unit, size_t n,
                    const char *tail) {
  size_t length = strlen(head) + n * strlen(unit) + strlen(tail) + 1;
  char *s = malloc(length);
  cr_assert_not_null(s);
  strcpy(s, head);
  for (size_t k = 0; k < n; ++k)
    strcat(s, unit);
  strcat(s, tail);
  return s;
}

Test(expression, deep_nesting_is_refused_without_recursing_into_it) {
  /* 1000 and 4000 nested parentheses killed the calling process through
   * the compiler's stack; the depth cap stops the parser at level 65 (and
   * 4000 pairs are now over the length cap as well). */
  const size_t depths[] = {65, 1000, 2000, 4000, 100000};
  for (size_t d = 0; d < 5; ++d) {
    char *open = repeat("", "(", depths[d], "1");
    char *text = repeat(open, ")", depths[d], "");
    cr_expect_eq(tp_expression_check(text, 1), TP_ERR_INVALID_ARGUMENT);
    if (strlen(text) <= TP_EXPRESSION_MAX_LENGTH)
      expect_message("nesting deeper than 64 levels at column 65");
    else
      expect_message("more than 4096");
    free(open);
    free(text);
  }
  char *open = repeat("", "(", 64, "i0");
  char *ok = repeat(open, ")", 64, "");
  cr_expect_eq(tp_expression_check(ok, 1), TP_SUCCESS, "%s", tp_last_error());
  free(open);
  free(ok);
  char *minus = repeat("", "-", 65, "1");
  cr_expect_eq(tp_expression_check(minus, 1), TP_ERR_INVALID_ARGUMENT);
  free(minus);
  char *calls = repeat("", "abs(", 65, "1");
  cr_expect_eq(tp_expression_check(calls, 1), TP_ERR_INVALID_ARGUMENT);
  free(calls);
}

Test(expression, length_and_token_caps) {
  char *longest = repeat("", " ", TP_EXPRESSION_MAX_LENGTH - 1, "1");
  cr_expect_eq(tp_expression_check(longest, 1), TP_SUCCESS);
  char *too_long = repeat(longest, " ", 1, "");
  cr_expect_eq(tp_expression_check(too_long, 1), TP_ERR_INVALID_ARGUMENT);
  expect_message("more than 4096");
  expect_message("column 4097");
  free(longest);
  free(too_long);
  /* 1 + 1 + ... : 1023 tokens pass, 1025 do not; a long left chain is
   * not deep (no nesting). */
  char *chain = repeat("1", "+1", 511, "");
  tp_expression *e = NULL;
  cr_assert_eq(tp_expression_parse(chain, 0, &e), TP_SUCCESS, "%s",
               tp_last_error());
  cr_expect_eq(tp_expression_value(e, NULL).i, 512);
  tp_expression_free(e);
  free(chain);
  chain = repeat("1", "+1", 512, "");
  cr_expect_eq(tp_expression_check(chain, 0), TP_ERR_INVALID_ARGUMENT);
  expect_message("more than 1024 tokens");
  free(chain);
}

Test(expression, indices_within_the_rank) {
  cr_expect_eq(tp_expression_check("i0 + i1", 2), TP_SUCCESS);
  cr_expect_eq(tp_expression_check("i0 + i2", 2), TP_ERR_INVALID_ARGUMENT);
  expect_message("i2");
  expect_message("2 dimensions (indices i0..i1)");
  cr_expect_eq(tp_expression_check("i0", 0), TP_ERR_INVALID_ARGUMENT);
  expect_message("0 dimensions");
  cr_expect_eq(tp_expression_check("i7", TP_MAX_NDIM), TP_SUCCESS);
  cr_expect_eq(tp_expression_check("i0", TP_MAX_NDIM + 1),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_expression_check(NULL, 1), TP_ERR_INVALID_ARGUMENT);
  /* Names that only look like indices or numbers. */
  cr_expect_eq(tp_expression_check("i1 * 1e3 + .5", 2), TP_SUCCESS);
  cr_expect_eq(tp_expression_check("i10", 8), TP_ERR_INVALID_ARGUMENT);
}

/* The value of `text` at `index` (ndim 3). */
static tp_expr_value value_at(const char *text, int64_t i0, int64_t i1,
                              int64_t i2) {
  tp_expression *e = NULL;
  cr_assert_eq(tp_expression_parse(text, 3, &e), TP_SUCCESS, "%s: %s", text,
               tp_last_error());
  int64_t index[3] = {i0, i1, i2};
  tp_expr_value v = tp_expression_value(e, index);
  tp_expression_free(e);
  return v;
}

static void expect_int(const char *text, int64_t want) {
  tp_expr_value v = value_at(text, 6, 11, -3);
  cr_expect_eq(v.type, TP_EXPR_INT, "%s is not an integer", text);
  cr_expect_eq(v.i, want, "%s = %lld, want %lld", text, (long long)v.i,
               (long long)want);
}

static void expect_real(const char *text, double want) {
  tp_expr_value v = value_at(text, 6, 11, -3);
  cr_expect_eq(v.type, TP_EXPR_REAL, "%s is not a real", text);
  cr_expect(memcmp(&v.d, &want, sizeof want) == 0 ||
                (isnan(v.d) && isnan(want)),
            "%s = %a, want %a", text, v.d, want);
}

Test(expression, integer_arithmetic_is_c_with_defined_edges) {
  expect_int("i0 * 100 - i1", 589);
  expect_int("7 / 2", 3);
  expect_int("-7 / 2", -3);
  expect_int("7 % -2", 1);
  expect_int("-7 % 2", -1);
  expect_int("i0 / 0", 0);
  expect_int("i0 % 0", 0);
  expect_int("9223372036854775807 + 1", INT64_MIN);
  expect_int("(-9223372036854775807 - 1) / -1", INT64_MIN);
  expect_int("(-9223372036854775807 - 1) % -1", 0);
  expect_int("-(-9223372036854775807 - 1)", INT64_MIN);
  expect_int("i2 * i2 + i2", 6);
  expect_int("1 + 2 * 3 - 4 / 3", 6);
  expect_int("abs(i2)", 3);
  expect_int("min(i0, i1)", 6);
  expect_int("max(i0, i1)", 11);
  expect_int("floor(i2)", -3);
  expect_int("round(i1)", 11);
}

Test(expression, comparisons_logic_and_conditionals) {
  expect_int("1 < 2 && 2 < 1", 0);
  expect_int("1 < 2 || 2 < 1", 1);
  expect_int("!0 + !5", 1);
  expect_int("!0.0", 1);
  expect_int("i0 == 6 ? 10 : 20", 10);
  expect_int("i0 != 6 ? 10 : 20", 20);
  expect_int("1 ? 2 : 3 ? 4 : 5", 2);
  expect_int("0 ? 2 : 0 ? 4 : 5", 5);
  expect_int("(1 ? 0 : 1) ? 4 : 5", 5);
  expect_int("i0 <= 6 && i1 >= 11 && i2 > -4 && i2 < -2", 1);
  expect_int("0.5 == 0.5", 1);
  expect_int("0 / 0.0 == 0 / 0.0", 0); /* NaN equals nothing */
  expect_real("1 ? 2 : 3.5", 2.0);     /* mixed branches: real */
  expect_real("i0 == i0 ? i1 : 0.5", 11.0);
}

Test(expression, real_arithmetic_and_exact_functions) {
  expect_real("7 / 2.0", 3.5);
  expect_real("i1 / 4.0", 2.75);
  expect_real("7 % 2.5", 2.0);
  expect_real("2 * pi", 0x1.921fb54442d18p+2);
  expect_real("sqrt(2)", 0x1.6a09e667f3bcdp+0);
  expect_real("fma(0.1, 10, -1)", 0x1.0p-54);
  expect_real("0.1 * 10 - 1", 0.0); /* no fusion: rounded products */
  expect_real("fmod(-7.5, 2)", -1.5);
  expect_real("round(2.5)", 3.0);
  expect_real("round(-0.5)", -1.0);
  expect_real("trunc(-2.7)", -2.0);
  expect_real("floor(-2.5)", -3.0);
  expect_real("ceil(2.1)", 3.0);
  expect_real("abs(-0.0)", 0.0);
  expect_real("max(1.5, 2)", 2.0);
  expect_real("min(0 / 0.0, 1)", 1.0); /* NaN loses */
  expect_real("max(1, 0 / 0.0)", 1.0);
  expect_real("1e308 * 10", INFINITY);
  expect_real("-1 / 0.0", -INFINITY);
  expect_real(".5 + 1.", 1.5);
  expect_real("1e-3 * 1E3", 1.0);
}

Test(expression, transcendental_functions_at_known_points) {
  expect_real("exp(1)", 0x1.5bf0a8b145769p+1);
  expect_real("exp(0)", 1.0);
  expect_real("exp(i0)", 0x1.936dc5690c08fp+8); /* e^6 */
  expect_real("exp2(10)", 1024.0);
  expect_real("exp2(-1074)", 0x1.0p-1074);
  expect_real("expm1(1e-20)", 1e-20);
  expect_real("log(1)", 0.0);
  expect_real("log(10)", 0x1.26bb1bbb55516p+1);
  expect_real("log2(1024)", 10.0);
  expect_real("log2(i0 + 2)", 3.0);
  expect_real("log10(1000)", 3.0);
  expect_real("log(0)", -INFINITY);
  expect_real("log(-1)", NAN);
  expect_real("pow(2, i0)", 64.0);
  expect_real("pow(2.0, 10)", 1024.0);
  expect_real("pow(-2, 3)", -8.0);
  expect_real("pow(-8, 1 / 3.0)", NAN);
  expect_real("pow(0, -1)", INFINITY);
  expect_real("pow(1, 0 / 0.0)", 1.0);
  expect_real("pow(10, -2)", 0.01);
  expect_real("sin(pi)", 0x1.1a62633145c07p-53);
  expect_real("sin(0)", 0.0);
  expect_real("cos(0)", 1.0);
  expect_real("cos(pi)", -1.0);
  expect_real("tan(0)", 0.0);
  expect_real("sin(1e22)", -0x1.b453ab76bf397p-1);
  expect_real("asin(1)", 0x1.921fb54442d18p+0);
  expect_real("acos(-1)", 0x1.921fb54442d18p+1);
  expect_real("acos(1)", 0.0);
  expect_real("atan(1)", 0x1.921fb54442d18p-1);
  expect_real("atan2(1, 1)", 0x1.921fb54442d18p-1);
  expect_real("atan2(0, -1)", 0x1.921fb54442d18p+1);
  expect_real("atan2(-1, 0)", -0x1.921fb54442d18p+0);
  expect_real("sinh(0)", 0.0);
  expect_real("cosh(0)", 1.0);
  expect_real("tanh(100)", 1.0);
  expect_real("tanh(-100)", -1.0);
  expect_real("asin(2)", NAN);
}

Test(expression, every_function_takes_indices_and_literals) {
  /* Issue 8 A5: exp(i0) and pow(2.0, i0) were ambiguous overloads. */
  for (int f = 0; tp_expr_functions[f].name; ++f) {
    const tp_expr_function *fn = &tp_expr_functions[f];
    char with_index[64], with_literal[64];
    if (fn->nargs == 1) {
      snprintf(with_index, sizeof with_index, "%s(i0)", fn->name);
      snprintf(with_literal, sizeof with_literal, "%s(0.5)", fn->name);
    } else if (fn->nargs == 2) {
      snprintf(with_index, sizeof with_index, "%s(i0, i1)", fn->name);
      snprintf(with_literal, sizeof with_literal, "%s(2.0, i0)", fn->name);
    } else {
      snprintf(with_index, sizeof with_index, "%s(i0, i1, i2)", fn->name);
      snprintf(with_literal, sizeof with_literal, "%s(0.5, i0, 2)", fn->name);
    }
    cr_expect_eq(tp_expression_check(with_index, 3), TP_SUCCESS, "%s: %s",
                 with_index, tp_last_error());
    cr_expect_eq(tp_expression_check(with_literal, 3), TP_SUCCESS, "%s: %s",
                 with_literal, tp_last_error());
  }
}

Test(expression, canonical_text_reads_back_as_itself) {
  const char *texts[] = {
      "i0+i1*i2",
      "(i0+i1)*i2",
      "i0-(i1-i2)",
      "i0-i1-i2",
      "-(i0+1)",
      "- -i0",
      "!(!i0)",
      "1?2:3?4:5",
      "(1?2:3)?4:5",
      "i0<i1==i1<i2",
      "i0<(i1==i1)",
      "pow(2,i0)%3",
      "0.1+1e-300+1e20",
      "pi*2",
      "a(1)" /* refused */,
      "atan2(-i0,i1)",
      "i0&&i1||!i2&&i0",
      "i0&&(i1||i2)",
      "fma(1,2,3)/-4.5",
      "(i0?i1:i2)+1",
      "i0?i1:i2+1",
  };
  for (size_t k = 0; k < sizeof texts / sizeof texts[0]; ++k) {
    tp_expression *e = NULL, *again = NULL;
    if (tp_expression_parse(texts[k], 3, &e) != TP_SUCCESS)
      continue;
    const char *canonical = tp_expression_canonical(e);
    cr_assert_eq(tp_expression_parse(canonical, 3, &again), TP_SUCCESS,
                 "%s -> %s: %s", texts[k], canonical, tp_last_error());
    cr_expect_str_eq(tp_expression_canonical(again), canonical, "%s", texts[k]);
    int64_t index[3] = {3, -2, 7};
    tp_expr_value a = tp_expression_value(e, index),
                  b = tp_expression_value(again, index);
    cr_expect(a.type == b.type && a.i == b.i &&
                  memcmp(&a.d, &b.d, sizeof a.d) == 0,
              "%s: a different value after printing", texts[k]);
    tp_expression_free(e);
    tp_expression_free(again);
  }
  tp_expression *e = NULL;
  cr_assert_eq(tp_expression_parse("( i0 +\ti1 ) * 2", 2, &e), TP_SUCCESS);
  cr_expect_str_eq(tp_expression_canonical(e), "(i0+i1)*2");
  tp_expression_free(e);
}

/* The bytes of one element of `dtype` holding `text` (ndim 1, index 0). */
static uint64_t stored(const char *text, tp_dtype dtype) {
  tp_expression *e = NULL;
  cr_assert_eq(tp_expression_parse(text, 1, &e), TP_SUCCESS, "%s", text);
  int64_t index[1] = {0};
  uint64_t bits =
      tp_expression_store_bits(tp_expression_value(e, index), dtype);
  tp_expression_free(e);
  return bits;
}

Test(expression, conversions_to_every_dtype) {
  cr_expect_eq(stored("0.1", TP_DTYPE_F32), 0x3DCCCCCDu);
  cr_expect_eq(stored("3", TP_DTYPE_F32), 0x40400000u);
  cr_expect_eq(stored("0.1", TP_DTYPE_F64), 0x3FB999999999999Aull);
  cr_expect_eq(stored("0 / 0.0", TP_DTYPE_F32), 0x7FC00000u);
  cr_expect_eq(stored("-(0 / 0.0)", TP_DTYPE_F64), 0x7FF8000000000000ull);
  cr_expect_eq(stored("-(0 / 0.0)", TP_DTYPE_F16), 0x7E00u);
  cr_expect_eq(stored("65520", TP_DTYPE_F16), 0x7C00u);
  cr_expect_eq(stored("1 / 3.0", TP_DTYPE_BF16), 0x3EABu);
  cr_expect_eq(stored("2.5", TP_DTYPE_C64), 0x40200000u, "real part only");
  cr_expect_eq(stored("2.5", TP_DTYPE_C128), 0x4004000000000000ull);
  cr_expect_eq((uint32_t)stored("3e9", TP_DTYPE_I32), 3000000000u);
  cr_expect_eq((uint32_t)stored("-2.9", TP_DTYPE_I32), (uint32_t)-2);
  cr_expect_eq(stored("1e300", TP_DTYPE_I64), (uint64_t)INT64_MAX);
  cr_expect_eq(stored("-1e300", TP_DTYPE_I64), (uint64_t)INT64_MIN);
  cr_expect_eq(stored("0 / 0.0", TP_DTYPE_I64), 0);
  cr_expect_eq((uint8_t)stored("300", TP_DTYPE_I8), 44);
  cr_expect_eq((uint8_t)stored("-1", TP_DTYPE_U8), 255);
  cr_expect_eq(stored("0.5", TP_DTYPE_BOOL), 1);
  cr_expect_eq(stored("256", TP_DTYPE_BOOL), 1);
  cr_expect_eq(stored("0.0", TP_DTYPE_BOOL), 0);
  cr_expect_eq(stored("0 / 0.0", TP_DTYPE_BOOL), 1);
}

/* The host fill: every element its value, whatever the tiling. */
Test(expression, construct_on_the_host_for_every_dtype_and_tiling) {
  const char *text = "i0 * 7 - i1 + (i0 > i1 ? 0.25 : 0)";
  tp_expression *e = NULL;
  cr_assert_eq(tp_expression_parse(text, 2, &e), TP_SUCCESS);
  for (int d = 0; d < TP_DTYPE_COUNT; ++d) {
    tp_dtype dtype = (tp_dtype)d;
    tp_layout l = matrix(dtype, 5, 4);
    size_t size = tp_dtype_size(dtype);
    for (int kind = 0; kind < 2; ++kind) {
      tp_allocator *a =
          host(kind == 0 ? TP_BUFFER_LOCAL : TP_BUFFER_DISTRIBUTED);
      tp_buffer *b = NULL;
      cr_assert_eq(
          tp_allocator_construct_expression(a, &l, NULL, text, NULL, &b),
          TP_SUCCESS, "%s: %s", tp_dtype_name(dtype), tp_last_error());
      const unsigned char *data = tp_buffer_data(b);
      for (int64_t i = 0; i < 5; ++i)
        for (int64_t j = 0; j < 4; ++j) {
          int64_t index[2] = {i, j};
          uint64_t want =
              tp_expression_store_bits(tp_expression_value(e, index), dtype);
          unsigned char bytes[16] = {0};
          for (size_t k = 0; k < size && k < 8; ++k)
            bytes[k] = (unsigned char)(want >> (8 * k));
          cr_expect_eq(memcmp(data + (i * 4 + j) * size, bytes, size), 0,
                       "%s (%lld, %lld)", tp_dtype_name(dtype), (long long)i,
                       (long long)j);
        }
      tp_buffer_destroy(b);
    }
  }
  tp_expression_free(e);
}

Test(expression, bad_text_allocates_nothing) {
  tp_layout l = matrix(TP_DTYPE_F32, 3, 3);
  uint64_t live = stats().live_blocks;
  tp_buffer *b = (tp_buffer *)&l; /* must stay untouched */
  cr_expect_eq(tp_allocator_construct_expression(host(TP_BUFFER_LOCAL), &l,
                                                 NULL, "i0 + i2", NULL, &b),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("tp_allocator_construct_expression");
  expect_message("i2");
  cr_expect_eq(b, (tp_buffer *)&l);
  cr_expect_eq(tp_allocator_construct_expression(host(TP_BUFFER_LOCAL), &l,
                                                 NULL, NULL, NULL, &b),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_allocator_construct_expression(host(TP_BUFFER_LOCAL), &l,
                                                 NULL, "i0", NULL, NULL),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(
      tp_allocator_construct_expression(NULL, &l, NULL, "i0", NULL, &b),
      TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(stats().live_blocks, live);
}

Test(expression, numbers_read_the_same_in_every_locale) {
  /* A locale whose decimal point is ',' must not change the language. */
  const char *locales[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "C.UTF-8"};
  for (size_t k = 0; k < 3; ++k) {
    if (!setlocale(LC_NUMERIC, locales[k]))
      continue;
    expect_real("0.5 + 1e-1", 0.6);
    tp_expression *e = NULL;
    cr_assert_eq(tp_expression_parse("0.25*i0", 1, &e), TP_SUCCESS);
    cr_expect_str_eq(tp_expression_canonical(e), "0.25*i0");
    tp_expression_free(e);
  }
  setlocale(LC_NUMERIC, "C");
}

/* Random texts from the language's own pieces and from hostile ones: never
 * a crash; whatever is accepted prints to a canonical text that parses to
 * itself and has the same value. */
Test(expression, random_texts_round_trip_or_are_refused) {
  static const char *pieces[] = {
      "i0",   "i1", "i2",     "7",    "0.5",  "1e3",   "pi",
      "+",    "-",  "*",      "/",    "%",    "<",     "<=",
      "==",   "!=", "&&",     "||",   "!",    "?",     ":",
      "(",    ")",  ",",      "sin(", "pow(", "min(",  "abs(",
      "fma(", " ",  "#",      ";",    "{",    "=",     "&",
      "<%",   "i9", "tp_dst", "\"",   "\xff", "1e999", "9999999999999999999"};
  const size_t n = sizeof pieces / sizeof pieces[0];
  tp_rng rng = tp_rng_make(77);
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    char text[256] = "";
    size_t count = 1 + tp_rng_below(&rng, 12);
    for (size_t k = 0; k < count; ++k) {
      /* Mostly the language's pieces, sometimes a hostile one. */
      size_t p = tp_rng_below(&rng, tp_rng_below(&rng, 8) ? 31 : n);
      strncat(text, pieces[p], sizeof text - strlen(text) - 1);
    }
    tp_expression *e = NULL, *again = NULL;
    tp_status st = tp_expression_parse(text, 3, &e);
    if (st != TP_SUCCESS) {
      cr_assert_eq(st, TP_ERR_INVALID_ARGUMENT, "%s", text);
      continue;
    }
    accepted++;
    const char *canonical = tp_expression_canonical(e);
    cr_assert_eq(tp_expression_parse(canonical, 3, &again), TP_SUCCESS,
                 "%s -> %s: %s", text, canonical, tp_last_error());
    cr_assert_str_eq(tp_expression_canonical(again), canonical);
    int64_t index[3] = {2, -5, 9};
    tp_expr_value a = tp_expression_value(e, index),
                  b = tp_expression_value(again, index);
    cr_assert(
        a.type == b.type && a.i == b.i &&
            (memcmp(&a.d, &b.d, sizeof a.d) == 0 || (isnan(a.d) && isnan(b.d))),
        "%s: the value changed through %s", text, canonical);
    tp_expression_free(e);
    tp_expression_free(again);
  }
  cr_expect_gt(accepted, 100, "only %d random texts were expressions",
               accepted);
}

/* A random expression of the grammar, at most `depth` deep. */
static void random_expression(tp_rng *rng, int depth, char *out, size_t size) {
  static const char *leaves[] = {"i0", "i1", "i2", "3", "0.25", "pi", "1e-3"};
  static const char *ops[] = {
      "+", "-", "*", "/", "%", "<", "<=", ">=", "==", "!=", "&&", "||", ">"};
  static const char *calls[] = {"sin", "exp", "abs", "floor", "sqrt", "atan"};
  char a[1024], b[1024], c[1024];
  size_t kind = depth > 0 ? tp_rng_below(rng, 6) : 0;
  int n = 0;
  switch (kind) {
  case 0: n = snprintf(out, size, "%s", leaves[tp_rng_below(rng, 7)]); break;
  case 1:
    random_expression(rng, depth - 1, a, sizeof a);
    n = snprintf(out, size, "%s%s", tp_rng_below(rng, 2) ? "-" : "!", a);
    break;
  case 2:
    random_expression(rng, depth - 1, a, sizeof a);
    n = snprintf(out, size, "%s(%s)", calls[tp_rng_below(rng, 6)], a);
    break;
  case 3:
    random_expression(rng, depth - 1, a, sizeof a);
    random_expression(rng, depth - 1, b, sizeof b);
    random_expression(rng, depth - 1, c, sizeof c);
    n = snprintf(out, size, "(%s ? %s : %s)", a, b, c);
    break;
  default:
    random_expression(rng, depth - 1, a, sizeof a);
    random_expression(rng, depth - 1, b, sizeof b);
    n = snprintf(out, size, tp_rng_below(rng, 2) ? "%s %s %s" : "(%s %s %s)", a,
                 ops[tp_rng_below(rng, 13)], b);
    break;
  }
  cr_assert(n >= 0 && (size_t)n < size, "random expression too long");
}

Test(expression, random_expressions_print_back_exactly) {
  tp_rng rng = tp_rng_make(2025);
  for (int round = 0; round < 5000; ++round) {
    char text[1024];
    random_expression(&rng, 3, text, sizeof text);
    tp_expression *e = NULL, *again = NULL;
    cr_assert_eq(tp_expression_parse(text, 3, &e), TP_SUCCESS, "%s: %s", text,
                 tp_last_error());
    const char *canonical = tp_expression_canonical(e);
    cr_assert_eq(tp_expression_parse(canonical, 3, &again), TP_SUCCESS,
                 "%s -> %s", text, canonical);
    cr_assert_str_eq(tp_expression_canonical(again), canonical);
    cr_assert_eq(again->count, e->count, "%s: another tree", text);
    for (int k = 0; k < e->count; ++k)
      cr_assert(e->nodes[k].op == again->nodes[k].op &&
                    e->nodes[k].type == again->nodes[k].type,
                "%s: node %d differs after printing", text, k);
    tp_expression_free(e);
    tp_expression_free(again);
  }
}
