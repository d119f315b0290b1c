/* The CUDA source of an expression's fill kernels, generated from the
 * parsed tree only: the library's own prelude and math (the same code the
 * host evaluator runs, src/tensor/expression_math.h), one line per node of
 * the tree (a constant per literal, written as its bits; an index; a call
 * of a function of the table), and the walk of kernels/fill_walk.h
 * unrolled for the expression's number of axes. No text of the user's
 * reaches the compiler, so no directive, digraph, identifier of the kernel
 * or file name can. Compiled in every build (no CUDA needed to generate). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "device/expression_kernel.h"
#include "fill_walk.h"
#include "tensor/expression_math.h"

typedef struct text {
  char *data;
  size_t length, capacity;
  int failed;
} text;

static void emit(text *t, const char *format, ...) {
  if (t->failed)
    return;
  for (;;) {
    va_list args;
    va_start(args, format);
    /* No buffer yet: measure only (NULL + 0 is undefined in C). */
    char *at = t->data ? t->data + t->length : NULL;
    int n = vsnprintf(at, t->capacity - t->length, format, args);
    va_end(args);
    if (n < 0) {
      t->failed = 1;
      return;
    }
    if ((size_t)n < t->capacity - t->length) {
      t->length += (size_t)n;
      return;
    }
    size_t capacity = 2 * t->capacity + (size_t)n + 1;
    char *grown = realloc(t->data, capacity);
    if (!grown) {
      t->failed = 1;
      return;
    }
    t->data = grown;
    t->capacity = capacity;
  }
}

/* The library function a call becomes (integer variants for the functions
 * that keep integers). */
static const char *function_symbol(const tp_expr_node *n) {
  if (n->type == TP_EXPR_INT) {
    switch ((tp_expr_fn)n->fn) {
    case TP_EXPR_FN_ABS: return "tp_xm_iabs";
    case TP_EXPR_FN_MIN: return "tp_xm_imin";
    case TP_EXPR_FN_MAX: return "tp_xm_imax";
    default: return ""; /* floor, ceil, trunc, round of an integer */
    }
  }
  switch ((tp_expr_fn)n->fn) {
  case TP_EXPR_FN_ABS: return "tp_xm_fabs";
  case TP_EXPR_FN_MIN: return "tp_xm_min";
  case TP_EXPR_FN_MAX: return "tp_xm_max";
  case TP_EXPR_FN_FLOOR: return "tp_xm_floor";
  case TP_EXPR_FN_CEIL: return "tp_xm_ceil";
  case TP_EXPR_FN_TRUNC: return "tp_xm_trunc";
  case TP_EXPR_FN_ROUND: return "tp_xm_round";
  case TP_EXPR_FN_SQRT: return "tp_xm_sqrt";
  case TP_EXPR_FN_FMA: return "tp_xm_fma";
  case TP_EXPR_FN_FMOD: return "tp_xm_fmod";
  case TP_EXPR_FN_EXP: return "tp_xm_exp";
  case TP_EXPR_FN_EXP2: return "tp_xm_exp2";
  case TP_EXPR_FN_EXPM1: return "tp_xm_expm1";
  case TP_EXPR_FN_LOG: return "tp_xm_log";
  case TP_EXPR_FN_LOG2: return "tp_xm_log2";
  case TP_EXPR_FN_LOG10: return "tp_xm_log10";
  case TP_EXPR_FN_POW: return "tp_xm_pow";
  case TP_EXPR_FN_SIN: return "tp_xm_sin";
  case TP_EXPR_FN_COS: return "tp_xm_cos";
  case TP_EXPR_FN_TAN: return "tp_xm_tan";
  case TP_EXPR_FN_ASIN: return "tp_xm_asin";
  case TP_EXPR_FN_ACOS: return "tp_xm_acos";
  case TP_EXPR_FN_ATAN: return "tp_xm_atan";
  case TP_EXPR_FN_ATAN2: return "tp_xm_atan2";
  case TP_EXPR_FN_SINH: return "tp_xm_sinh";
  case TP_EXPR_FN_COSH: return "tp_xm_cosh";
  case TP_EXPR_FN_TANH: return "tp_xm_tanh";
  case TP_EXPR_FN_COUNT: break;
  }
  return "";
}

