/* Index expressions: tensors filled with a formula of the element's global
 * indices, e.g. "sin(0.1*i0) + i1" or "i0 == i1 ? 1 : 0". The language
 * (docs/expressions.md) has numbers, the indices i0 .. i<ndim-1>, pi, the
 * arithmetic, comparison, logical and conditional operators of C, and a
 * fixed list of math functions; nothing else is accepted. Every backend
 * evaluates the same parsed expression with the same operations: host,
 * pinned and device buffers get the same bits (the functions and their
 * accuracy are listed in the docs). Expressions are data: any text is safe
 * to pass; what is not an expression is refused with a message that names
 * the column. */
#ifndef TENSORPOOL_EXPRESSION_H
#define TENSORPOOL_EXPRESSION_H

#include "tensorpool/buffer.h"
#include "tensorpool/export.h"
#include "tensorpool/layout.h"
#include "tensorpool/runtime.h"

TP_BEGIN_DECLS

/* Whether `expression` is an expression of a tensor with `ndim`
 * dimensions: TP_SUCCESS, or TP_ERR_INVALID_ARGUMENT with the reason and
 * the column (unknown character or name, an index i<k> with k >= ndim,
 * more than 4096 characters, 1024 tokens or 64 nested levels, ...). Parses
 * only: needs no compiler and no device. No stream, not collective;
 * thread-safe, never blocks. */
tp_status tp_expression_check(const char *expression, int ndim);

/* A new tensor whose every element is `expression` at its global
 * multi-index (as tp_allocator_construct_generator, with a formula),
 * converted to the layout's dtype as docs/expressions.md says (complex
 * types: the real part, imaginary 0). The expression is checked before
 * anything is allocated. Host buffers are filled by the calling thread
 * before returning; device and pinned buffers by a kernel compiled with
 * NVRTC on first use (cached per expression, dtype, ndim and
 * architecture; the first call for a key blocks the host for the
 * compilation) and queued on `stream`; a pool that grows may block as for
 * every verb (tensorpool/allocator.h). Not collective: each rank fills its
 * own tile. Thread-safe. */
tp_status tp_allocator_construct_expression(tp_allocator *allocator,
                                            const tp_layout *layout,
                                            const tp_tiling *tiling,
                                            const char *expression,
                                            tp_stream stream, tp_buffer **out);

TP_END_DECLS

#endif
