/* Construction from another buffer: conversions between kinds (through the
 * backend's collectives) and between spaces (through the backend's copy),
 * and the move that reuses storage when it can.
 *
 * Tiles are contiguous ranges of the row-major tensor (tilings split axis
 * 0), so a gather is an all-gather of byte ranges in place and a
 * redistribution an all-to-all of overlapping row ranges, with no packing. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "dist/dist.h"
#include "dist/rank_scratch.h"
#include "runtime/runtime_internal.h"
#include "tensor/buffer_internal.h"
#include "tensor/convert_internal.h"
#include "tensor/tiling_internal.h"

static tp_backend *backend_of(const tp_buffer *b) {
  return tp_allocator_backend_of(b->allocator);
}

/* Copies between two backends' memory: a non-host backend knows both its
 * own space and host memory; two host backends are plain memory. */
static tp_status copy_between(tp_backend *dst_backend, void *dst,
                              tp_backend *src_backend, const void *src,
                              size_t bytes, tp_stream stream) {
  tp_backend *mover =
      dst_backend->kind != TP_SPACE_HOST ? dst_backend : src_backend;
  return mover->ops->copy(mover, dst, src, bytes, stream);
}

/* Byte counts and displacements of every rank's source tile in the gathered
 * tensor, straight from the tiling's row boundaries (a tile is a range of
 * whole rows). A local source is rank 0's tensor: rank 0 sends it all. */
static void gather_layout(const tp_buffer *src, int ranks, size_t *counts,
                          size_t *displs) {
  if (src->kind != TP_BUFFER_DISTRIBUTED) {
    for (int r = 0; r < ranks; ++r)
      counts[r] = displs[r] = 0;
    counts[0] = src->bytes;
    return;
  }
  size_t row =
      tp_layout_row_size(&src->layout) * tp_dtype_size(src->layout.dtype);
  const int64_t *first = src->tiling->first;
  for (int r = 0; r < ranks; ++r) {
    counts[r] = (size_t)(first[r + 1] - first[r]) * row;
    displs[r] = (size_t)first[r] * row;
  }
}

static tp_status gather(tp_buffer *dst, const tp_buffer *src,
                        tp_stream stream) {
  tp_runtime *rt = dst->allocator->runtime;
  tp_backend *db = backend_of(dst);
  tp_rank_scratch scratch;
  tp_rank_scratch_init(&scratch);
  size_t *counts =
      tp_rank_scratch_get(&scratch, 2 * (size_t)rt->size * sizeof *counts);
  if (!counts)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "gather: no memory for counts");
  size_t *displs = counts + rt->size;
  gather_layout(src, rt->size, counts, displs);
  /* The collective reads its send side from its own space. A source there
   * already goes in as it is and the collective puts it in place (no pass
   * over it here); a tile in another space is first copied to its place in
   * the result, and the collective runs in place. */
  const void *send = src->data;
  tp_status st = TP_SUCCESS;
  if (backend_of(src) != db && counts[rt->rank]) {
    char *mine = (char *)dst->data + displs[rt->rank];
    st = copy_between(db, mine, backend_of(src), src->data, counts[rt->rank],
                      stream);
    send = mine;
  }
  if (st == TP_SUCCESS && dst->bytes)
    st = db->ops->allgatherv(db, send, dst->data, counts, displs, stream);
  tp_rank_scratch_release(&scratch);
  return st;
}

/* Overlap of rows [a0, a1) and [b0, b1), as a start and a count. */
static int64_t overlap(int64_t a0, int64_t a1, int64_t b0, int64_t b1,
                       int64_t *start) {
  *start = a0 > b0 ? a0 : b0;
  int64_t end = a1 < b1 ? a1 : b1;
  return end > *start ? end - *start : 0;
}

