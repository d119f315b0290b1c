/* The CUDA C++ source of an expression's fill kernel. Its geometry struct
 * has the layout of tp_fill_geometry (kernels/fill_geometry.h); every name
 * of its own starts with tp_ so that it cannot clash with the user's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "device/expression.h"

/* The source up to the element type of the output pointer, then the rest of
 * the head (not printf formats: the text holds '%'). */
static const char source_top[] =
    "struct tp_fill_geometry {\n"
    "  int ndim;\n"
    "  long long offsets[8];\n"
    "  long long extents[8];\n"
    "  long long strides[8];\n"
    "};\n"
    "struct tp_c64 { float re, im; };\n"
    "struct tp_c128 { double re, im; };\n"
    "extern \"C\" __global__ void " TP_EXPRESSION_KERNEL_NAME "(";
static const char source_head[] =
    " *tp_dst, unsigned long long tp_count,\n"
    "    tp_fill_geometry tp_g) {\n"
    "  unsigned long long tp_stride =\n"
    "      (unsigned long long)gridDim.x * blockDim.x;\n"
    "  for (unsigned long long tp_local =\n"
    "           (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;\n"
    "       tp_local < tp_count; tp_local += tp_stride) {\n"
    "    long long tp_index[8] = {0, 0, 0, 0, 0, 0, 0, 0};\n"
    "    unsigned long long tp_rest = tp_local;\n"
    "    for (int tp_k = tp_g.ndim - 1; tp_k >= 0; --tp_k) {\n"
    "      unsigned long long tp_e = (unsigned long long)tp_g.extents[tp_k];\n"
    "      tp_index[tp_k] = tp_g.offsets[tp_k] + (long long)(tp_rest % tp_e);\n"
    "      tp_rest /= tp_e;\n"
    "    }\n";

/* The element type in the kernel and how one value is stored. */
static const char *element_type(tp_dtype dtype) {
  switch (dtype) {
  case TP_DTYPE_F32: return "float";
  case TP_DTYPE_F64: return "double";
  case TP_DTYPE_C64: return "tp_c64";
  case TP_DTYPE_C128: return "tp_c128";
  case TP_DTYPE_I32: return "int";
  case TP_DTYPE_I64: return "long long";
  default: break; /* the newer types: see the expression language */
  }
  return NULL;
}

static const char *store_format(tp_dtype dtype) {
  /* The expression goes on lines of its own, so that a // comment in it
   * cannot swallow the code after it. */
  switch (dtype) {
  case TP_DTYPE_C64:
    return "    tp_dst[tp_local].re = (float)(\n%s\n);\n"
           "    tp_dst[tp_local].im = 0.0f;\n";
  case TP_DTYPE_C128:
    return "    tp_dst[tp_local].re = (double)(\n%s\n);\n"
           "    tp_dst[tp_local].im = 0.0;\n";
  default: return "    tp_dst[tp_local] = (%s)(\n%s\n);\n";
  }
}

tp_status tp_expression_source(const char *expression, tp_dtype dtype, int ndim,
                               char **out) {
  const char *type = element_type(dtype);
  if (!type)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_expression_source: unknown dtype %d", (int)dtype);
  size_t capacity = sizeof source_top + sizeof source_head +
                    strlen(expression) + 512 + 64 * TP_MAX_NDIM;
  char *text = malloc(capacity);
  if (!text)
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "tp_expression_source: no host memory for %zu bytes",
                   capacity);
  size_t used =
      (size_t)snprintf(text, capacity, "%s%s%s", source_top, type, source_head);
  for (int k = 0; k < ndim; ++k)
    used += (size_t)snprintf(text + used, capacity - used,
                             "    const long long i%d = tp_index[%d];\n"
                             "    (void)i%d;\n",
                             k, k, k);
  if (dtype == TP_DTYPE_C64 || dtype == TP_DTYPE_C128)
    used += (size_t)snprintf(text + used, capacity - used, store_format(dtype),
                             expression);
  else
    used += (size_t)snprintf(text + used, capacity - used, store_format(dtype),
                             type, expression);
  snprintf(text + used, capacity - used, "  }\n}\n");
  *out = text;
  return TP_SUCCESS;
}
