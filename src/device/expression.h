/* Internal: user expressions of the indices, compiled with NVRTC. */
#ifndef TP_DEVICE_EXPRESSION_H
#define TP_DEVICE_EXPRESSION_H

#include "tensorpool/layout.h"
#include "tensorpool/status.h"

/* The longest expression accepted, in characters. */
#define TP_EXPRESSION_MAX_LENGTH 16384

/* The name of the kernel in every generated source. */
#define TP_EXPRESSION_KERNEL_NAME "tp_expression_fill"

/* Checks what can be checked without a compiler: not NULL or empty, not too
 * long, a single expression (no ';', '{' or '}'), and no index name i<k>
 * with k >= ndim. TP_ERR_INVALID_ARGUMENT naming `caller` otherwise. */
tp_status tp_expression_check(const char *caller, const char *expression,
                              int ndim);

/* The CUDA C++ source of the fill kernel of `expression` (malloc'ed). */
tp_status tp_expression_source(const char *expression, tp_dtype dtype, int ndim,
                               char **out);

/* The kernel (a cudaKernel_t, loaded when `load`) for the expression, from
 * the cache or compiled now for compute capability `arch` (e.g. 90).
 * Without `load` only the compilation is ensured and *kernel is NULL. */
tp_status tp_expression_kernel(const char *caller, const char *expression,
                               tp_dtype dtype, int ndim, int arch, int load,
                               void **kernel);

#endif
