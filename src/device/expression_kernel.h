/* Internal: the NVRTC side of the expression language: the CUDA source of
 * an expression's fill kernels, generated from the parsed tree
 * (expression_source.c), and the cache of compiled kernels
 * (expression_cache.c). */
#ifndef TP_DEVICE_EXPRESSION_KERNEL_H
#define TP_DEVICE_EXPRESSION_KERNEL_H

#include <stddef.h>

#include "tensor/expression.h"
#include "tensorpool/layout.h"
#include "tensorpool/space.h"
#include "tensorpool/status.h"

/* The kernels of every generated source: the same walk with 32-bit and
 * with 64-bit indices (kernels/fill_walk.h says when each applies). */
#define TP_EXPRESSION_KERNEL_32 "tp_expression_fill32"
#define TP_EXPRESSION_KERNEL_64 "tp_expression_fill64"

/* The CUDA C++ source of the fill kernels of `e` for `dtype`
 * (malloc'ed). Nothing of the user's text is in it: names come from the
 * library's tables, numbers are written as their bits. */
tp_status tp_expression_cuda_source(const tp_expression *e, tp_dtype dtype,
                                    char **out);

/* The two kernels (cudaKernel_t, loaded when `load`) of `e` for `dtype`,
 * from the cache or compiled now for compute capability `arch` (e.g. 90).
 * One compilation per (canonical text, dtype, ndim, arch) whatever the
 * number of threads asking; the compilation runs outside the cache's lock,
 * so lookups of other keys never wait for it. Without `load` only the
 * compilation is ensured and the kernels are NULL. */
tp_status tp_expression_kernels(const char *caller, const tp_expression *e,
                                tp_dtype dtype, int arch, int load,
                                void **kernel32, void **kernel64);

/* What the cache holds for a key: for tests (A4: a cubin for an
 * architecture NVRTC knows, PTX for one it does not). TP_ERR_NOT_FOUND
 * style: TP_ERR_INVALID_ARGUMENT when the key is not cached. *target is
 * the architecture the code was compiled for. */
tp_status tp_expression_cached_binary(const tp_expression *e, tp_dtype dtype,
                                      int arch, int *is_cubin, int *target,
                                      size_t *bytes);

/* Queues the fill of `tile` (of a tensor of `layout`) at `dst` on `device`
 * with the values of `e` (parsed for layout->ndim). Checks the geometry and
 * the destination; TP_ERR_NO_DEVICE without a device. */
tp_status tp_expression_fill_device(const char *caller, int device, void *dst,
                                    const tp_layout *layout,
                                    const tp_tile *tile, const tp_expression *e,
                                    tp_stream stream);

/* For tests: when set, called by the compiling thread with the canonical
 * text just before it runs NVRTC, without holding the cache's lock. */
extern void (*tp_expression_compile_hook)(const char *canonical);

#endif
