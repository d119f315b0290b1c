/* Host byte collectives over MPI. MPI-3 counts and displacements are int:
 * when everything fits, one MPI_Allgatherv / MPI_Alltoallv does the work;
 * otherwise every peer-to-peer transfer is posted as nonblocking pieces of
 * at most the largest message (INT_MAX bytes), which needs no staging
 * copy. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "dist/dist.h"
#include "runtime/runtime_internal.h"

static size_t max_message = INT_MAX;

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

static int *to_int(int n, const size_t *v) {
  int *out = malloc((size_t)n * sizeof *out);
  for (int r = 0; out && r < n; ++r)
    out[r] = (int)v[r];
  return out;
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

#endif

tp_status tp_mpi_allgatherv(tp_runtime *rt, const void *send, void *recv,
                            const size_t *counts, const size_t *displs) {
  char *mine = (char *)recv + displs[rt->rank];
  if (counts[rt->rank] && mine != send)
    memmove(mine, send, counts[rt->rank]);
#if TP_HAVE_MPI
  if (!rt->uses_mpi || rt->size == 1)
    return TP_SUCCESS;
  const char *fn = "tp_mpi_allgatherv";
  if (all_fit(rt->size, counts, displs)) {
    int *c = to_int(rt->size, counts), *d = to_int(rt->size, displs);
    int rc = c && d ? MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, recv,
                                     c, d, MPI_BYTE, rt->comm)
                    : MPI_ERR_NO_MEM;
    free(c);
    free(d);
    if (rc != MPI_SUCCESS)
      return tp_fail(TP_ERR_MPI, "%s: MPI_Allgatherv failed (code %d)", fn, rc);
    return TP_SUCCESS;
  }
  const char **send_at;
  char **recv_at;
  tp_status st = exchange_alloc(rt->size, &send_at, &recv_at);
  if (st != TP_SUCCESS)
    return st;
  size_t *send_bytes = malloc((size_t)rt->size * sizeof *send_bytes);
  if (!send_bytes) {
    free(send_at);
    free(recv_at);
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no memory for counts", fn);
  }
  for (int r = 0; r < rt->size; ++r) {
    send_at[r] = mine;
    send_bytes[r] = counts[rt->rank];
    recv_at[r] = (char *)recv + displs[r];
  }
  st = exchange(rt, fn, send_at, send_bytes, recv_at, counts);
  free(send_bytes);
  free(send_at);
  free(recv_at);
  return st;
#else
  return TP_SUCCESS;
#endif
}

tp_status tp_mpi_alltoallv(tp_runtime *rt, const void *send,
                           const size_t *send_counts, const size_t *send_displs,
                           void *recv, const size_t *recv_counts,
                           const size_t *recv_displs) {
  int me = rt->rank;
  if (recv_counts[me])
    memmove((char *)recv + recv_displs[me],
            (const char *)send + send_displs[me], recv_counts[me]);
#if TP_HAVE_MPI
  if (!rt->uses_mpi || rt->size == 1)
    return TP_SUCCESS;
  const char *fn = "tp_mpi_alltoallv";
  if (all_fit(rt->size, send_counts, send_displs) &&
      all_fit(rt->size, recv_counts, recv_displs)) {
    int *sc = to_int(rt->size, send_counts),
        *sd = to_int(rt->size, send_displs);
    int *rc_ = to_int(rt->size, recv_counts),
        *rd = to_int(rt->size, recv_displs);
    int rc = MPI_ERR_NO_MEM;
    if (sc && sd && rc_ && rd) {
      /* This rank's own part was copied above. */
      sc[me] = rc_[me] = 0;
      rc = MPI_Alltoallv(send, sc, sd, MPI_BYTE, recv, rc_, rd, MPI_BYTE,
                         rt->comm);
    }
    free(sc);
    free(sd);
    free(rc_);
    free(rd);
    if (rc != MPI_SUCCESS)
      return tp_fail(TP_ERR_MPI, "%s: MPI_Alltoallv failed (code %d)", fn, rc);
    return TP_SUCCESS;
  }
  const char **send_at;
  char **recv_at;
  tp_status st = exchange_alloc(rt->size, &send_at, &recv_at);
  if (st != TP_SUCCESS)
    return st;
  for (int r = 0; r < rt->size; ++r) {
    send_at[r] = (const char *)send + send_displs[r];
    recv_at[r] = (char *)recv + recv_displs[r];
  }
  st = exchange(rt, fn, send_at, send_counts, recv_at, recv_counts);
  free(send_at);
  free(recv_at);
  return st;
#else
  (void)send_counts;
  return TP_SUCCESS;
#endif
}
