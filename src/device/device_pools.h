/* Internal: the registry of shared per-device pools. */
#ifndef TP_DEVICE_DEVICE_POOLS_H
#define TP_DEVICE_DEVICE_POOLS_H

#include "tensorpool/device.h"

/* The largest device id the shared pools serve, plus one. */
#define TP_MAX_DEVICES 64

/* Makes every shared pool of `device` that exists forget `stream`. */
tp_status tp_device_pools_forget_stream(int device, tp_stream stream);

#endif
