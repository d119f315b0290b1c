/* The check before every collective: one MPI_Allreduce(MAX) of
 * (hash, ~hash, failure) tells every rank the smallest and largest hash and
 * the failure that wins, so disagreement or a failure on one rank becomes
 * the same error on all ranks instead of a hang in the collective after. */
#include "core/error.h"
#include "dist/dist.h"
#include "runtime/runtime_internal.h"

/* Which failure every rank reports when ranks fail differently: the one a
 * user must act on first. A broken library or transport (internal, MPI,
 * NCCL, CUDA) makes every other verdict unreliable; a missing device or
 * memory explains failures that follow from it (an allocation that failed
 * on one rank leaves the others with nothing to agree on); argument errors
 * next, most specific first; a mismatch last, as it is often the echo of a
 * failure elsewhere. The order is this table's, never the codes' numeric
 * order, so adding a status code changes nothing here until it is placed.
 * Codes not listed rank just above success. */
static const tp_status precedence_order[] = {
    /* lowest */
    TP_ERR_MISMATCH,
    TP_ERR_BUSY,
    TP_ERR_LEAK,
    TP_ERR_CALLBACK,
    TP_ERR_NOT_SUPPORTED,
    TP_ERR_INVALID_ARGUMENT,
    TP_ERR_INVALID_POINTER,
    TP_ERR_OVERFLOW,
    TP_ERR_OUT_OF_MEMORY,
    TP_ERR_NO_DEVICE,
    TP_ERR_CUDA,
    TP_ERR_NCCL,
    TP_ERR_MPI,
    TP_ERR_INTERNAL,
    /* highest */
};

#define PRECEDENCE_COUNT (sizeof precedence_order / sizeof precedence_order[0])

unsigned tp_status_precedence(tp_status status) {
  if (status == TP_SUCCESS)
    return 0;
  for (unsigned i = 0; i < PRECEDENCE_COUNT; ++i)
    if (precedence_order[i] == status)
      return i + 2;
  return 1;
}

tp_status tp_runtime_agree(tp_runtime *rt, const char *fn, uint64_t hash,
                           tp_status local) {
#if TP_HAVE_MPI
  if (rt->uses_mpi && rt->size > 1) {
    /* The high half orders failures by precedence, the low half says which
     * code it is. */
    uint64_t failure =
        (uint64_t)tp_status_precedence(local) << 32 | (uint32_t)local;
    uint64_t mine[3] = {hash, ~hash, failure};
    uint64_t all[3];
    int rc = MPI_Allreduce(mine, all, 3, MPI_UINT64_T, MPI_MAX, rt->comm);
    if (rc != MPI_SUCCESS)
      return tp_fail(TP_ERR_MPI,
                     "%s: MPI_Allreduce of the agreement check "
                     "failed (code %d)",
                     fn, rc);
    tp_status winner = (tp_status)(uint32_t)all[2];
    if (winner != TP_SUCCESS) {
      if (local == winner)
        return local; /* keeps this rank's message */
      return tp_fail(winner, "%s: another rank failed (%s)%s", fn,
                     tp_status_name(winner),
                     local != TP_SUCCESS ? "; this rank failed too" : "");
    }
    uint64_t lowest = ~all[1], highest = all[0];
    if (lowest != highest)
      return tp_fail(TP_ERR_MISMATCH,
                     "%s: the ranks disagree on layout, kind or tiling "
                     "(rank %d hash %016llx, hashes range %016llx..%016llx)",
                     fn, rt->rank, (unsigned long long)hash,
                     (unsigned long long)lowest, (unsigned long long)highest);
    return TP_SUCCESS;
  }
#endif
  (void)rt;
  (void)fn;
  (void)hash;
  return local;
}
