/* Status codes and the thread-local detail of the last failure.
 *
 * Every public function returns a tp_status (or is a pure accessor). On a
 * failure the calling thread's last-error message says what was asked and
 * which limit or check refused it; a later success does not clear it (like
 * errno), so read it right after the failing call. */
#ifndef TENSORPOOL_STATUS_H
#define TENSORPOOL_STATUS_H

#include "tensorpool/export.h"
TP_BEGIN_DECLS

typedef enum tp_status {
  TP_SUCCESS = 0,
  TP_ERR_INVALID_ARGUMENT = 1, /* NULL handle, zero size, bad config */
  TP_ERR_INVALID_POINTER = 2,  /* foreign, interior or double-freed pointer */
  TP_ERR_OUT_OF_MEMORY = 3,    /* upstream or budget exhausted */
  TP_ERR_OVERFLOW = 4,         /* a size computation overflowed */
  TP_ERR_NO_DEVICE = 5,        /* no CUDA device, or device id out of range */
  TP_ERR_NOT_SUPPORTED = 6,    /* not built in, or not possible here */
  TP_ERR_CUDA = 7,             /* a CUDA runtime or NVRTC call failed */
  TP_ERR_NCCL = 8,             /* an NCCL call failed */
  TP_ERR_MPI = 9,              /* an MPI call failed */
  TP_ERR_MISMATCH = 10,        /* ranks or operands disagree */
  TP_ERR_LEAK = 11,     /* pool destroyed with live blocks (they were freed) */
  TP_ERR_CALLBACK = 12, /* a user callback reported failure */
  TP_ERR_INTERNAL = 13, /* a broken invariant: please report it */
  TP_ERR_BUSY = 14      /* still in use (live dependents): nothing was done */
} tp_status;

/* A fixed English name for the code, e.g. "out of memory". Never NULL. */
const char *tp_status_name(tp_status status);

/* The detail of the last failure on the calling thread ("" if none yet). */
const char *tp_last_error(void);

TP_END_DECLS

#endif
