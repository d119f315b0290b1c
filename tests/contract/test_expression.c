/* docs/expressions.md and tensorpool/expression.h: the language's grammar,
 * values and types, functions, caps and refusals, and how results are
 * stored per element type, through tp_expression_check and host buffers of
 * tp_allocator_construct_expression. */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>

#include "contract.h"

static tp_runtime *rt;
static tp_allocator *host;

static void start(void) {
  rt = ct_runtime();
  host = ct_allocator(rt, TP_BUFFER_LOCAL);
}
static void stop(void) {
  ct_ok(tp_runtime_destroy(rt));
}

TestSuite(expr_values, .init = start, .fini = stop);
TestSuite(expr_store, .init = start, .fini = stop);
TestSuite(expr_functions, .init = start, .fini = stop);
TestSuite(expr_construct, .init = start, .fini = stop);

/* The value of a constant expression stored as one element of `t`. */
static void eval_into(const char *text, tp_dtype t, void *out) {
  tp_layout l = ct_layout(t, 0);
  tp_buffer *b = NULL;
  tp_status st =
      tp_allocator_construct_expression(host, &l, NULL, text, NULL, &b);
  cr_assert_eq(st, TP_SUCCESS, "\"%s\": %s", text, tp_last_error());
  ct_ok(tp_buffer_read(b, 0, tp_dtype_size(t), out));
  ct_ok(tp_buffer_destroy(b));
}

static double f64(const char *text) {
  double d;
  eval_into(text, TP_DTYPE_F64, &d);
  return d;
}
static int64_t i64(const char *text) {
  int64_t v;
  eval_into(text, TP_DTYPE_I64, &v);
  return v;
}

static void expect_refused(const char *text, int ndim) {
  tp_set_last_error(TP_SUCCESS, "%s", "");
  tp_status st = tp_expression_check(text, ndim);
  cr_expect_eq(st, TP_ERR_INVALID_ARGUMENT, "\"%s\" was accepted", text);
  cr_expect(strstr(tp_last_error(), "column") != NULL,
            "\"%s\": the message names no column: %s", text, tp_last_error());
}

static void expect_accepted(const char *text, int ndim) {
  tp_status st = tp_expression_check(text, ndim);
  cr_expect_eq(st, TP_SUCCESS, "\"%.60s\": %s", text, tp_last_error());
}

/* ---- Values and types --------------------------------------------------- */

/* "+ - * / % of two integers give an integer: wrapping modulo 2^64, /
 * truncating toward zero as in C. Division or remainder by zero gives 0,
 * INT64_MIN / -1 gives INT64_MIN and % -1 gives 0". */
Test(expr_values, integer_arithmetic) {
  cr_expect_eq(i64("7/2"), 3);
  cr_expect_eq(i64("-7/2"), -3);
  cr_expect_eq(i64("-7%2"), -1);
  cr_expect_eq(i64("7%-2"), 1);
  cr_expect_eq(f64("7/2"), 3.0, "an integer quotient, then stored");
  cr_expect_eq(i64("1/0"), 0);
  cr_expect_eq(i64("5%0"), 0);
  cr_expect_eq(i64("(-9223372036854775807-1)/-1"), INT64_MIN);
  cr_expect_eq(i64("(-9223372036854775807-1)%-1"), 0);
  cr_expect_eq(i64("9223372036854775807+1"), INT64_MIN);
  cr_expect_eq(i64("3037000500*3037000500"),
               (int64_t)(3037000500ull * 3037000500ull));
  cr_expect_eq(i64("9007199254740993 + 0"), 9007199254740993,
               "integers are not rounded through double");
}

/* "With a double on either side, the integer is converted (round to
 * nearest) and the operation is IEEE double: / by zero gives +-inf or NaN,
 * % is fmod." */
Test(expr_values, double_arithmetic) {
  cr_expect_eq(f64("7/2.0"), 3.5);
  cr_expect_eq(f64("0.1+0.2"), 0.1 + 0.2);
  cr_expect_eq(f64("1/0.0"), INFINITY);
  cr_expect_eq(f64("-1/0.0"), -INFINITY);
  cr_expect_eq(f64("7.5 % 2"), 1.5);
  cr_expect_eq(f64("-7.5 % 2"), -1.5);
  cr_expect_eq(f64("9007199254740993 + 0.0"), 9007199254740992.0);
  /* "A NaN result is stored as the positive quiet NaN". */
  cr_expect_eq(ct_bits64(f64("0/0.0")), 0x7FF8000000000000ull);
  cr_expect_eq(ct_bits64(f64("-(0/0.0)")), 0x7FF8000000000000ull);
}

