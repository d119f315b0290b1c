/* Internal: the pools the library makes over CUDA spaces. Two owners:
 *   - the process: one shared pool of device memory and one of pinned
 *     memory per device (tp_device_pool, tp_pinned_pool), for code that
 *     uses pools directly; tp_device_pools_destroy removes them;
 *   - a runtime: its own device and pinned pools (the backends of
 *     src/device/cuda_backends_add.c), whose limit is the runtime's budget
 *     and which only the runtime destroys.
 * Every one of them is listed here, so that tp_device_stream_destroy can make
 * each pool of the device forget the stream before it dies. */
#ifndef TP_DEVICE_DEVICE_POOLS_H
#define TP_DEVICE_DEVICE_POOLS_H

#include <stdbool.h>

#include "tensorpool/device.h"

/* The largest device id the shared pools serve, plus one. */
#define TP_MAX_DEVICES 64

/* Makes every listed pool of `device` forget `stream`. */
tp_status tp_device_pools_forget_stream(int device, tp_stream stream);

/* A new pool of device (or pinned) memory of `device`, with the upstream and
 * pool settings of tp_device_pools_configure except its limit (TP_UNLIMITED
 * here: the owner sets it) and its name (`name`, copied). Listed until
 * tp_device_pool_release. */
tp_status tp_device_pool_make(const char *caller, int device, bool pinned,
                              const char *name, tp_pool **out);
/* Unlists, retires the space (tp_cuda_space_retire), destroys the pool
 * and its space. NULL does nothing. */
tp_status tp_device_pool_release(tp_pool *pool);

#endif
