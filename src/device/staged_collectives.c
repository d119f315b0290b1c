/* Collectives on memory the host cannot read, staged through host memory:
 * the backend's own copy and sync, then MPI. */
#include <stdlib.h>

#include "core/error.h"
#include "device/staged_collectives.h"
#include "dist/dist.h"

/* Bytes a host buffer needs to hold every (displ, count) range. */
static size_t extent_of(int ranks, const size_t *counts, const size_t *displs) {
  size_t end = 0;
  for (int r = 0; r < ranks; ++r)
    if (counts[r] && displs[r] + counts[r] > end)
      end = displs[r] + counts[r];
  return end;
}

/* Copies each rank's range (the same displacement on both sides) from
 * `src` to `dst`, one of them host memory, on `stream`; then waits. Ranges,
 * not the whole extent: the gaps between them in `dst` are not ours. */
static tp_status copy_ranges(tp_backend *b, char *dst, const char *src,
                             int ranks, const size_t *counts,
                             const size_t *displs, tp_stream stream) {
  tp_status st = TP_SUCCESS;
  for (int r = 0; r < ranks && st == TP_SUCCESS; ++r)
    if (counts[r])
      st = b->ops->copy(b, dst + displs[r], src + displs[r], counts[r], stream);
  tp_status sync = b->ops->sync(b, stream);
  return st != TP_SUCCESS ? st : sync;
}

tp_status tp_staged_allgatherv(tp_backend *b, const void *send, void *recv,
                               const size_t *counts, const size_t *displs,
                               tp_stream stream) {
  static const char fn[] = "staged all-gather";
  tp_runtime *rt = b->runtime;
  int ranks = tp_runtime_size(rt), me = tp_runtime_rank(rt);
  size_t bytes = extent_of(ranks, counts, displs);
  char *host = malloc(bytes ? bytes : 1);
  if (!host)
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "%s: no host memory to stage %zu bytes on %s", fn, bytes,
                   b->name);
  tp_status st = TP_SUCCESS;
  if (counts[me]) {
    st = b->ops->copy(b, host + displs[me], send, counts[me], stream);
    tp_status sync = b->ops->sync(b, stream);
    if (st == TP_SUCCESS)
      st = sync;
  }
  /* Joined even after a failure: the other ranks are already in it. */
  tp_status mpi =
      tp_mpi_allgatherv(rt, host + displs[me], host, counts, displs);
  if (st == TP_SUCCESS)
    st = mpi;
  if (st == TP_SUCCESS)
    st = copy_ranges(b, recv, host, ranks, counts, displs, stream);
  free(host);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s on %s, rank %d of %d", fn, b->name, me,
                           ranks);
  return TP_SUCCESS;
}

tp_status tp_staged_alltoallv(tp_backend *b, const void *send,
                              const size_t *send_counts,
                              const size_t *send_displs, void *recv,
                              const size_t *recv_counts,
                              const size_t *recv_displs, tp_stream stream) {
  static const char fn[] = "staged all-to-all";
  tp_runtime *rt = b->runtime;
  int ranks = tp_runtime_size(rt), me = tp_runtime_rank(rt);
  size_t out_bytes = extent_of(ranks, send_counts, send_displs);
  size_t in_bytes = extent_of(ranks, recv_counts, recv_displs);
  char *out = malloc(out_bytes ? out_bytes : 1);
  char *in = malloc(in_bytes ? in_bytes : 1);
  if (!out || !in) {
    free(out);
    free(in);
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "%s: no host memory to stage %zu + %zu bytes on %s", fn,
                   out_bytes, in_bytes, b->name);
  }
  tp_status st =
      copy_ranges(b, out, send, ranks, send_counts, send_displs, stream);
  tp_status mpi = tp_mpi_alltoallv(rt, out, send_counts, send_displs, in,
                                   recv_counts, recv_displs);
  if (st == TP_SUCCESS)
    st = mpi;
  if (st == TP_SUCCESS)
    st = copy_ranges(b, recv, in, ranks, recv_counts, recv_displs, stream);
  free(out);
  free(in);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s on %s, rank %d of %d", fn, b->name, me,
                           ranks);
  return TP_SUCCESS;
}