static const char *binary_symbol(tp_expr_op op, int real) {
  switch (op) {
  case TP_EXPR_ADD: return real ? "+" : "tp_xm_iadd";
  case TP_EXPR_SUB: return real ? "-" : "tp_xm_isub";
  case TP_EXPR_MUL: return real ? "*" : "tp_xm_imul";
  case TP_EXPR_DIV: return real ? "/" : "tp_xm_idiv";
  case TP_EXPR_MOD: return real ? "tp_xm_fmod" : "tp_xm_imod";
  case TP_EXPR_LT: return "<";
  case TP_EXPR_LE: return "<=";
  case TP_EXPR_GT: return ">";
  case TP_EXPR_GE: return ">=";
  case TP_EXPR_EQ: return "==";
  case TP_EXPR_NE: return "!=";
  case TP_EXPR_AND: return "&&";
  case TP_EXPR_OR: return "||";
  default: return "";
  }
}

/* "(vK != 0)" for an integer node, "(vK != 0.0)" for a real one. */
static void emit_truth(text *t, const tp_expression *e, int k) {
  emit(t, "(v%d != %s)", k,
       e->nodes[k].type == TP_EXPR_INT ? "(int64_t)0" : "0.0");
}

/* One line per node: the value of node k is vK. */
static void emit_nodes(text *t, const tp_expression *e) {
  for (int k = 0; k < e->count; ++k) {
    const tp_expr_node *n = &e->nodes[k];
    int real = n->type == TP_EXPR_REAL;
    int a = n->arg[0], b = n->arg[1], c = n->arg[2];
    emit(t, "  const %s v%d = ", real ? "double" : "int64_t", k);
    switch ((tp_expr_op)n->op) {
    case TP_EXPR_LITERAL:
      if (real)
        emit(t, "tp_double_of(0x%016llxull)",
             (unsigned long long)tp_bits_of(n->v.d));
      else
        emit(t, "(int64_t)0x%016llxull", (unsigned long long)n->v.i);
      break;
    case TP_EXPR_INDEX: emit(t, "i[%d]", n->v.k); break;
    case TP_EXPR_TO_REAL: emit(t, "tp_xm_real(v%d)", a); break;
    case TP_EXPR_NEG: emit(t, real ? "-v%d" : "tp_xm_ineg(v%d)", a); break;
    case TP_EXPR_NOT:
      emit(t, "(int64_t)!");
      emit_truth(t, e, a);
      break;
    case TP_EXPR_AND:
    case TP_EXPR_OR:
      emit(t, "(int64_t)(");
      emit_truth(t, e, a);
      emit(t, " %s ", binary_symbol((tp_expr_op)n->op, 0));
      emit_truth(t, e, b);
      emit(t, ")");
      break;
    case TP_EXPR_LT:
    case TP_EXPR_LE:
    case TP_EXPR_GT:
    case TP_EXPR_GE:
    case TP_EXPR_EQ:
    case TP_EXPR_NE:
      emit(t, "(int64_t)(v%d %s v%d)", a, binary_symbol((tp_expr_op)n->op, 0),
           b);
      break;
    case TP_EXPR_ADD:
    case TP_EXPR_SUB:
    case TP_EXPR_MUL:
    case TP_EXPR_DIV:
    case TP_EXPR_MOD: {
      const char *s = binary_symbol((tp_expr_op)n->op, real);
      if (s[0] == 't')
        emit(t, "%s(v%d, v%d)", s, a, b);
      else
        emit(t, "v%d %s v%d", a, s, b);
      break;
    }
    case TP_EXPR_COND:
      emit_truth(t, e, a);
      emit(t, " ? v%d : v%d", b, c);
      break;
    case TP_EXPR_CALL:
      emit(t, "%s(", function_symbol(n));
      for (int j = 0; j < n->nargs; ++j)
        emit(t, j ? ", v%d" : "v%d", n->arg[j]);
      emit(t, ")");
      break;
    }
    emit(t, ";\n");
  }
}

/* The element type's width as the kernels store it. */
static const char *store_type(tp_dtype dtype) {
  switch (tp_dtype_size(dtype)) {
  case 1: return "uint8_t";
  case 2: return "uint16_t";
  case 4: return "uint32_t";
  default: return "uint64_t"; /* 8, and 16 as two words */
  }
}