/* "Comparisons, !, && and || give the integer 0 or 1; a value is true when
 * it is not zero (NaN is true; as in C, comparisons with NaN are false
 * except !=, which is true)." */
Test(expr_values, logic_and_comparisons) {
  cr_expect_eq(i64("1 < 2"), 1);
  cr_expect_eq(i64("2 <= 1"), 0);
  cr_expect_eq(i64("2 >= 2"), 1);
  cr_expect_eq(i64("3 > 2.5"), 1);
  cr_expect_eq(i64("2 == 2.0"), 1);
  cr_expect_eq(i64("0/0.0 == 0/0.0"), 0);
  cr_expect_eq(i64("0/0.0 < 1"), 0);
  cr_expect_eq(i64("0/0.0 >= 1"), 0);
  cr_expect_eq(i64("0/0.0 != 0/0.0"), 1, "as in C, != with NaN is true");
  cr_expect_eq(i64("0/0.0 != 1"), 1);
  cr_expect_eq(i64("-0.0 == 0.0"), 1);
  cr_expect_eq(i64("!(0/0.0)"), 0, "NaN is true");
  cr_expect_eq(i64("!0"), 1);
  cr_expect_eq(i64("!0.0"), 1);
  cr_expect_eq(i64("!-0.0"), 1);
  cr_expect_eq(i64("2 && 3"), 1);
  cr_expect_eq(i64("0 || 0.0"), 0);
  cr_expect_eq(i64("0/0.0 && 1"), 1);
  cr_expect_eq(f64("1 < 2"), 1.0);
}

/* "c ? a : b has the type of a and b, or double when they differ";
 * precedence and associativity are C's. */
Test(expr_values, conditional_types_and_precedence) {
  cr_expect_eq(i64("1 ? 9007199254740993 : 0"), 9007199254740993);
  cr_expect_eq(i64("1 ? 9007199254740993 : 0.5"), 9007199254740992,
               "a double conditional");
  cr_expect_eq(f64("0 ? 1 : 2.5"), 2.5);
  cr_expect_eq(i64("0 ? 1 : 0 ? 2 : 3"), 3);
  cr_expect_eq(i64("1 ? 0 ? 5 : 6 : 7"), 6);
  cr_expect_eq(i64("2 + 3 * 4"), 14);
  cr_expect_eq(i64("10 - 4 - 3"), 3);
  cr_expect_eq(i64("100 / 10 / 5"), 2);
  cr_expect_eq(i64("2 * 3 % 4"), 2);
  cr_expect_eq(i64("7 - 3 % 2"), 6);
  cr_expect_eq(i64("2 - -3"), 5);
  cr_expect_eq(i64("-2 * -3"), 6);
  cr_expect_eq(i64("+-+2"), -2);
  cr_expect_eq(i64("1 < 2 == 1"), 1);
  cr_expect_eq(i64("3 > 2 > 1"), 0, "(3 > 2) > 1");
  cr_expect_eq(i64("1 + 2 < 4"), 1);
  cr_expect_eq(i64("1 || 0 && 0"), 1);
  cr_expect_eq(i64("!1 + 1"), 1);
  cr_expect_eq(i64("1 == 1 ? 4 : 5"), 4);
  cr_expect_eq(i64("(1 + 2) * 3"), 9);
}

/* Numbers: reals, exponents; "an integer above 2^63 - 1 (write it as a
 * real ...) and a real beyond the largest double" are refused; pi is the
 * double nearest pi. */
