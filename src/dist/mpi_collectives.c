/* Host byte collectives over MPI. MPI-3 counts and displacements are int:
 * when everything fits, one MPI_Allgatherv / MPI_Alltoallv does the work
 * (MPI_Bcast when a single rank has data); otherwise every peer-to-peer
 * transfer is posted as nonblocking pieces of at most the largest message
 * (INT_MAX bytes), which needs no staging copy. The per-rank int arrays
 * MPI wants live on the stack (rank_scratch.h): no malloc per call. */
#include <limits.h>
#include <stdlib.h>

#include "core/byte_copy.h"
#include "core/error.h"
#include "dist/dist.h"
#include "dist/rank_scratch.h"
#include "runtime/runtime_internal.h"

static size_t max_message = INT_MAX;

/* Tiles from this size up are gathered in place (tp_mpi_allgatherv). */
#define IN_PLACE_FROM ((size_t)256 << 10)

void tp_mpi_set_max_message(size_t bytes) {
  max_message = bytes == 0 || bytes > INT_MAX ? (size_t)INT_MAX : bytes;
}

#if TP_HAVE_MPI

static int all_fit(int n, const size_t *a, const size_t *b) {
  for (int r = 0; r < n; ++r)
    if (a[r] > max_message || b[r] > max_message)
      return 0;
  return 1;
}

static void to_int(int n, const size_t *v, int *out) {
  for (int r = 0; r < n; ++r)
    out[r] = (int)v[r];
}

/* The one rank with bytes to send, -1 when several have some, -2 when none
 * has any. */
static int sole_sender(int n, const size_t *counts) {
  int root = -2;
  for (int r = 0; r < n; ++r)
    if (counts[r])
      root = root == -2 ? r : -1;
  return root;
}

static size_t pieces(size_t bytes) {
  return (bytes + max_message - 1) / max_message;
}

/* Rank r sends send_bytes[r] from send_at[r] to rank r and receives
 * recv_bytes[r] into recv_at[r] from rank r (r != me), in pieces. */
static tp_status exchange(tp_runtime *rt, const char *fn,
                          const char *const *send_at, const size_t *send_bytes,
                          char *const *recv_at, const size_t *recv_bytes) {
  size_t total = 0;
  for (int r = 0; r < rt->size; ++r)
    if (r != rt->rank)
      total += pieces(send_bytes[r]) + pieces(recv_bytes[r]);
  MPI_Request *req = malloc((total ? total : 1) * sizeof *req);
  if (!req)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no memory for %zu requests", fn,
                   total);
  size_t n = 0;
  int rc = MPI_SUCCESS;
  for (int r = 0; r < rt->size && rc == MPI_SUCCESS; ++r) {
    if (r == rt->rank)
      continue;
    for (size_t off = 0; off < recv_bytes[r] && rc == MPI_SUCCESS;
         off += max_message) {
      size_t len =
          recv_bytes[r] - off < max_message ? recv_bytes[r] - off : max_message;
      rc = MPI_Irecv(recv_at[r] + off, (int)len, MPI_BYTE, r, 0, rt->comm,
                     &req[n++]);
    }
    for (size_t off = 0; off < send_bytes[r] && rc == MPI_SUCCESS;
         off += max_message) {
      size_t len =
          send_bytes[r] - off < max_message ? send_bytes[r] - off : max_message;
      rc = MPI_Isend(send_at[r] + off, (int)len, MPI_BYTE, r, 0, rt->comm,
                     &req[n++]);
    }
  }
  int wait_rc = MPI_Waitall((int)n, req, MPI_STATUSES_IGNORE);
  free(req);
  if (rc == MPI_SUCCESS)
    rc = wait_rc;
  if (rc != MPI_SUCCESS)
    return tp_fail(TP_ERR_MPI, "%s: point-to-point exchange failed (code %d)",
                   fn, rc);
  return TP_SUCCESS;
}

