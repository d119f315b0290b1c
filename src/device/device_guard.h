/* Internal: validate a device id and switch to it for the duration of a call,
 * restoring the caller's current device afterwards. Compiled in every build:
 * without CUDA every check fails with TP_ERR_NO_DEVICE. */
#ifndef TP_DEVICE_DEVICE_GUARD_H
#define TP_DEVICE_DEVICE_GUARD_H

#include "tensorpool/status.h"

typedef struct tp_device_guard {
  int previous; /* the caller's current device, restored by leave */
  int switched; /* whether enter changed it */
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
/* Restores the device saved by a successful tp_device_enter or
 * tp_device_switch. */
void tp_device_leave(tp_device_guard *guard);

#endif