Test(expr_values, numbers_and_pi) {
  cr_expect_eq(f64("1e3"), 1000.0);
  cr_expect_eq(f64(".5"), 0.5);
  cr_expect_eq(f64("5."), 5.0);
  cr_expect_eq(f64("1E-2"), 0.01);
  cr_expect_eq(f64("2.5e+2"), 250.0);
  cr_expect_eq(f64("0.1"), 0.1);
  cr_expect_eq(f64("1.7976931348623157e308"), DBL_MAX);
  cr_expect_eq(f64("4.9406564584124654e-324"), 0x1p-1074);
  cr_expect_eq(i64("9223372036854775807"), INT64_MAX);
  cr_expect_eq(f64("9223372036854775808.0"), 0x1p63);
  cr_expect_eq(ct_bits64(f64("pi")), ct_bits64(3.14159265358979323846));
  expect_refused("9223372036854775808", 0);
  expect_refused("1e309", 0);
  expect_accepted("1e308", 0);
}

/* ---- Refusals ----------------------------------------------------------- */

/* "Any other character ... is refused, as is any name that is not an index
 * below ndim, pi or a function above, a number that is not decimal". */
Test(expr_check, refused_characters_names_and_numbers) {
  const char *bad[] = {
      "#",      "1;",     "{1}",       "[1]",       "\"1\"",  "'1'",
      "\\1",    "1 & 2",  "1 | 2",     "1 = 2",     "1 ^ 2",  "~1",
      "1 << 2", "1 >> 2", "\xc3\xa9",  "i01",       "sizeof", "blockIdx",
      "tp_dst", "0x1f",   "1f",        "1e",        "1.2.3",  "1 +",
      "(1",     "1)",     "sin()",     "sin(1, 2)", "min(1)", "fma(1, 2)",
      "foo(1)", "sin 1",  "1 2",       "i1",        "PI",     "Sin(1)",
      "1 ? 2",  "?1:2",   "%:include", "<% %>",     "1++",    "a"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    expect_refused(bad[i], 1);
  /* Nothing at all is not an expression either (there is no column to
   * name). */
  ct_expect_fail(tp_expression_check("", 1), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_expression_check(" \t\n", 1), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  /* Indices: only i0 .. i<ndim-1>. */
  expect_refused("i0", 0);
  expect_accepted("i0", 1);
  expect_refused("i2", 2);
  expect_accepted("i7 + i0", 8);
  expect_refused("i8", 8);
  /* ndim itself: 0 to TP_MAX_NDIM. */
  ct_expect_fail(tp_expression_check("1", -1), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_expression_check("1", TP_MAX_NDIM + 1),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_expression_check(NULL, 1), TP_ERR_INVALID_ARGUMENT, NULL);
}

/* "a message that names the caller, the reason, the column (1-based) and
 * the text from there", as the docs' example shows. */
Test(expr_check, the_message_names_the_column) {
  ct_expect_fail(tp_expression_check("#include \"/etc/passwd\"", 1),
                 TP_ERR_INVALID_ARGUMENT,
                 "tp_expression_check: the character '#' is not part of the "
                 "expression language at column 1 of the expression: "
                 "\"#include \\x22/etc/passwd\\x22\"");
  ct_expect_fail(tp_expression_check("1 + 2 $ 3", 1), TP_ERR_INVALID_ARGUMENT,
                 "column 7");
  ct_expect_fail(tp_expression_check("i0 + i3", 2), TP_ERR_INVALID_ARGUMENT,
                 "column 6");
}

/* "Spaces, tabs, newlines and carriage returns separate tokens." */
Test(expr_values, whitespace) {
  cr_expect_eq(i64(" \t\n\r1 +\t2\n\r"), 3);
  cr_expect_eq(i64("1\n*\n3"), 3);
}

/* ---- Caps --------------------------------------------------------------- */

static char *repeat(const char *head, const char *unit, int n,
                    const char *tail) {
  size_t len = strlen(head) + strlen(unit) * (size_t)n + strlen(tail) + 1;
  char *s = malloc(len);
  strcpy(s, head);
  for (int i = 0; i < n; i++)
    strcat(s, unit);
  strcat(s, tail);
  return s;
}

/* "length 4096 characters", "tokens 1024", "nesting 64 levels of (,
 * function calls, unary operators and ?:". */
Test(expr_check, the_caps) {
  char *s = repeat("1", " ", 4095, "");
  expect_accepted(s, 0);
  free(s);
  s = repeat("1", " ", 4096, "");
  ct_expect_fail(tp_expression_check(s, 0), TP_ERR_INVALID_ARGUMENT, "4096");
  free(s);
  /* 512 ones and 511 pluses: 1023 tokens; a unary minus makes 1024. */
  s = repeat("-1", "+1", 511, "");
  expect_accepted(s, 0);
  free(s);
  s = repeat("-1", "+1", 512, "");
  ct_expect_fail(tp_expression_check(s, 0), TP_ERR_INVALID_ARGUMENT, "1024");
  free(s);
  /* A long chain is not nested. */
  s = repeat("1", "+1", 500, "");
  expect_accepted(s, 0);
  free(s);
  const char *opens[3] = {"(", "abs(", "-"};
  const char *closes[3] = {")", ")", ""};
  for (int k = 0; k < 3; k++) {
    char *open64 = repeat("", opens[k], 64, "");
    char *close64 = repeat("1", closes[k], 64, "");
    char *deep = malloc(strlen(open64) + strlen(close64) + 1);
    strcpy(deep, open64);
    strcat(deep, close64);
    expect_accepted(deep, 0);
    char *deeper = malloc(strlen(deep) + 8);
    sprintf(deeper, "%s%s%s", opens[k], deep, closes[k]);
    ct_expect_fail(tp_expression_check(deeper, 0), TP_ERR_INVALID_ARGUMENT,
                   "64");
    free(open64);
    free(close64);
    free(deep);
    free(deeper);
  }
  char *cond = repeat("", "1?", 64, "1");
  char *cond_tail = repeat(cond, ":1", 64, "");
  expect_accepted(cond_tail, 0);
  free(cond);
  free(cond_tail);
  cond = repeat("", "1?", 65, "1");
  cond_tail = repeat(cond, ":1", 65, "");
  ct_expect_fail(tp_expression_check(cond_tail, 0), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  free(cond);
  free(cond_tail);
  /* 100000 nested parentheses: refused, not a crash. */
  char *huge = repeat("", "(", 100000, "1");
  ct_expect_fail(tp_expression_check(huge, 0), TP_ERR_INVALID_ARGUMENT, NULL);
  free(huge);
}

/* "Numbers are read the same in every locale". */
Test(expr_values, numbers_ignore_the_locale) {
  const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8",
                         "fr_FR.utf8",  "de_DE",      "fr_FR"};
  const char *got = NULL;
  for (size_t i = 0; i < sizeof names / sizeof *names && !got; i++)
    got = setlocale(LC_NUMERIC, names[i]);
  if (!got)
    cr_skip_test("no locale with a decimal comma is installed here");
  cr_expect_eq(f64("1.5"), 1.5);
  cr_expect_eq(f64("2.5e-1"), 0.25);
  setlocale(LC_NUMERIC, "C");
}

/* ---- Storage per element type (the table of docs/expressions.md) --------*/

Test(expr_store, floating_types) {
  float f;
  eval_into("0.1", TP_DTYPE_F32, &f);
  cr_expect_eq(f, 0.1f);
  eval_into("0/0.0", TP_DTYPE_F32, &f);
  cr_expect_eq(ct_bits32(f), 0x7FC00000u);
  eval_into("-(0/0.0)", TP_DTYPE_F32, &f);
  cr_expect_eq(ct_bits32(f), 0x7FC00000u);
  uint16_t h;
  eval_into("0/0.0", TP_DTYPE_F16, &h);
  cr_expect_eq(h, 0x7E00);
  eval_into("0/0.0", TP_DTYPE_BF16, &h);
  cr_expect_eq(h, 0x7FC0);
  eval_into("65520.0", TP_DTYPE_F16, &h);
  cr_expect_eq(h, 0x7C00, "overflow to infinity");
  /* Rounded once from the double: 1 + 2^-11 + 2^-40 is above the tie. */
  eval_into("1.0004882812500009094947017729282379150390625", TP_DTYPE_F16, &h);
  cr_expect_eq(h, 0x3C01, "0x%04x", h);
  eval_into("1 + 1.0/2048", TP_DTYPE_F16, &h);
  cr_expect_eq(h, 0x3C00, "a tie, to even");
  eval_into("1.00390625", TP_DTYPE_BF16, &h);
  cr_expect_eq(h, 0x3F80, "a tie, to even");
  /* Complex: the real part, imaginary 0. */
  float c[2] = {7, 7};
  eval_into("2.5", TP_DTYPE_C64, c);
  cr_expect_eq(c[0], 2.5f);
  cr_expect_eq(ct_bits32(c[1]), 0u);
  double z[2] = {7, 7};
  eval_into("-0.1", TP_DTYPE_C128, z);
  cr_expect_eq(z[0], -0.1);
  cr_expect_eq(ct_bits64(z[1]), 0u);
}

/* i64: "an integer as is; a double truncated toward zero, NaN -> 0, beyond
 * the range -> INT64_MIN / INT64_MAX"; i32, i8, u8: that i64 value wrapped
 * to the low bits; bool: 1 if not zero (NaN included). */
Test(expr_store, integer_types) {
  cr_expect_eq(i64("-2.7"), -2);
  cr_expect_eq(i64("2.7"), 2);
  cr_expect_eq(i64("0/0.0"), 0);
  cr_expect_eq(i64("1e300"), INT64_MAX);
  cr_expect_eq(i64("-1e300"), INT64_MIN);
  cr_expect_eq(i64("1/0.0"), INT64_MAX);
  cr_expect_eq(i64("9223372036854775808.0"), INT64_MAX);
  cr_expect_eq(i64("-9223372036854775808.0"), INT64_MIN);
  int32_t i;
  eval_into("4294967297", TP_DTYPE_I32, &i);
  cr_expect_eq(i, 1);
  eval_into("1e300", TP_DTYPE_I32, &i);
  cr_expect_eq(i, -1, "the low 32 bits of INT64_MAX");
  eval_into("-2.9", TP_DTYPE_I32, &i);
  cr_expect_eq(i, -2);
  int8_t s8;
  eval_into("200", TP_DTYPE_I8, &s8);
  cr_expect_eq(s8, -56);
  uint8_t u8;
  eval_into("-1", TP_DTYPE_U8, &u8);
  cr_expect_eq(u8, 255);
  eval_into("257.9", TP_DTYPE_U8, &u8);
  cr_expect_eq(u8, 1);
  struct {
    const char *text;
    uint8_t want;
  } b[] = {{"0", 0},    {"0.0", 0}, {"-0.0", 0}, {"0/0.0", 1},
           {"0.1", 1},  {"256", 1}, {"-1", 1},   {"1e-300 * 1e-300", 0},
           {"1/0.0", 1}};
  for (size_t k = 0; k < sizeof b / sizeof *b; k++) {
    uint8_t v = 0xEE;
    eval_into(b[k].text, TP_DTYPE_BOOL, &v);
    cr_expect_eq(v, b[k].want, "bool of %s", b[k].text);
  }
}

/* ---- Functions ---------------------------------------------------------- */

/* "abs, min, max, floor, ceil, trunc, round of integers give integers (the
 * last four return them unchanged)"; "min/max return the other argument
 * when one is NaN, the second when they are equal"; "round: halves away
 * from zero". */
Test(expr_functions, exact_ones) {
  cr_expect_eq(i64("abs(-9007199254740993)"), 9007199254740993);
  cr_expect_eq(i64("floor(9007199254740993)"), 9007199254740993);
  cr_expect_eq(i64("round(9007199254740993)"), 9007199254740993);
  cr_expect_eq(i64("min(9007199254740993, 9007199254740995)"),
               9007199254740993);
  cr_expect_eq(i64("max(-3, 2)"), 2);
  cr_expect_eq(f64("abs(-2.5)"), 2.5);
  cr_expect_eq(f64("min(2, 3.5)"), 2.0);
  cr_expect_eq(f64("min(0/0.0, 1)"), 1.0);
  cr_expect_eq(f64("min(1, 0/0.0)"), 1.0);
  cr_expect_eq(f64("max(0/0.0, -1)"), -1.0);
  cr_expect_eq(ct_bits64(f64("min(0.0, -0.0)")), ct_bits64(-0.0));
  cr_expect_eq(ct_bits64(f64("min(-0.0, 0.0)")), ct_bits64(0.0));
  cr_expect_eq(ct_bits64(f64("max(0.0, -0.0)")), ct_bits64(-0.0));
  cr_expect_eq(f64("floor(2.7)"), 2.0);
  cr_expect_eq(f64("floor(-2.5)"), -3.0);
  cr_expect_eq(f64("ceil(2.1)"), 3.0);
  cr_expect_eq(f64("ceil(-2.9)"), -2.0);
  cr_expect_eq(f64("trunc(-2.7)"), -2.0);
  cr_expect_eq(f64("round(2.5)"), 3.0);
  cr_expect_eq(f64("round(-2.5)"), -3.0);
  cr_expect_eq(f64("round(0.49999999999999994)"), 0.0);
  cr_expect_eq(f64("fmod(7.5, 2)"), 1.5);
  cr_expect_eq(f64("fmod(-7, 3)"), -1.0);
  cr_expect_eq(f64("sqrt(2)"), sqrt(2.0));
  cr_expect_eq(ct_bits64(f64("sqrt(-0.0)")), ct_bits64(-0.0));
  cr_expect_eq(f64("fma(0.1, 10, -1)"), fma(0.1, 10, -1));
  cr_expect_eq(f64("fma(1e308, 10, -1e308)"), INFINITY);
}

/* The distance between two doubles in units in the last place. */
static double ulps(double a, double b) {
  if (a == b)
    return 0;
  double u = nextafter(fabs(b), INFINITY) - fabs(b);
  return fabs(a - b) / u;
}

/* "within 1 ulp" of the exact value: within 2 ulp of glibc, which is
 * itself within about 1 ulp of it (and usually correctly rounded). */
Test(expr_functions, within_one_ulp) {
  struct {
    const char *fmt;
    double (*ref)(double);
  } one[] = {
      {"exp(%.17g)", exp},   {"exp2(%.17g)", exp2}, {"expm1(%.17g)", expm1},
      {"log(%.17g)", log},   {"log2(%.17g)", log2}, {"log10(%.17g)", log10},
      {"sin(%.17g)", sin},   {"cos(%.17g)", cos},   {"tan(%.17g)", tan},
      {"asin(%.17g)", asin}, {"acos(%.17g)", acos}, {"atan(%.17g)", atan},
      {"sinh(%.17g)", sinh}, {"cosh(%.17g)", cosh}, {"tanh(%.17g)", tanh}};
  double args[] = {0.1,  0.5,       0.7071067811865476,
                   0.99, 1.5,       2.0,
                   3.0,  10.5,      -0.3,
                   -0.9, 100.25,    700.0,
                   1e-5, 12345.678, 1e22};
  char text[128];
  for (size_t f = 0; f < sizeof one / sizeof *one; f++)
    for (size_t a = 0; a < sizeof args / sizeof *args; a++) {
      double x = args[a], want = one[f].ref(x);
      if (!isfinite(want))
        continue;
      snprintf(text, sizeof text, one[f].fmt, x);
      double got = f64(text);
      if (isnan(want)) {
        cr_expect(isnan(got), "%s = %a, wanted NaN", text, got);
        continue;
      }
      cr_expect_leq(ulps(got, want), 2.0, "%s = %.17g, glibc %.17g", text, got,
                    want);
    }
  double pairs[][2] = {{2, 0.5},        {10, -3}, {0.5, 100.5},
                       {1.0001, 12345}, {3, 3},   {-2, 3}};
  for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
    snprintf(text, sizeof text, "pow(%.17g, %.17g)", pairs[i][0], pairs[i][1]);
    cr_expect_leq(ulps(f64(text), pow(pairs[i][0], pairs[i][1])), 2.0, "%s",
                  text);
    snprintf(text, sizeof text, "atan2(%.17g, %.17g)", pairs[i][0],
             pairs[i][1]);
    cr_expect_leq(ulps(f64(text), atan2(pairs[i][0], pairs[i][1])), 2.0, "%s",
                  text);
  }
  /* "All of them accept indices and literals": integer arguments. */
  cr_expect_leq(ulps(f64("exp(1)"), exp(1.0)), 2.0);
  cr_expect_leq(ulps(f64("atan2(1, 1)"), atan2(1.0, 1.0)), 2.0);
}

/* C99 Annex F special values (tested against the C library, the docs
 * say). */
Test(expr_functions, special_values) {
  cr_expect_eq(f64("exp(-1/0.0)"), 0.0);
  cr_expect_eq(f64("exp(1/0.0)"), INFINITY);
  cr_expect_eq(f64("exp(1000)"), INFINITY);
  cr_expect_eq(f64("log(0.0)"), -INFINITY);
  cr_expect_eq(ct_bits64(f64("log(-1.0)")), 0x7FF8000000000000ull);
  cr_expect_eq(f64("log(1)"), 0.0);
  cr_expect_eq(f64("pow(0.0, -1)"), INFINITY);
  cr_expect_eq(f64("pow(-1, 1/0.0)"), 1.0);
  cr_expect_eq(f64("pow(1, 0/0.0)"), 1.0);
  cr_expect_eq(f64("pow(0/0.0, 0)"), 1.0);
  cr_expect_eq(f64("atan2(0.0, -0.0)"), f64("pi"));
  cr_expect_eq(ct_bits64(f64("sin(-0.0)")), ct_bits64(-0.0));
  cr_expect_eq(ct_bits64(f64("tanh(-0.0)")), ct_bits64(-0.0));
  cr_expect_eq(f64("tanh(1/0.0)"), 1.0);
  cr_expect_eq(f64("cos(0)"), 1.0);
}

/* ---- Tensors ------------------------------------------------------------ */

/* "every element is `expression` at its global multi-index". */
Test(expr_construct, indices_and_the_docs_examples) {
  tp_layout l = ct_layout(TP_DTYPE_F64, 2, (int64_t)3, (int64_t)4);
  const char *texts[4] = {"i0 * 10 + i1", "i0 == i1 ? 1 : 0",
                          "sin(0.1*i0) + i1", "pow(2, i0 + i1) % 7"};
  for (int t = 0; t < 4; t++) {
    tp_buffer *b = NULL;
    ct_ok(tp_allocator_construct_expression(host, &l, NULL, texts[t],
                                            ct_stream(3), &b));
    cr_expect_eq(tp_buffer_stream(b), ct_stream(3));
    double v[12];
    ct_ok(tp_buffer_read(b, 0, sizeof v, v));
    for (int i0 = 0; i0 < 3; i0++)
      for (int i1 = 0; i1 < 4; i1++) {
        double got = v[i0 * 4 + i1], want;
        switch (t) {
        case 0: want = i0 * 10 + i1; break;
        case 1: want = i0 == i1; break;
        case 2: want = sin(0.1 * i0) + i1; break;
        default: want = fmod(pow(2, i0 + i1), 7); break;
        }
        cr_expect_leq(ulps(got, want), 2.0, "%s at (%d,%d): %.17g", texts[t],
                      i0, i1, got);
      }
    ct_ok(tp_buffer_destroy(b));
  }
  /* The same text with other spacing gives the same bits. */
  tp_buffer *a = NULL, *b = NULL;
  ct_ok(tp_allocator_construct_expression(host, &l, NULL, "sin(0.1*i0)+i1",
                                          NULL, &a));
  ct_ok(tp_allocator_construct_expression(
      host, &l, NULL, " ( sin ( 0.1 * i0 ) ) + ( i1 ) ", NULL, &b));
  double x[12], y[12];
  ct_ok(tp_buffer_read(a, 0, sizeof x, x));
  ct_ok(tp_buffer_read(b, 0, sizeof y, y));
  cr_expect(memcmp(x, y, sizeof x) == 0);
  ct_ok(tp_buffer_destroy(a));
  ct_ok(tp_buffer_destroy(b));
}

/* "The expression is checked before anything is allocated". */
Test(expr_construct, refused_before_anything_is_allocated) {
  tp_layout l = ct_layout(TP_DTYPE_F32, 2, (int64_t)300, (int64_t)300);
  tp_pool_stats before = ct_host_stats(rt);
  tp_buffer *b = (tp_buffer *)0x5;
  ct_expect_fail(
      tp_allocator_construct_expression(host, &l, NULL, "i2", NULL, &b),
      TP_ERR_INVALID_ARGUMENT, "column 1");
  ct_expect_fail(
      tp_allocator_construct_expression(host, &l, NULL, NULL, NULL, &b),
      TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(
      tp_allocator_construct_expression(NULL, &l, NULL, "1", NULL, &b),
      TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(
      tp_allocator_construct_expression(host, NULL, NULL, "1", NULL, &b),
      TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(b, (tp_buffer *)0x5);
  tp_pool_stats after = ct_host_stats(rt);
  cr_expect_eq(after.allocations, before.allocations);
}