static tp_status exchange_alloc(int n, const char ***send_at, char ***recv_at) {
  *send_at = malloc((size_t)n * sizeof **send_at);
  *recv_at = malloc((size_t)n * sizeof **recv_at);
  if (*send_at && *recv_at)
    return TP_SUCCESS;
  free(*send_at);
  free(*recv_at);
  return tp_fail(TP_ERR_OUT_OF_MEMORY, "tp_mpi: no memory for %d peers", n);
}

/* An all-gather where one rank has all the data (local -> replicated) is a
 * broadcast: MPI_Bcast moves it in log2(ranks) steps, where an
 * MPI_Allgatherv with one non-zero count may walk a ring of empty blocks. */
static tp_status broadcast(tp_runtime *rt, int root, const void *send,
                           void *recv, const size_t *counts,
                           const size_t *displs) {
  char *place = (char *)recv + displs[root];
  if (rt->rank == root && place != send)
    tp_copy_bytes(place, send, counts[root]);
  int rc = MPI_Bcast(place, (int)counts[root], MPI_BYTE, root, rt->comm);
  if (rc != MPI_SUCCESS)
    return tp_fail(TP_ERR_MPI, "tp_mpi_allgatherv: MPI_Bcast failed (code %d)",
                   rc);
  return TP_SUCCESS;
}

#endif

tp_status tp_mpi_allgatherv(tp_runtime *rt, const void *send, void *recv,
                            const size_t *counts, const size_t *displs) {
  int me = rt->rank;
  char *mine = (char *)recv + displs[me];
#if TP_HAVE_MPI
  if (rt->uses_mpi && rt->size > 1) {
    const char *fn = "tp_mpi_allgatherv";
    int p = rt->size;
    if (all_fit(p, counts, displs)) {
      int root = sole_sender(p, counts);
      if (root == -2)
        return TP_SUCCESS;
      if (root >= 0)
        return broadcast(rt, root, send, recv, counts, displs);
      tp_rank_scratch scratch;
      tp_rank_scratch_init(&scratch);
      int *c = tp_rank_scratch_get(&scratch, 2 * (size_t)p * sizeof *c);
      if (!c)
        return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no memory for %d counts", fn,
                       p);
      int *d = c + p;
      to_int(p, counts, c);
      to_int(p, displs, d);
      /* Small tiles go in as a separate send buffer (MPI copies the own
       * one into place after the exchange); from 256 KiB per tile up, the
       * own tile is copied into place first and the all-gather runs in
       * place. bench_convert_mpi measures both ways with Open MPI 4.1 on
       * shared memory: at 2 ranks the separate buffer was 1.3-3.6x faster
       * at 32-128 KiB per tile and in place 1.5-3x faster from 512 KiB
       * (the peers then read the tile from the cache the copy filled); at
       * 3 and 4 ranks the two were within noise. MPI wants MPI_IN_PLACE on
       * all ranks or none, so the choice uses the largest tile, which every
       * rank knows. */
      size_t largest = 0;
      for (int r = 0; r < p; ++r)
        largest = counts[r] > largest ? counts[r] : largest;
      int rc;
      if (largest < IN_PLACE_FROM) {
        /* A tile already at its place (the caller copied it there from
         * another space) may not alias the receive buffer: it goes out
         * from a copy, which is small on this path. */
        void *copy = NULL;
        if (counts[me] && mine == send) {
          copy = malloc(counts[me]);
          if (!copy) {
            tp_rank_scratch_release(&scratch);
            return tp_fail(TP_ERR_OUT_OF_MEMORY,
                           "%s: no memory to send %zu bytes from", fn,
                           counts[me]);
          }
          tp_copy_bytes(copy, mine, counts[me]);
          send = copy;
        }
        rc = MPI_Allgatherv(send, c[me], MPI_BYTE, recv, c, d, MPI_BYTE,
                            rt->comm);
        free(copy);
      } else {
        if (counts[me] && mine != send)
          tp_copy_bytes(mine, send, counts[me]);
        rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, recv, c, d,
                            MPI_BYTE, rt->comm);
      }
      tp_rank_scratch_release(&scratch);
      if (rc != MPI_SUCCESS)
        return tp_fail(TP_ERR_MPI, "%s: MPI_Allgatherv failed (code %d)", fn,
                       rc);
      return TP_SUCCESS;
    }
    /* Pieces: this rank's tile is sent from where it is and copied into
     * place locally. */
    if (counts[me] && mine != send)
      tp_copy_bytes(mine, send, counts[me]);
    const char **send_at;
    char **recv_at;
    tp_status st = exchange_alloc(p, &send_at, &recv_at);
    if (st != TP_SUCCESS)
      return st;
    size_t *send_bytes = malloc((size_t)p * sizeof *send_bytes);
    if (!send_bytes) {
      free(send_at);
      free(recv_at);
      return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no memory for counts", fn);
    }
    for (int r = 0; r < p; ++r) {
      send_at[r] = mine;
      send_bytes[r] = counts[me];
      recv_at[r] = (char *)recv + displs[r];
    }
    st = exchange(rt, fn, send_at, send_bytes, recv_at, counts);
    free(send_bytes);
    free(send_at);
    free(recv_at);
    return st;
  }
