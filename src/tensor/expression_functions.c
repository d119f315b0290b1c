/* The functions of the expression language: names, arities, and how exact
 * each is (docs/expressions.md has the same table with measured errors). */
#include <string.h>

#include "tensor/expression.h"

/* In tp_expr_fn order. */
const tp_expr_function tp_expr_functions[] = {
    {"abs", 1, 1, "exact"},
    {"min", 2, 1, "exact"},
    {"max", 2, 1, "exact"},
    {"floor", 1, 1, "exact"},
    {"ceil", 1, 1, "exact"},
    {"trunc", 1, 1, "exact"},
    {"round", 1, 1, "exact (halves away from zero)"},
    {"sqrt", 1, 0, "correctly rounded"},
    {"fma", 3, 0, "correctly rounded"},
    {"fmod", 2, 0, "exact"},
    {"exp", 1, 0, "within 1 ulp"},
    {"exp2", 1, 0, "within 1 ulp"},
    {"expm1", 1, 0, "within 1 ulp"},
    {"log", 1, 0, "within 1 ulp"},
    {"log2", 1, 0, "within 1 ulp"},
    {"log10", 1, 0, "within 1 ulp"},
    {"pow", 2, 0, "within 1 ulp"},
    {"sin", 1, 0, "within 1 ulp"},
    {"cos", 1, 0, "within 1 ulp"},
    {"tan", 1, 0, "within 1 ulp"},
    {"asin", 1, 0, "within 1 ulp"},
    {"acos", 1, 0, "within 1 ulp"},
    {"atan", 1, 0, "within 1 ulp"},
    {"atan2", 2, 0, "within 1 ulp"},
    {"sinh", 1, 0, "within 1 ulp"},
    {"cosh", 1, 0, "within 1 ulp"},
    {"tanh", 1, 0, "within 1 ulp"},
    {NULL, 0, 0, NULL},
};

_Static_assert(sizeof tp_expr_functions / sizeof tp_expr_functions[0] ==
                   TP_EXPR_FN_COUNT + 1,
               "one table entry per tp_expr_fn");

int tp_expr_function_find(const char *name, size_t length) {
  for (int f = 0; tp_expr_functions[f].name; ++f)
    if (strlen(tp_expr_functions[f].name) == length &&
        memcmp(tp_expr_functions[f].name, name, length) == 0)
      return f;
  return -1;
}

const char *tp_expr_function_list(void) {
  return "abs, min, max, floor, ceil, trunc, round, sqrt, fma, fmod, exp, "
         "exp2, expm1, log, log2, log10, pow, sin, cos, tan, asin, acos, "
         "atan, atan2, sinh, cosh, tanh";
}
