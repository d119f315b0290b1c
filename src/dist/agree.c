/* The check before every collective: one MPI_Allreduce(MAX) of
 * (hash, ~hash, status) tells every rank the smallest and largest hash and
 * the worst local failure, so disagreement or a failure on one rank becomes
 * the same error on all ranks instead of a hang in the collective after. */
#include "core/error.h"
#include "dist/dist.h"
#include "runtime/runtime_internal.h"

tp_status tp_runtime_agree(tp_runtime *rt, const char *fn, uint64_t hash,
                           tp_status local) {
#if TP_HAVE_MPI
  if (rt->uses_mpi && rt->size > 1) {
    uint64_t mine[3] = {hash, ~hash, (uint64_t)local};
    uint64_t all[3];
    int rc = MPI_Allreduce(mine, all, 3, MPI_UINT64_T, MPI_MAX, rt->comm);
    if (rc != MPI_SUCCESS)
      return tp_fail(TP_ERR_MPI,
                     "%s: MPI_Allreduce of the agreement check "
                     "failed (code %d)",
                     fn, rc);
    tp_status worst = (tp_status)all[2];
    if (worst != TP_SUCCESS) {
      if (local == worst)
        return local; /* keeps this rank's message */
      return tp_fail(worst, "%s: another rank failed (%s)%s", fn,
                     tp_status_name(worst),
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
