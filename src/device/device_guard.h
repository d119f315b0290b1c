/* Internal: validate a device id and switch to it for the duration of a call,
 * restoring what was current for the calling thread afterwards. Compiled in
 * every build: without CUDA every check fails with TP_ERR_NO_DEVICE. */
#ifndef TP_DEVICE_DEVICE_GUARD_H
#define TP_DEVICE_DEVICE_GUARD_H

#include "tensorpool/status.h"

typedef struct tp_device_guard {
  /* The driver context current before the switch (a CUcontext; NULL when
   * none was), put back by leave. Restoring the context itself, not "the
   * device cudaGetDevice reports", matters: on a thread that never chose a
   * device cudaGetDevice says 0, and making device 0 current again would
   * create a context on GPU 0 (about 0.5 GB on every rank of a node). */
  void *previous_context;
  int previous_device; /* fallback when the driver entry points are missing */
  int switched;        /* whether enter changed anything */
  int by_context;      /* restore previous_context (else previous_device) */
} tp_device_guard;

/* TP_ERR_NO_DEVICE with a message naming `caller` when there is no device or
 * `device` is not in [0, count). */
tp_status tp_device_check(const char *caller, int device);

/* Checks `device`, then makes it current for this thread. */
tp_status tp_device_enter(const char *caller, int device,
                          tp_device_guard *guard);
/* Makes `device` current without checking it first: for callers that
 * checked it when their object was created (the space tables). */
tp_status tp_device_switch(const char *caller, int device,
                           tp_device_guard *guard);
/* Restores what a successful tp_device_enter or tp_device_switch replaced:
 * the previous context, or no context at all. One thing stays: the CUDA
 * runtime's own per-thread "current device" set by the switch's
 * cudaSetDevice, which the runtime consults only when no context is current.
 * Undoing it would take cudaSetDevice(previous), which on a thread that chose
 * nothing means device 0 and creates its context: exactly what this guard
 * exists to avoid. So a later bare runtime call on such a thread uses the
 * device tensorpool used last, never an unasked-for GPU 0 context. */
void tp_device_leave(tp_device_guard *guard);

#endif