#endif
  if (counts[me] && mine != send)
    tp_copy_bytes(mine, send, counts[me]);
  return TP_SUCCESS;
}

tp_status tp_mpi_alltoallv(tp_runtime *rt, const void *send,
                           const size_t *send_counts, const size_t *send_displs,
                           void *recv, const size_t *recv_counts,
                           const size_t *recv_displs) {
  int me = rt->rank;
#if TP_HAVE_MPI
  if (rt->uses_mpi && rt->size > 1) {
    const char *fn = "tp_mpi_alltoallv";
    int p = rt->size;
    if (all_fit(p, send_counts, send_displs) &&
        all_fit(p, recv_counts, recv_displs)) {
      tp_rank_scratch scratch;
      tp_rank_scratch_init(&scratch);
      int *sc = tp_rank_scratch_get(&scratch, 4 * (size_t)p * sizeof *sc);
      if (!sc)
        return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no memory for %d counts", fn,
                       p);
      int *sd = sc + p, *rc_ = sc + 2 * p, *rd = sc + 3 * p;
      to_int(p, send_counts, sc);
      to_int(p, send_displs, sd);
      to_int(p, recv_counts, rc_);
      to_int(p, recv_displs, rd);
      /* The own overlap is copied here and left out of the collective, as
       * the all-gather's own tile is. */
      if (recv_counts[me])
        tp_copy_bytes((char *)recv + recv_displs[me],
                      (const char *)send + send_displs[me], recv_counts[me]);
      sc[me] = rc_[me] = 0;
      int rc = MPI_Alltoallv(send, sc, sd, MPI_BYTE, recv, rc_, rd, MPI_BYTE,
                             rt->comm);
      tp_rank_scratch_release(&scratch);
      if (rc != MPI_SUCCESS)
        return tp_fail(TP_ERR_MPI, "%s: MPI_Alltoallv failed (code %d)", fn,
                       rc);
      return TP_SUCCESS;
    }
    if (recv_counts[me])
      tp_copy_bytes((char *)recv + recv_displs[me],
                    (const char *)send + send_displs[me], recv_counts[me]);
    const char **send_at;
    char **recv_at;
    tp_status st = exchange_alloc(p, &send_at, &recv_at);
    if (st != TP_SUCCESS)
      return st;
    for (int r = 0; r < p; ++r) {
      send_at[r] = (const char *)send + send_displs[r];
      recv_at[r] = (char *)recv + recv_displs[r];
    }
    st = exchange(rt, fn, send_at, send_counts, recv_at, recv_counts);
    free(send_at);
    free(recv_at);
    return st;
  }
#endif
  (void)send_counts;
  if (recv_counts[me])
    tp_copy_bytes((char *)recv + recv_displs[me],
                  (const char *)send + send_displs[me], recv_counts[me]);
  return TP_SUCCESS;
}
