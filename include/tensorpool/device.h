/* CUDA devices: how many there are, their memory, and one pool per device.
 *
 * Every function here exists in every build. Built without CUDA, or run on a
 * machine without a GPU, tp_device_count() reports 0 and the functions that
 * need a device return TP_ERR_NO_DEVICE with a message saying why. Functions
 * that work on a given device switch to it and restore the calling thread's
 * current device before returning. */
#ifndef TENSORPOOL_DEVICE_H
#define TENSORPOOL_DEVICE_H

#include <stddef.h>

#include "tensorpool/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices: 0 (and TP_SUCCESS) when the library was
 * built without CUDA or when no GPU or driver is present. */
tp_status tp_device_count(int *count);

/* Free and total memory of `device` as cudaMemGetInfo reports them.
 * TP_ERR_NO_DEVICE when there is no device or `device` is out of range. */
tp_status tp_device_memory_info(int device, size_t *free_bytes,
                                size_t *total_bytes);

#ifdef __cplusplus
}
#endif

#endif
