/* Fortran communicator handles: the MPI entry points every build exports. */
#include "tensorpool/mpi_fint.h"
#include "core/error.h"

#if TP_HAVE_MPI
#include "tensorpool/mpi.h"
#endif

tp_status tp_runtime_create_mpi_fint(int comm, const tp_runtime_config *config,
                                     tp_runtime **out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_runtime_create_mpi_fint: NULL out");
#if TP_HAVE_MPI
  return tp_runtime_create_mpi(MPI_Comm_f2c(comm), config, out);
#else
  (void)comm;
  (void)config;
  return tp_fail(TP_ERR_NOT_SUPPORTED,
                 "tp_runtime_create_mpi_fint: tensorpool was built without "
                 "MPI");
#endif
}

tp_status tp_runtime_comm_fint(const tp_runtime *runtime, int *out) {
  if (!runtime || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_runtime_comm_fint: NULL %s",
                   !runtime ? "runtime" : "out");
#if TP_HAVE_MPI
  MPI_Comm comm = tp_runtime_comm(runtime);
  if (comm == MPI_COMM_NULL)
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "tp_runtime_comm_fint: a single-process runtime has no "
                   "communicator");
  *out = (int)MPI_Comm_c2f(comm);
  return TP_SUCCESS;
#else
  return tp_fail(TP_ERR_NOT_SUPPORTED,
                 "tp_runtime_comm_fint: tensorpool was built without MPI");
#endif
}