static tp_status redistribute(tp_buffer *dst, const tp_buffer *src,
                              tp_stream stream) {
  tp_runtime *rt = dst->allocator->runtime;
  tp_backend *db = backend_of(dst);
  int p = rt->size, me = rt->rank;
  size_t row =
      tp_layout_row_size(&src->layout) * tp_dtype_size(src->layout.dtype);
  tp_rank_scratch scratch;
  tp_rank_scratch_init(&scratch);
  size_t *plan = tp_rank_scratch_get(&scratch, 4 * (size_t)p * sizeof *plan);
  if (!plan)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "redistribute: no memory for counts");
  size_t *sc = plan, *sd = plan + p, *rc = plan + 2 * p, *rd = plan + 3 * p;
  int64_t s0 = src->tiling->first[me], s1 = src->tiling->first[me + 1];
  int64_t d0 = dst->tiling->first[me], d1 = dst->tiling->first[me + 1];
  for (int r = 0; r < p; ++r) {
    int64_t start;
    int64_t n = overlap(s0, s1, dst->tiling->first[r],
                        dst->tiling->first[r + 1], &start);
    sc[r] = (size_t)n * row;
    sd[r] = n ? (size_t)(start - s0) * row : 0;
    n = overlap(src->tiling->first[r], src->tiling->first[r + 1], d0, d1,
                &start);
    rc[r] = (size_t)n * row;
    rd[r] = n ? (size_t)(start - d0) * row : 0;
  }
  /* The collective needs its send side in its own space. */
  const void *send = src->data;
  void *staged = NULL;
  tp_status st = TP_SUCCESS;
  if (backend_of(src) != db && src->bytes) {
    st = tp_pool_alloc(db->pool, src->bytes, stream, &staged);
    if (st == TP_SUCCESS)
      st = copy_between(db, staged, backend_of(src), src->data, src->bytes,
                        stream);
    send = staged;
  }
  if (st == TP_SUCCESS)
    st = db->ops->alltoallv(db, send, sc, sd, dst->data, rc, rd, stream);
  if (staged)
    /* Freed on the collective's stream: the pool hands it out again only
     * after that work (no record_stream on other streams needed). */
    tp_pool_free_or_record(db->pool, staged, stream, rt, &st);
  tp_rank_scratch_release(&scratch);
  return st;
}

/* The part of a whole-tensor source this rank's destination tile needs. */
static tp_status slice(tp_buffer *dst, const tp_buffer *src, tp_stream stream) {
  if (!dst->bytes)
    return TP_SUCCESS;
  size_t offset = (size_t)dst->tile.first * tp_dtype_size(src->layout.dtype);
  return copy_between(backend_of(dst), dst->data, backend_of(src),
                      (const char *)src->data + offset, dst->bytes, stream);
}

static int same_tiling(const tp_buffer *a, const tp_buffer *b) {
  int same = 0;
  tp_tiling_equal(a->tiling, b->tiling, &same);
  return same;
}

/* Which way a conversion goes. */
typedef enum route {
  ROUTE_COPY,
  ROUTE_SLICE,
  ROUTE_GATHER,
  ROUTE_SHUFFLE
} route;

static route route_of(tp_buffer_kind from, tp_buffer_kind to) {
  if (to == TP_BUFFER_DISTRIBUTED)
    return from == TP_BUFFER_DISTRIBUTED ? ROUTE_SHUFFLE : ROUTE_SLICE;
  if (from == TP_BUFFER_DISTRIBUTED)
    return ROUTE_GATHER;
  if (from == TP_BUFFER_LOCAL && to == TP_BUFFER_REPLICATED)
    return ROUTE_GATHER; /* rank 0's tensor to every rank */
  return ROUTE_COPY;
}

/* Whether a conversion is collective: with several ranks, exactly the routes
 * that may communicate, decided from the two kinds alone. Every rank that
 * passes the same kinds decides the same without asking the others, so a
 * route that does not communicate needs no agreement and may be taken by
 * one rank alone. (Distributed -> distributed communicates only when the
 * tilings differ, which only the agreement can tell, so it is always
 * collective.) */
