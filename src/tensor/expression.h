/* Internal: the index-expression language (docs/expressions.md): a parsed
 * expression is a typed tree, stored as an array of nodes in which every
 * node comes after its operands, so walking the array in order evaluates
 * it. The host evaluates that array (expression_eval.c); the NVRTC kernel
 * source is generated from it (src/device/expression_source.c), never from
 * the user's text.
 *
 * Entry points for other code (the fill backends, the fuzz target):
 *   tp_expression_parse(text, ndim, &e)   parse and type-check, or
 *                                         TP_ERR_INVALID_ARGUMENT with the
 *                                         column in the message
 *   tp_expression_free(e)
 *   tp_expression_canonical(e)            the expression printed back in
 *                                         the language: the cache key
 *   tp_expression_fill_host(e, layout, tile, dst)
 * A parsed expression is immutable: any thread may use it. */
#ifndef TP_TENSOR_EXPRESSION_H
#define TP_TENSOR_EXPRESSION_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/layout.h"
#include "tensorpool/status.h"

/* Caps: longer, larger or deeper text is refused before anything else. */
#define TP_EXPRESSION_MAX_LENGTH 4096 /* characters */
#define TP_EXPRESSION_MAX_TOKENS 1024
#define TP_EXPRESSION_MAX_DEPTH 64 /* nested (, calls, unary ops, ?: */

typedef enum tp_expr_type { TP_EXPR_INT = 0, TP_EXPR_REAL = 1 } tp_expr_type;

typedef enum tp_expr_op {
  TP_EXPR_LITERAL, /* an integer or real constant (pi is one) */
  TP_EXPR_INDEX,   /* i<k> */
  TP_EXPR_TO_REAL, /* an integer operand used where a real is needed */
  TP_EXPR_NEG,
  TP_EXPR_NOT,
  TP_EXPR_ADD,
  TP_EXPR_SUB,
  TP_EXPR_MUL,
  TP_EXPR_DIV,
  TP_EXPR_MOD,
  TP_EXPR_LT,
  TP_EXPR_LE,
  TP_EXPR_GT,
  TP_EXPR_GE,
  TP_EXPR_EQ,
  TP_EXPR_NE,
  TP_EXPR_AND,
  TP_EXPR_OR,
  TP_EXPR_COND, /* a ? b : c */
  TP_EXPR_CALL  /* one of the functions of expression_functions.c */
} tp_expr_op;

typedef struct tp_expr_node {
  uint8_t op;     /* tp_expr_op */
  uint8_t type;   /* tp_expr_type of the result */
  uint8_t fn;     /* TP_EXPR_CALL: the function's number */
  uint8_t nargs;  /* operands used in arg[] */
  int32_t arg[3]; /* earlier nodes */
  int32_t column; /* 1-based column of the token it came from */
  union {
    int64_t i; /* literal of type INT */
    double d;  /* literal of type REAL */
    int k;     /* index number */
  } v;
} tp_expr_node;

typedef struct tp_expression {
  int ndim;
  int count; /* nodes; the last one is the result */
  tp_expr_node *nodes;
  char *canonical;
} tp_expression;

/* Parses `text` for a tensor of `ndim` dimensions. Messages start with
 * `caller`. */
tp_status tp_expression_parse_for(const char *caller, const char *text,
                                  int ndim, tp_expression **out);
tp_status tp_expression_parse(const char *text, int ndim, tp_expression **out);
void tp_expression_free(tp_expression *e);
/* The expression printed back in the language with no spaces and only the
 * parentheses the tree needs (reals written so that they read back
 * exactly): parsing it gives the same tree. Owned by `e`. */
const char *tp_expression_canonical(const tp_expression *e);
/* Prints it (malloc'ed); used by the parser. */
tp_status tp_expression_format(const char *caller, const tp_expression *e,
                               char **out);

/* ---- the functions of the language, in the order of the table */

typedef enum tp_expr_fn {
  TP_EXPR_FN_ABS,
  TP_EXPR_FN_MIN,
  TP_EXPR_FN_MAX,
  TP_EXPR_FN_FLOOR,
  TP_EXPR_FN_CEIL,
  TP_EXPR_FN_TRUNC,
  TP_EXPR_FN_ROUND,
  TP_EXPR_FN_SQRT,
  TP_EXPR_FN_FMA,
  TP_EXPR_FN_FMOD,
  TP_EXPR_FN_EXP,
  TP_EXPR_FN_EXP2,
  TP_EXPR_FN_EXPM1,
  TP_EXPR_FN_LOG,
  TP_EXPR_FN_LOG2,
  TP_EXPR_FN_LOG10,
  TP_EXPR_FN_POW,
  TP_EXPR_FN_SIN,
  TP_EXPR_FN_COS,
  TP_EXPR_FN_TAN,
  TP_EXPR_FN_ASIN,
  TP_EXPR_FN_ACOS,
  TP_EXPR_FN_ATAN,
  TP_EXPR_FN_ATAN2,
  TP_EXPR_FN_SINH,
  TP_EXPR_FN_COSH,
  TP_EXPR_FN_TANH,
  TP_EXPR_FN_COUNT
} tp_expr_fn;

typedef struct tp_expr_function {
  const char *name;
  int nargs;
  int integer_kept;      /* 1: all-integer arguments give an integer (abs, min,
                            max, floor, ceil, trunc, round) */
  const char *exactness; /* for the docs and messages */
} tp_expr_function;

/* The table, ended by a NULL name; and the number of `name` or -1. */
extern const tp_expr_function tp_expr_functions[];
int tp_expr_function_find(const char *name, size_t length);
/* "abs, min, ..., tanh" (static). */
const char *tp_expr_function_list(void);

/* ---- host evaluation */

/* One value of the language. */
typedef struct tp_expr_value {
  tp_expr_type type;
  int64_t i;
  double d;
} tp_expr_value;

/* The value at the global multi-index `index` (e->ndim entries). */
tp_expr_value tp_expression_value(const tp_expression *e, const int64_t *index);

/* Fills `tile` of a tensor of `layout` (row-major within the tile) at `dst`
 * with the expression's values, converted to the layout's dtype as the
 * device kernels convert them. Arguments already checked. */
tp_status tp_expression_fill_host(const tp_expression *e,
                                  const tp_layout *layout, const tp_tile *tile,
                                  void *dst);

/* The element bits of `value` stored as `dtype` (the low bytes hold the
 * element; complex types: the real part, imaginary 0). */
uint64_t tp_expression_store_bits(tp_expr_value value, tp_dtype dtype);

#endif
