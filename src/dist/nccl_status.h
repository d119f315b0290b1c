/* Internal: NCCL results as tensorpool statuses. Only with TP_HAVE_NCCL. */
#ifndef TP_DIST_NCCL_STATUS_H
#define TP_DIST_NCCL_STATUS_H

#if TP_HAVE_NCCL

#include <nccl.h>

#include "core/error.h"
#include "device/cuda_check.h"

/* Records "<what>: <NCCL's string> (<NCCL's last error>)" and returns
 * TP_ERR_NCCL. `comm` may be NULL. */
static inline tp_status tp_nccl_fail(ncclResult_t res, ncclComm_t comm,
                                     const char *what) {
  const char *detail = ncclGetLastError(comm);
  return tp_fail(TP_ERR_NCCL, "%s: %s%s%s%s", what, ncclGetErrorString(res),
                 detail && *detail ? " (" : "", detail ? detail : "",
                 detail && *detail ? ")" : "");
}

#endif

#endif
