/* Ranks of a runtime: an MPI communicator when there is one, else a single
 * process. */
#include "core/error.h"
#include "dist/dist.h"
#include "runtime/runtime_internal.h"

#if TP_HAVE_MPI
#include "tensorpool/mpi.h"

static tp_status mpi_fail(const char *fn, const char *call, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
    len = 0;
  text[len] = '\0';
  return tp_fail(TP_ERR_MPI, "%s: %s failed: %s", fn, call, text);
}

/* Rank and size on the node: MPI_Comm_split_type(MPI_COMM_TYPE_SHARED). */
static tp_status node_ranks(const char *fn, tp_runtime *rt) {
  MPI_Comm node;
  int rc = MPI_Comm_split_type(rt->comm, MPI_COMM_TYPE_SHARED, rt->rank,
                               MPI_INFO_NULL, &node);
  if (rc != MPI_SUCCESS)
    return mpi_fail(fn, "MPI_Comm_split_type", rc);
  MPI_Comm_rank(node, &rt->local_rank);
  MPI_Comm_size(node, &rt->local_size);
  MPI_Comm_free(&node);
  return TP_SUCCESS;
}

tp_status tp_runtime_ranks_init(const char *fn, tp_runtime *rt,
                                const void *comm) {
  rt->comm = MPI_COMM_NULL;
  rt->rank = 0;
  rt->size = rt->local_size = 1;
  rt->local_rank = 0;
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) {
    if (comm)
      return tp_fail(TP_ERR_MPI,
                     "%s: MPI is not initialized (or already finalized)", fn);
    return TP_SUCCESS; /* a single process */
  }
  MPI_Comm base = comm ? *(const MPI_Comm *)comm : MPI_COMM_WORLD;
  int rc = MPI_Comm_dup(base, &rt->comm);
  if (rc != MPI_SUCCESS)
    return mpi_fail(fn, "MPI_Comm_dup", rc);
  /* Errors come back as codes, so a failure is a status, not an abort. */
  MPI_Comm_set_errhandler(rt->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(rt->comm, &rt->rank);
  MPI_Comm_size(rt->comm, &rt->size);
  rt->uses_mpi = 1;
  tp_status st = node_ranks(fn, rt);
  if (st != TP_SUCCESS) {
    MPI_Comm_free(&rt->comm);
    rt->uses_mpi = 0;
  }
  return st;
}

tp_status tp_runtime_ranks_fini(tp_runtime *rt) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (rt->comm != MPI_COMM_NULL && !finalized)
    MPI_Comm_free(&rt->comm);
  return TP_SUCCESS;
}

tp_status tp_runtime_create_mpi(MPI_Comm comm, const tp_runtime_config *config,
                                tp_runtime **out) {
  if (comm == MPI_COMM_NULL)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_runtime_create_mpi: MPI_COMM_NULL");
  return tp_runtime_create_on("tp_runtime_create_mpi", &comm, config, out);
}

MPI_Comm tp_runtime_comm(const tp_runtime *rt) {
  return rt ? rt->comm : MPI_COMM_NULL;
}

#else /* one process */

tp_status tp_runtime_ranks_init(const char *fn, tp_runtime *rt,
                                const void *comm) {
  if (comm)
    return tp_fail(TP_ERR_NOT_SUPPORTED, "%s: tensorpool was built without MPI",
                   fn);
  rt->rank = rt->local_rank = 0;
  rt->size = rt->local_size = 1;
  return TP_SUCCESS;
}

tp_status tp_runtime_ranks_fini(tp_runtime *rt) {
  (void)rt;
  return TP_SUCCESS;
}

#endif