static int collective(const tp_allocator *a, route how) {
  return a->runtime->size > 1 && (how == ROUTE_GATHER || how == ROUTE_SHUFFLE);
}

/* What the ranks of a collective conversion must agree on: the source
 * (kind, layout, tiling), the target kind and the target tiling. */
static uint64_t conversion_hash(const tp_allocator *a, const tp_buffer *src,
                                const tp_tiling *target) {
  uint64_t h = tp_buffer_hash(0x74706F6F6CULL, src);
  h = tp_hash_mix(h, (uint64_t)a->kind);
  if (target)
    for (int p = 0; p <= target->parts; ++p)
      h = tp_hash_mix(h, (uint64_t)target->first[p]);
  return h;
}

/* A refusal of this rank's arguments once both kinds are known: on a
 * collective route the other ranks are on their way into the agreement,
 * so the refusal goes through it too and every rank returns it (the
 * precedence of agree.c) instead of waiting there for this one. */
static tp_status refuse(const char *fn, tp_allocator *a, const tp_buffer *src,
                        tp_status st) {
  if (collective(a, route_of(src->kind, a->kind)))
    return tp_runtime_agree(a->runtime, fn, 0, st);
  return st;
}

/* A NULL allocator or source is refused at once, on this rank alone:
 * without both kinds there is no route, so nothing says whether the other
 * ranks are in a collective (allocator.h). */
static tp_status check_args(const char *fn, tp_allocator *a,
                            const tp_buffer *src, tp_buffer **out) {
  if (!a || !src)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn,
                   !a ? "allocator" : "source buffer");
  if (!out)
    return refuse(fn, a, src,
                  tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL out", fn));
  if (a->runtime != src->allocator->runtime)
    return refuse(fn, a, src,
                  tp_fail(TP_ERR_MISMATCH,
                          "%s: the source belongs to another runtime than %s",
                          fn, a->name));
  return TP_SUCCESS;
}

/* Whether `src`'s memory already holds what a buffer of `a` would: the
 * same backend, and the same tile (allocator.h lists the cases). Reuse
 * never moves data, so on a collective route (distributed -> distributed
 * with equal tilings) a rank that reuses and one that copies locally still
 * agree on everything that travels. */
static int reusable(const tp_allocator *a, const tp_buffer *src,
                    const tp_tiling *tiling) {
  if (a->backend != src->allocator->backend)
    return 0;
  const tp_runtime *rt = a->runtime;
  /* One rank: every kind holds the whole tensor (a tiling over one rank
   * has one part, the whole tensor). */
  if (rt->size == 1)
    return 1;
  if (src->kind == TP_BUFFER_DISTRIBUTED && a->kind == TP_BUFFER_DISTRIBUTED) {
    if (!tiling) {
      tp_tiling *block;
      if (tp_tiling_create_block(&src->layout, rt->size, &block) != TP_SUCCESS)
        return 0;
      int same = 0;
      tp_tiling_equal(block, src->tiling, &same);
      tp_tiling_destroy(block);
      return same;
    }
    int same = 0;
    tp_tiling_equal(tiling, src->tiling, &same);
    return same;
  }
  if (tiling)
    return 0;
  if (src->kind == a->kind)
    return 1;
  /* Replicated -> local keeps this rank's copy; local -> replicated is a
   * broadcast of rank 0's tensor, so it is not listed. */
  return src->kind == TP_BUFFER_REPLICATED && a->kind == TP_BUFFER_LOCAL;
}

/* Turns `src` into the result of a reusing move: new kind, allocator,
 * stream and (distributed) tiling; `tiling` was resolved for a distributed
 * result (NULL otherwise) and is taken over. */
