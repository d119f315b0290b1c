/* A pretend device for tests on machines without a GPU: a device backend
 * whose memory the host cannot read. Each block is a memfd mapped twice: the
 * pointer buffers get is a PROT_NONE mapping (a host read or write of it is
 * a segmentation fault, as a device pointer would be on a GPU machine), and
 * the backend's copies, fills and arithmetic work through a second, readable
 * mapping of the same memory. Collectives take the staged MPI path of the
 * real device backend (src/device/staged_collectives.c).
 *
 * With it, every runtime created afterwards has a "device" (id 0, shared by
 * the node's ranks) and the automatic choice puts big tensors there, so a
 * test or example that reads tp_buffer_data of an automatically placed
 * buffer on the host crashes here exactly as it would on a GPU machine.
 *
 * Turned on by the environment variable TP_TEST_PRETEND_DEVICE, read here
 * only (the library never reads it): "1" installs it; "used" also makes the
 * process fail at exit if no pretend-device memory was ever handed out
 * (tests/support/pretend_device_on_start.c, for programs that cannot check
 * this themselves). */
#ifndef TP_TEST_PRETEND_DEVICE_H
#define TP_TEST_PRETEND_DEVICE_H

#include <stddef.h>

/* Installs the pretend device for runtimes created from now on. */
void tp_pretend_device_install(void);
/* Installs it when TP_TEST_PRETEND_DEVICE is set (not empty, not "0");
 * returns whether it did. */
int tp_pretend_device_from_env(void);
/* Blocks of pretend-device memory handed out so far in this process. */
size_t tp_pretend_device_blocks_served(void);

#endif
