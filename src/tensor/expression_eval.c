/* Host evaluation of a parsed expression: the node array in order, every
 * node once (both branches of ?: and of && || are evaluated, as on the
 * device: nothing in the language has a side effect, and every operation is
 * defined for every operand), with the functions of expression_math.h that
 * the NVRTC kernels call too. So the host and the device store the same
 * bits. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tensor/expression.h"
#include "tensor/expression_math.h"

/* The values of the nodes, as integers and reals side by side. */
typedef struct slot {
  int64_t i;
  double d;
} slot;

static int truth(const tp_expr_node *n, const slot *v) {
  return n->type == TP_EXPR_INT ? v->i != 0 : v->d != 0.0;
}

static double call_real(tp_expr_fn fn, const slot *a, const slot *b,
                        const slot *c) {
  double x = a->d;
  switch (fn) {
  case TP_EXPR_FN_ABS: return tp_xm_fabs(x);
  case TP_EXPR_FN_MIN: return tp_xm_min(x, b->d);
  case TP_EXPR_FN_MAX: return tp_xm_max(x, b->d);
  case TP_EXPR_FN_FLOOR: return tp_xm_floor(x);
  case TP_EXPR_FN_CEIL: return tp_xm_ceil(x);
  case TP_EXPR_FN_TRUNC: return tp_xm_trunc(x);
  case TP_EXPR_FN_ROUND: return tp_xm_round(x);
  case TP_EXPR_FN_SQRT: return tp_xm_sqrt(x);
  case TP_EXPR_FN_FMA: return tp_xm_fma(x, b->d, c->d);
  case TP_EXPR_FN_FMOD: return tp_xm_fmod(x, b->d);
  case TP_EXPR_FN_EXP: return tp_xm_exp(x);
  case TP_EXPR_FN_EXP2: return tp_xm_exp2(x);
  case TP_EXPR_FN_EXPM1: return tp_xm_expm1(x);
  case TP_EXPR_FN_LOG: return tp_xm_log(x);
  case TP_EXPR_FN_LOG2: return tp_xm_log2(x);
  case TP_EXPR_FN_LOG10: return tp_xm_log10(x);
  case TP_EXPR_FN_POW: return tp_xm_pow(x, b->d);
  case TP_EXPR_FN_SIN: return tp_xm_sin(x);
  case TP_EXPR_FN_COS: return tp_xm_cos(x);
  case TP_EXPR_FN_TAN: return tp_xm_tan(x);
  case TP_EXPR_FN_ASIN: return tp_xm_asin(x);
  case TP_EXPR_FN_ACOS: return tp_xm_acos(x);
  case TP_EXPR_FN_ATAN: return tp_xm_atan(x);
  case TP_EXPR_FN_ATAN2: return tp_xm_atan2(x, b->d);
  case TP_EXPR_FN_SINH: return tp_xm_sinh(x);
  case TP_EXPR_FN_COSH: return tp_xm_cosh(x);
  case TP_EXPR_FN_TANH: return tp_xm_tanh(x);
  case TP_EXPR_FN_COUNT: break;
  }
  return tp_xm_nan();
}

/* The functions that keep integers: abs, min, max, and the roundings
 * (the identity on integers). */
static int64_t call_int(tp_expr_fn fn, const slot *a, const slot *b) {
  switch (fn) {
  case TP_EXPR_FN_ABS: return tp_xm_iabs(a->i);
  case TP_EXPR_FN_MIN: return tp_xm_imin(a->i, b->i);
  case TP_EXPR_FN_MAX: return tp_xm_imax(a->i, b->i);
  default: return a->i;
  }
}