static tp_status reuse(tp_allocator *a, tp_buffer *src, tp_tiling *tiling,
                       tp_stream stream) {
  /* Ordered after the source's old stream (an event, no host wait). */
  tp_status st = tp_buffer_move_to_stream(src, stream);
  if (st != TP_SUCCESS) {
    tp_tiling_destroy(tiling);
    return st;
  }
  if (tiling) {
    tp_tiling_destroy(src->tiling);
    src->tiling = tiling;
    tp_tiling_tile(tiling, a->runtime->rank, &src->tile);
  } else if (a->kind != TP_BUFFER_DISTRIBUTED && src->tiling) {
    /* Distributed over one rank -> whole tensor: the tile is the tensor. */
    tp_tiling_destroy(src->tiling);
    src->tiling = NULL;
    tp_layout_whole_tile(&src->layout, &src->tile);
    src->tile.part = a->runtime->rank;
  }
  src->kind = a->kind;
  src->allocator = a;
  return TP_SUCCESS;
}

/* Moves the data of `src` into `dst` along `how` (the ranks agreed). */
static tp_status run_route(route how, tp_buffer *dst, const tp_buffer *src,
                           tp_stream stream) {
  switch (how) {
  case ROUTE_COPY:
    return dst->bytes
               ? copy_between(backend_of(dst), dst->data, backend_of(src),
                              src->data, dst->bytes, stream)
               : TP_SUCCESS;
  case ROUTE_SLICE: return slice(dst, src, stream);
  case ROUTE_GATHER: return gather(dst, src, stream);
  case ROUTE_SHUFFLE:
    if (same_tiling(dst, src))
      return dst->bytes
                 ? copy_between(backend_of(dst), dst->data, backend_of(src),
                                src->data, dst->bytes, stream)
                 : TP_SUCCESS;
    return redistribute(dst, src, stream);
  }
  return tp_fail(TP_ERR_INTERNAL, "convert: unknown route %d", (int)how);
}

/* construct_copy and construct_move. With `may_reuse`, a source whose
 * memory already holds the result is kept: *out is set to NULL, *adopt gets
 * the tiling a distributed result takes (NULL: keep the source's), and the
 * caller turns the source into the result with reuse(). Collective exactly
 * when collective() says so: then the ranks agree once, after this rank's
 * allocation and before any data moves, so a failure or a disagreement on
 * one rank is the same error on every rank instead of a hang. */
static tp_status convert(const char *fn, tp_allocator *a, const tp_buffer *src,
                         const tp_tiling *tiling, tp_stream stream,
                         int may_reuse, tp_buffer **out, tp_tiling **adopt) {
  route how = route_of(src->kind, a->kind);
  int reusing = may_reuse && reusable(a, src, tiling);
  tp_buffer *dst = NULL;
  tp_tiling *resolved = NULL;
  tp_status st = TP_SUCCESS;
  if (!reusing)
    st = tp_buffer_new(fn, a, &src->layout, tiling, stream, &dst);
  else if (a->kind == TP_BUFFER_DISTRIBUTED &&
           (src->kind != TP_BUFFER_DISTRIBUTED || a->runtime->size == 1))
    /* A distributed result gets its own (checked) tiling. When both are
     * distributed over several ranks the tilings are equal: keep it. */
    st = tp_buffer_resolve_tiling(fn, a, &src->layout, tiling, &resolved);
  /* `stream` waits for the source's producers (an event, no host wait). */
  int reading = 0;
  if (st == TP_SUCCESS && !reusing) {
    st = tp_buffer_begin_use(src, stream);
    reading = st == TP_SUCCESS;
  }
  if (collective(a, how)) {
    const tp_tiling *target = reusing ? (resolved ? resolved : src->tiling)
                              : dst   ? dst->tiling
                                      : NULL;
    st = tp_runtime_agree(a->runtime, fn, conversion_hash(a, src, target), st);
  }
  if (st == TP_SUCCESS && !reusing) {
    st = run_route(how, dst, src, stream);
    if (st != TP_SUCCESS)
      st = tp_fail_context(st, "%s", fn);
  }
  if (reading) {
    /* Also after a failure: part of the reads may be queued. The source's
     * memory is freed only after them. */
    tp_status recorded = tp_buffer_end_use(src, stream);
    if (st == TP_SUCCESS && recorded != TP_SUCCESS)
      st = tp_fail_context(recorded, "%s", fn);
  }
  if (st != TP_SUCCESS) {
    tp_tiling_destroy(resolved);
    if (dst)
      tp_buffer_discard(dst);
    return st;
  }
  *out = dst;
  *adopt = resolved;
  return TP_SUCCESS;
}

