/* Internal: what the device provider asks before choosing a rank's device.
 * Every function exists in every build (without CUDA: no device). */
#ifndef TP_DEVICE_DEVICE_QUERY_H
#define TP_DEVICE_DEVICE_QUERY_H

#include "tensorpool/status.h"

/* The device of the calling thread's current context, or -1 when the thread
 * has none (it never chose a device): a question that, unlike cudaGetDevice,
 * does not answer 0 for "nothing chosen", and creates no context. */
tp_status tp_device_current(int *device);

/* The 16-byte UUID of `device` (cudaDeviceProp.uuid): the same physical GPU
 * gives the same bytes in every process, which is how ranks find out that
 * they share one. */
tp_status tp_device_uuid(int device, unsigned char uuid[16]);

#endif