static void evaluate(const tp_expression *e, const int64_t *index, slot *v) {
  for (int k = 0; k < e->count; ++k) {
    const tp_expr_node *n = &e->nodes[k];
    const slot *a = n->arg[0] >= 0 ? &v[n->arg[0]] : NULL;
    const slot *b = n->arg[1] >= 0 ? &v[n->arg[1]] : NULL;
    const slot *c = n->arg[2] >= 0 ? &v[n->arg[2]] : NULL;
    int real = n->type == TP_EXPR_REAL;
    slot r = {0, 0.0};
    switch ((tp_expr_op)n->op) {
    case TP_EXPR_LITERAL:
      r = real ? (slot){0, n->v.d} : (slot){n->v.i, 0.0};
      break;
    case TP_EXPR_INDEX: r.i = index[n->v.k]; break;
    case TP_EXPR_TO_REAL: r.d = tp_xm_real(a->i); break;
    case TP_EXPR_NEG:
      if (real)
        r.d = -a->d;
      else
        r.i = tp_xm_ineg(a->i);
      break;
    case TP_EXPR_NOT: r.i = !truth(&e->nodes[n->arg[0]], a); break;
    case TP_EXPR_ADD:
      if (real)
        r.d = a->d + b->d;
      else
        r.i = tp_xm_iadd(a->i, b->i);
      break;
    case TP_EXPR_SUB:
      if (real)
        r.d = a->d - b->d;
      else
        r.i = tp_xm_isub(a->i, b->i);
      break;
    case TP_EXPR_MUL:
      if (real)
        r.d = a->d * b->d;
      else
        r.i = tp_xm_imul(a->i, b->i);
      break;
    case TP_EXPR_DIV:
      if (real)
        r.d = a->d / b->d;
      else
        r.i = tp_xm_idiv(a->i, b->i);
      break;
    case TP_EXPR_MOD:
      if (real)
        r.d = tp_xm_fmod(a->d, b->d);
      else
        r.i = tp_xm_imod(a->i, b->i);
      break;
      /* Comparisons: the operands have one type (the parser converted). */
#define COMPARE(OP)                                                            \
  r.i = e->nodes[n->arg[0]].type == TP_EXPR_REAL ? a->d OP b->d : a->i OP b->i
    case TP_EXPR_LT: COMPARE(<); break;
    case TP_EXPR_LE: COMPARE(<=); break;
    case TP_EXPR_GT: COMPARE(>); break;
    case TP_EXPR_GE: COMPARE(>=); break;
    case TP_EXPR_EQ: COMPARE(==); break;
    case TP_EXPR_NE: COMPARE(!=); break;
#undef COMPARE
    case TP_EXPR_AND:
      r.i = truth(&e->nodes[n->arg[0]], a) && truth(&e->nodes[n->arg[1]], b);
      break;
    case TP_EXPR_OR:
      r.i = truth(&e->nodes[n->arg[0]], a) || truth(&e->nodes[n->arg[1]], b);
      break;
    case TP_EXPR_COND: r = truth(&e->nodes[n->arg[0]], a) ? *b : *c; break;
    case TP_EXPR_CALL:
      if (real)
        r.d = call_real((tp_expr_fn)n->fn, a, b, c);
      else
        r.i = call_int((tp_expr_fn)n->fn, a, b);
      break;
    }
    v[k] = r;
  }
}

tp_expr_value tp_expression_value(const tp_expression *e,
                                  const int64_t *index) {
  slot local[64];
  slot *v = e->count <= 64 ? local : malloc((size_t)e->count * sizeof *v);
  tp_expr_value out = {(tp_expr_type)e->nodes[e->count - 1].type, 0, 0.0};
  if (!v) {
    out.type = TP_EXPR_REAL;
    out.d = tp_xm_nan();
    return out;
  }
  evaluate(e, index, v);
  out.i = v[e->count - 1].i;
  out.d = v[e->count - 1].d;
  if (v != local)
    free(v);
  return out;
}

uint64_t tp_expression_store_bits(tp_expr_value value, tp_dtype dtype) {
  return value.type == TP_EXPR_INT ? tp_xm_store_int(value.i, (int)dtype)
                                   : tp_xm_store_real(value.d, (int)dtype);
}

/* Writes the low `size` bytes of `bits` as one element (complex: the real
 * part, then a zero imaginary part), independent of the host's byte order. */
static void store(unsigned char *dst, tp_dtype dtype, uint64_t bits) {
  switch (dtype) {
  case TP_DTYPE_F32:
  case TP_DTYPE_I32: {
    uint32_t w = (uint32_t)bits;
    memcpy(dst, &w, sizeof w);
    return;
  }
  case TP_DTYPE_C64: {
    uint32_t w[2] = {(uint32_t)bits, 0};
    memcpy(dst, w, sizeof w);
    return;
  }
  case TP_DTYPE_C128: {
    uint64_t w[2] = {bits, 0};
    memcpy(dst, w, sizeof w);
    return;
  }
  case TP_DTYPE_F64:
  case TP_DTYPE_I64: memcpy(dst, &bits, sizeof bits); return;
  case TP_DTYPE_F16:
  case TP_DTYPE_BF16: {
    uint16_t w = (uint16_t)bits;
    memcpy(dst, &w, sizeof w);
    return;
  }
  case TP_DTYPE_I8:
  case TP_DTYPE_U8:
  case TP_DTYPE_BOOL: *dst = (unsigned char)bits; return;
  }
}

tp_status tp_expression_fill_host(const tp_expression *e,
                                  const tp_layout *layout, const tp_tile *tile,
                                  void *dst) {
  if (tile->count == 0)
    return TP_SUCCESS;
  slot *v = malloc((size_t)e->count * sizeof *v);
  if (!v)
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "tp_expression_fill_host: no memory for %d values",
                   e->count);
  size_t size = tp_dtype_size(layout->dtype);
  int ndim = layout->ndim;
  int64_t index[TP_MAX_NDIM];
  for (int k = 0; k < ndim; ++k)
    index[k] = tile->offsets[k];
  unsigned char *d = dst;
  const tp_expr_node *root = &e->nodes[e->count - 1];
  for (size_t i = 0; i < tile->count; ++i) {
    evaluate(e, index, v);
    const slot *r = &v[e->count - 1];
    uint64_t bits = root->type == TP_EXPR_INT
                        ? tp_xm_store_int(r->i, (int)layout->dtype)
                        : tp_xm_store_real(r->d, (int)layout->dtype);
    store(d + i * size, layout->dtype, bits);
    /* The next multi-index, as an odometer within the tile. */
    for (int k = ndim - 1; k >= 0; --k) {
      if (++index[k] < tile->offsets[k] + tile->extents[k])
        break;
      index[k] = tile->offsets[k];
    }
  }
  free(v);
  return TP_SUCCESS;
}