tp_status tp_allocator_construct_copy(tp_allocator *a, const tp_buffer *src,
                                      const tp_tiling *tiling, tp_stream stream,
                                      tp_buffer **out) {
  const char *fn = "tp_allocator_construct_copy";
  tp_status st = check_args(fn, a, src, out);
  if (st != TP_SUCCESS)
    return st;
  tp_tiling *unused = NULL;
  return convert(fn, a, src, tiling, stream, 0, out, &unused);
}

tp_status tp_convert_clone(const tp_buffer *src, tp_stream stream,
                           tp_buffer **out) {
  /* Same allocator and tiling: every rank copies its own tile, whatever the
   * kind, so no rank waits for another. */
  tp_buffer *dst = NULL;
  tp_status st = tp_buffer_new("tp_buffer_clone", src->allocator, &src->layout,
                               src->tiling, stream, &dst);
  int reading = 0;
  if (st == TP_SUCCESS) {
    st = tp_buffer_begin_use(src, stream);
    reading = st == TP_SUCCESS;
  }
  if (st == TP_SUCCESS) {
    st = run_route(ROUTE_COPY, dst, src, stream);
    if (st != TP_SUCCESS)
      st = tp_fail_context(st, "tp_buffer_clone");
  }
  if (reading) {
    tp_status recorded = tp_buffer_end_use(src, stream);
    if (st == TP_SUCCESS && recorded != TP_SUCCESS)
      st = tp_fail_context(recorded, "tp_buffer_clone");
  }
  if (st != TP_SUCCESS) {
    if (dst)
      tp_buffer_discard(dst);
    return st;
  }
  *out = dst;
  return TP_SUCCESS;
}

tp_status tp_allocator_construct_move(tp_allocator *a, tp_buffer **source,
                                      const tp_tiling *tiling, tp_stream stream,
                                      tp_buffer **out) {
  const char *fn = "tp_allocator_construct_move";
  if (!source)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL source handle", fn);
  tp_buffer *src = *source;
  tp_status st = check_args(fn, a, src, out);
  if (st != TP_SUCCESS)
    return st;
  if (tiling && a->kind != TP_BUFFER_DISTRIBUTED)
    return refuse(fn, a, src,
                  tp_fail(TP_ERR_INVALID_ARGUMENT,
                          "%s: a tiling was given to a %s allocator "
                          "(distributed only)",
                          fn, tp_buffer_kind_name(a->kind)));
  tp_buffer *dst = NULL;
  tp_tiling *adopt = NULL;
  st = convert(fn, a, src, tiling, stream, 1, &dst, &adopt);
  if (st != TP_SUCCESS)
    return st;
  if (!dst) {
    /* Reused: the source becomes the result (reuse takes `adopt`). */
    st = reuse(a, src, adopt, stream);
    if (st != TP_SUCCESS)
      return tp_fail_context(st, "%s", fn);
    *source = NULL;
    *out = src;
    return TP_SUCCESS;
  }
  /* The copy made `stream` wait for the source's stream and read it there:
   * `stream` is now after all of its work, so the source is freed on it. */
  src->stream = stream;
  st = tp_buffer_free(src);
  *source = NULL;
  *out = dst;
  if (st != TP_SUCCESS)
    return tp_fail_context(st,
                           "%s: the copy succeeded but freeing the source "
                           "failed",
                           fn);
  return TP_SUCCESS;
}
