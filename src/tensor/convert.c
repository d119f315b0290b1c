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
#include "runtime/runtime_internal.h"
#include "tensor/buffer_internal.h"
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
 * tensor. A local source is rank 0's tensor: rank 0 sends it all. */
static void gather_plan(const tp_buffer *src, int ranks, size_t *counts,
                        size_t *displs) {
  size_t elem = tp_dtype_size(src->layout.dtype);
  for (int r = 0; r < ranks; ++r) {
    if (src->kind == TP_BUFFER_DISTRIBUTED) {
      tp_tile t;
      tp_tiling_tile(src->tiling, r, &t);
      counts[r] = t.count * elem;
      displs[r] = (size_t)t.first * elem;
    } else {
      counts[r] = r == 0 ? src->bytes : 0;
      displs[r] = 0;
    }
  }
}

static tp_status gather(tp_buffer *dst, const tp_buffer *src,
                        tp_stream stream) {
  tp_runtime *rt = dst->allocator->runtime;
  tp_backend *db = backend_of(dst);
  size_t *counts = malloc(2 * (size_t)rt->size * sizeof *counts);
  if (!counts)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "gather: no memory for counts");
  size_t *displs = counts + rt->size;
  gather_plan(src, rt->size, counts, displs);
  char *mine = dst->data ? (char *)dst->data + displs[rt->rank] : NULL;
  tp_status st = TP_SUCCESS;
  if (counts[rt->rank])
    st = copy_between(db, mine, backend_of(src), src->data, counts[rt->rank],
                      stream);
  if (st == TP_SUCCESS && dst->bytes)
    st = db->ops->allgatherv(db, mine, dst->data, counts, displs, stream);
  free(counts);
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
  size_t *plan = malloc(4 * (size_t)p * sizeof *plan);
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
  free(plan);
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

static tp_status check_args(const char *fn, tp_allocator *a,
                            const tp_buffer *src, tp_buffer **out) {
  if (!a || !src || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn,
                   !a     ? "allocator"
                   : !src ? "source buffer"
                          : "out");
  if (a->runtime != src->allocator->runtime)
    return tp_fail(TP_ERR_MISMATCH,
                   "%s: the source belongs to another runtime than %s", fn,
                   a->name);
  return TP_SUCCESS;
}

tp_status tp_allocator_construct_copy(tp_allocator *a, const tp_buffer *src,
                                      const tp_tiling *tiling, tp_stream stream,
                                      tp_buffer **out) {
  const char *fn = "tp_allocator_construct_copy";
  tp_status st = check_args(fn, a, src, out);
  if (st != TP_SUCCESS)
    return st;
  route how = route_of(src->kind, a->kind);
  tp_buffer *dst = NULL;
  st = tp_buffer_new(fn, a, &src->layout, tiling, stream, &dst);
  /* `stream` waits for the source's producers (an event, no host wait). */
  int reading = 0;
  if (st == TP_SUCCESS) {
    st = tp_buffer_begin_use(src, stream);
    reading = st == TP_SUCCESS;
  }
  if (a->runtime->size > 1) {
    /* Every rank learns whether all agree and all are ready, even on routes
     * that need no communication: ranks that disagree on the kinds could
     * otherwise take different routes, and one would wait forever in a
     * collective the others never join. */
    uint64_t h = tp_buffer_hash(0x74706F6F6CULL, src);
    h = tp_hash_mix(h, (uint64_t)a->kind);
    if (dst)
      h = tp_hash_mix(h, tp_buffer_hash(h, dst));
    st = tp_runtime_agree(a->runtime, fn, h, st);
  }
  if (st == TP_SUCCESS) {
    switch (how) {
    case ROUTE_COPY:
      if (dst->bytes)
        st = copy_between(backend_of(dst), dst->data, backend_of(src),
                          src->data, dst->bytes, stream);
      break;
    case ROUTE_SLICE: st = slice(dst, src, stream); break;
    case ROUTE_GATHER: st = gather(dst, src, stream); break;
    case ROUTE_SHUFFLE:
      if (same_tiling(dst, src))
        st = dst->bytes
                 ? copy_between(backend_of(dst), dst->data, backend_of(src),
                                src->data, dst->bytes, stream)
                 : TP_SUCCESS;
      else
        st = redistribute(dst, src, stream);
      break;
    }
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
    if (dst)
      tp_buffer_discard(dst);
    return st;
  }
  *out = dst;
  return TP_SUCCESS;
}

/* Whether `src`'s memory already holds what a buffer of `a` would: the
 * same backend, and the same tile (allocator.h lists the cases). */
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
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: a tiling was given to a %s allocator (distributed "
                   "only)",
                   fn, tp_buffer_kind_name(a->kind));
  if (reusable(a, src, tiling)) {
    /* A distributed result gets its own (checked) tiling. When both are
     * distributed over several ranks the tilings are equal: keep it. */
    tp_tiling *resolved = NULL;
    if (a->kind == TP_BUFFER_DISTRIBUTED &&
        (src->kind != TP_BUFFER_DISTRIBUTED || a->runtime->size == 1))
      st = tp_buffer_resolve_tiling(fn, a, &src->layout, tiling, &resolved);
    if (a->runtime->size > 1) {
      /* As in construct_copy: a rank that would copy (and so communicate)
       * must not be left waiting by one that reuses. Disagreeing ranks hash
       * differently on the two paths and all get TP_ERR_MISMATCH. */
      uint64_t h = tp_buffer_hash(0x6D6F7665ULL, src);
      st = tp_runtime_agree(a->runtime, fn, tp_hash_mix(h, (uint64_t)a->kind),
                            st);
    }
    if (st == TP_SUCCESS)
      st = reuse(a, src, resolved, stream);
    else
      tp_tiling_destroy(resolved);
    if (st != TP_SUCCESS)
      return tp_fail_context(st, "%s", fn);
    *source = NULL;
    *out = src;
    return TP_SUCCESS;
  }
  tp_buffer *dst;
  st = tp_allocator_construct_copy(a, src, tiling, stream, &dst);
  if (st != TP_SUCCESS)
    return st;
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