/* The walk (kernels/fill_walk.h) for TP_NDIM axes, known here. */
static const char walk_source[] =
    "template <typename I>\n"
    "static __device__ __forceinline__ void tp_walk(TP_STORE_T *dst,\n"
    "                                               const tp_fill_walk &w) {\n"
    "  const I count = (I)w.count, threads = (I)w.threads;\n"
    "  I local = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x;\n"
    "  if (local >= count) return;\n"
    "  I idx[TP_NDIM + 1], rest = local;\n"
    "#pragma unroll\n"
    "  for (int k = TP_NDIM - 1; k >= 1; --k) {\n"
    "    I e = (I)w.extent[k];\n"
    "    idx[k] = (I)w.begin[k] + rest % e;\n"
    "    rest /= e;\n"
    "  }\n"
    "  idx[0] = (I)w.begin[0] + rest;\n"
    "  for (;;) {\n"
    "    int64_t i[TP_NDIM + 1];\n"
    "#pragma unroll\n"
    "    for (int k = 0; k < TP_NDIM; ++k) i[k] = (int64_t)idx[k];\n"
    "    uint64_t bits = tp_expression_element(i);\n"
    "    TP_STORE(dst, local, bits);\n"
    "    local += threads;\n"
    "    if (local >= count) break;\n"
    "    I carry = 0;\n"
    "#pragma unroll\n"
    "    for (int k = TP_NDIM - 1; k >= 1; --k) {\n"
    "      idx[k] += (I)w.step[k] + carry;\n"
    "      carry = idx[k] >= (I)w.end[k];\n"
    "      if (carry) idx[k] -= (I)w.extent[k];\n"
    "    }\n"
    "    idx[0] += (I)w.step[0] + carry;\n"
    "  }\n"
    "}\n"
    "extern \"C\" __global__ void __launch_bounds__(256)\n"
    "    " TP_EXPRESSION_KERNEL_32 "(TP_STORE_T *dst, tp_fill_walk w) {\n"
    "  tp_walk<uint32_t>(dst, w);\n"
    "}\n"
    "extern \"C\" __global__ void __launch_bounds__(256)\n"
    "    " TP_EXPRESSION_KERNEL_64 "(TP_STORE_T *dst, tp_fill_walk w) {\n"
    "  tp_walk<uint64_t>(dst, w);\n"
    "}\n";

tp_status tp_expression_cuda_source(const tp_expression *e, tp_dtype dtype,
                                    char **out) {
  if (tp_dtype_size(dtype) == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_expression_cuda_source: unknown dtype %d", (int)dtype);
  text t = {NULL, 0, 0, 0};
  emit(&t, "%s", TP_PORTABLE_NVRTC_PRELUDE);
  emit(&t, "%s\n", TP_HALF_FLOAT_TEXT);
  emit(&t, "%s\n", TP_EXPRESSION_MATH_TEXT);
  emit(&t, "%s\n", TP_FILL_WALK_TEXT);
  emit(&t, "#define TP_NDIM %d\n", e->ndim);
  emit(&t, "#define TP_DTYPE %d\n", (int)dtype);
  emit(&t, "#define TP_STORE_T %s\n", store_type(dtype));
  /* 16-byte elements (c128): the real part's bits, then a zero word. */
  if (tp_dtype_size(dtype) == 16)
    emit(&t, "#define TP_STORE(d, j, b) ((d)[2 * (uint64_t)(j)] = (b), "
             "(d)[2 * (uint64_t)(j) + 1] = 0)\n");
  else
    emit(&t, "#define TP_STORE(d, j, b) ((d)[j] = (TP_STORE_T)(b))\n");
  emit(&t,
       "/* The expression %s, one line per node. */\n"
       "static __device__ __forceinline__ uint64_t\n"
       "tp_expression_element(const int64_t *i) {\n"
       "  (void)i;\n",
       e->ndim > 0 ? "of the indices i[0..]" : "");
  emit_nodes(&t, e);
  emit(&t, "  return tp_xm_store_%s(v%d, TP_DTYPE);\n}\n",
       e->nodes[e->count - 1].type == TP_EXPR_INT ? "int" : "real",
       e->count - 1);
  emit(&t, "%s", walk_source);
  if (t.failed) {
    free(t.data);
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "tp_expression_cuda_source: no host memory for the source");
  }
  *out = t.data;
  return TP_SUCCESS;
}
