/* Operations on buffers whose results are allocated through the allocator
 * of their operands (propagation).
 *
 * Operands from different allocators: the result's allocator is the one of
 * the operand in the fastest space, device over pinned over host, and of the
 * first operand (x) when they are in the same kind of space; the other
 * operand is copied into that space first. Why: the data should move toward
 * where the arithmetic is cheapest, and moving the operand that is already
 * on the device off it costs a transfer each time; ties go to the first
 * operand so that the caller picks by the order of the arguments. The
 * result's buffer kind is x's (both operands must have the same kind). */
#ifndef TENSORPOOL_OPS_H
#define TENSORPOOL_OPS_H

#include "tensorpool/allocator.h"
#include "tensorpool/buffer.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

/* A copy of `buffer` from its own allocator, same kind, tiling and space.
 * Streams and host blocking as tp_allocator_construct_copy: the copy goes
 * on `stream` after the buffer's stream (an event), and is recorded as a
 * use of `buffer`. Collective: no, whatever the kind: each rank copies its
 * own tile, so one rank may clone alone and ranks may clone buffers that
 * differ. Any thread; `buffer` may be read by others meanwhile. */
tp_status tp_buffer_clone(const tp_buffer *buffer, tp_stream stream,
                          tp_buffer **out);

/* out = alpha * x + beta * y elementwise. x and y must have the same layout,
 * kind and (distributed) tiling and come from the same runtime:
 * TP_ERR_MISMATCH otherwise. alpha and beta are first converted to the
 * element type as tp_scalar_store says (so an f32 alpha is rounded to
 * float); then f32 and c64 compute in float, f64 and c128 in double, each
 * product rounded before the sum (no fused multiply-add), and the newer
 * types as tensorpool/layout.h says (f16 and bf16 in double, rounded
 * once). Integers wrap modulo 2^bits.
 * Streams: the work (and the copy of an operand from another space) goes on
 * `stream`, after both x's and y's streams (events, no host wait); it is
 * recorded as a use of x and of y, and `stream` is the result's stream.
 * Host backends compute on the calling thread; device ones queue kernels
 * (wait for `stream` before reading the result on the host); a pool that
 * grows may block as for every verb (tensorpool/allocator.h). Collective:
 * no (each rank computes its own tile). Any thread; x and y may be
 * read by others meanwhile. */
tp_status tp_axpby(tp_scalar alpha, const tp_buffer *x, tp_scalar beta,
                   const tp_buffer *y, tp_stream stream, tp_buffer **out);

/* The allocator the result of an operation on x and y comes from (the rule
 * above). No stream, collective: no, never blocks; any thread. */
tp_status tp_result_allocator(const tp_buffer *x, const tp_buffer *y,
                              tp_allocator **out);

TP_END_DECLS

#endif
