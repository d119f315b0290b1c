/* Filling device (or pinned) memory on a stream: constants, generators and
 * index expressions (docs/expressions.md) compiled at run time with NVRTC.
 *
 * Each call queues the work on `stream` of `device` and returns; the values
 * are there once the stream reaches that point (synchronize it before the
 * host reads them). Tiles are stored row-major. Without a device these
 * return TP_ERR_NO_DEVICE (after checking their arguments); expression
 * compilation needs no device.
 *
 * None of them is collective. None waits for work on a stream; the only
 * host blocking is an expression's NVRTC compilation on a cache miss (and
 * loading its module the first time a device runs it). Thread safety: any
 * thread, several at once, except tp_device_expression_cache_clear. */
#ifndef TENSORPOOL_DEVICE_FILL_H
#define TENSORPOOL_DEVICE_FILL_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/generator.h"
#include "tensorpool/layout.h"
#include "tensorpool/space.h"
#include "tensorpool/status.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

/* `count` elements of `dtype` at `dst`, each set to the element at `value`
 * (a host pointer to one element, copied before returning): bit for bit. */
tp_status tp_device_fill_constant(int device, void *dst, tp_dtype dtype,
                                  size_t count, const void *value,
                                  tp_stream stream);

/* The tile `tile` of a tensor of `layout`, at `dst`, with the values of
 * `gen`: the same bits as the host fill (see tensorpool/generator.h). */
tp_status tp_device_fill_generator(int device, void *dst,
                                   const tp_layout *layout, const tp_tile *tile,
                                   const tp_generator *gen, tp_stream stream);

/* The tile `tile` of a tensor of `layout`, at `dst`, with the value of an
 * index expression (docs/expressions.md, tensorpool/expression.h) such as
 * "sin(0.1*i0) + i1" at each element's global indices, converted to the
 * element type as the docs say (complex types: the real part; the
 * imaginary part is 0): the same bits as a host buffer filled with
 * tp_allocator_construct_expression. TP_ERR_INVALID_ARGUMENT, with the
 * column, for text that is not an expression of `layout->ndim` indices,
 * before anything runs. The kernel is compiled with NVRTC on the first call
 * for a (canonical text, dtype, ndim, architecture), blocking the calling
 * thread for the compilation, and cached; later calls only queue it.
 * Thread-safe. */
tp_status tp_device_fill_expression(int device, void *dst,
                                    const tp_layout *layout,
                                    const tp_tile *tile, const char *expression,
                                    tp_stream stream);

/* Parses `expression` for `ndim` indices and compiles (or finds in the
 * cache) its kernel for `dtype`, for the current device's architecture or,
 * with no device, for sm_90: a cubin (PTX only for an architecture newer
 * than NVRTC knows). Needs NVRTC but no GPU: a way to check and compile an
 * expression early. Blocks for the compilation; thread-safe (one
 * compilation per key; other keys do not wait for it). In a build without
 * CUDA (no NVRTC): TP_ERR_NOT_SUPPORTED, after the argument checks. */
tp_status tp_device_expression_compile(const char *expression, tp_dtype dtype,
                                       int ndim);

/* Versioned output: initialize with TP_EXPRESSION_CACHE_STATS_INIT. */
typedef struct tp_expression_cache_stats {
  size_t struct_size;
  uint64_t compiles; /* NVRTC compilations run (successful or not) */
  uint64_t failures; /* of which did not compile */
  uint64_t hits;     /* requests served from the cache */
  size_t entries;    /* compiled kernels kept */
} tp_expression_cache_stats;

#define TP_EXPRESSION_CACHE_STATS_INIT                                         \
  { .struct_size = sizeof(tp_expression_cache_stats) }

/* The cache's counters, read under its lock: any thread, never blocks. */
tp_status tp_device_expression_cache_stats(tp_expression_cache_stats *out);
/* Forgets every cached kernel (unloading those that were loaded). Call it
 * only when no fill is being queued by another thread, and synchronize the
 * streams that ran cached kernels first (CUDA does not document that
 * unloading waits for launches in flight). Blocks while unloading. */
tp_status tp_device_expression_cache_clear(void);

TP_END_DECLS

#endif
