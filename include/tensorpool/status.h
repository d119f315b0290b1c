/* Status codes and the thread-local detail of the last failure.
 *
 * Every public function returns a tp_status (or is a pure accessor). On a
 * failure the calling thread's last-error message says what was asked and
 * which limit or check refused it; a later success does not clear it (like
 * errno), so read it right after the failing call.
 *
 * Messages are for people: their wording may change in any release. Code
 * decides on the tp_status alone (its values are fixed for the 1.x ABI).
 *
 * Pure accessors given NULL (or a handle they cannot read) return a sentinel
 * and set no message: NULL for pointers, 0 for counts and sizes and
 * booleans, -1 for ranks and device ids, and an explicit *_INVALID value for
 * enums; each header names its accessors' sentinels.
 *
 * Thread safety: every function here may be called from any thread; the
 * message is per thread. None of them has a stream, is collective or
 * blocks. */
#ifndef TENSORPOOL_STATUS_H
#define TENSORPOOL_STATUS_H

#include "tensorpool/export.h"
TP_BEGIN_DECLS

/* Lets GCC and Clang check the arguments of printf-style functions. */
#if defined(__GNUC__)
#define TP_FORMAT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TP_FORMAT_PRINTF(f, a)
#endif

typedef enum tp_status {
  TP_SUCCESS = 0,
  TP_ERR_INVALID_ARGUMENT = 1, /* NULL handle, zero size, bad config */
  TP_ERR_INVALID_POINTER = 2,  /* foreign, interior or double-freed pointer */
  TP_ERR_OUT_OF_MEMORY = 3,    /* upstream or budget exhausted */
  TP_ERR_OVERFLOW = 4,         /* a size computation overflowed */
  TP_ERR_NO_DEVICE = 5,        /* a GPU is needed and none is usable */
  TP_ERR_NOT_SUPPORTED = 6,    /* a capability this build/config lacks */
  TP_ERR_CUDA = 7,             /* a CUDA runtime or NVRTC call failed */
  TP_ERR_NCCL = 8,             /* an NCCL call failed */
  TP_ERR_MPI = 9,              /* an MPI call failed */
  TP_ERR_MISMATCH = 10,        /* ranks or operands disagree */
  TP_ERR_LEAK = 11,     /* pool destroyed with live blocks (they were freed) */
  TP_ERR_CALLBACK = 12, /* a user callback reported failure */
  TP_ERR_INTERNAL = 13, /* a broken invariant: please report it */
  TP_ERR_BUSY = 14      /* still in use (live dependents): nothing was done */
} tp_status;

/* TP_ERR_NO_DEVICE or TP_ERR_NOT_SUPPORTED: the one rule, for every call.
 *
 *   TP_ERR_NO_DEVICE whenever a call needs a GPU and none is usable: no GPU,
 *   no driver, a build without CUDA, a device id out of range (including a
 *   tp_runtime_config.device the machine lacks), or a runtime whose rank has
 *   no device asked for TP_SPACE_DEVICE or TP_SPACE_PINNED.
 *
 *   TP_ERR_NOT_SUPPORTED for a capability this build or configuration lacks
 *   on a machine where the device question does not arise or is answered:
 *   a space the runtime's configuration disabled (disabled_spaces; the same
 *   status with and without a GPU), a device without cudaMallocAsync pools
 *   asked for that upstream, a device id above what the shared pools serve,
 *   setting the limit of a runtime's pool with tp_pool_set_limit,
 *   compiling an expression in a build without CUDA (no NVRTC; compiling
 *   needs no GPU), or a request that is never possible (an alignment above
 *   256 from a pool).
 *
 *   Arguments are checked first, in every build: bad input is
 *   TP_ERR_INVALID_ARGUMENT whether or not there is a device.
 *
 * docs/device.md lists where each applies. */

/* A fixed English name for the code, e.g. "out of memory". Never NULL
 * ("unknown status" for a value that is not a tp_status). */
const char *tp_status_name(tp_status status);

/* The detail of the last failure on the calling thread ("" if none yet).
 * Valid until the thread's next call into the library. */
const char *tp_last_error(void);

/* Sets the calling thread's message (printf-style `format`) and returns
 * `status`, so a callback can write `return tp_set_last_error(...)`.
 *
 * For code the library calls back: tp_space_ops entries, raw allocator
 * tables, tile fill callbacks. When such a callback fails, the library
 * keeps the message the callback set during that call and puts its own
 * context in front ("tp_pool_alloc: ...: <your message>"); a callback that
 * fails without setting one gets a message saying so, never a stale message
 * of an earlier failure. May be called from any thread at any time. */
tp_status tp_set_last_error(tp_status status, const char *format, ...)
    TP_FORMAT_PRINTF(2, 3);

TP_END_DECLS

#endif
