/* Internal to kernels/: the grid of a grid-stride kernel. */
#ifndef TP_KERNELS_LAUNCH_GRID_H
#define TP_KERNELS_LAUNCH_GRID_H

#include <stddef.h>

#include <cuda_runtime_api.h>

/* Threads per block of every fill kernel. */
#define TP_FILL_THREADS 256

/* Blocks for `work_items` items: enough for one item per thread, but at most
 * a few waves over the multiprocessors of the current device (the threads
 * then stride over the rest), and at least 1. */
static inline cudaError_t tp_fill_blocks(size_t work_items, unsigned *blocks) {
  int device = 0, sms = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess)
    return err;
  err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (err != cudaSuccess)
    return err;
  size_t wanted = (work_items + TP_FILL_THREADS - 1) / TP_FILL_THREADS;
  size_t most = (size_t)(sms > 0 ? sms : 1) * 8u; /* 8 resident blocks/SM */
  if (wanted > most)
    wanted = most;
  *blocks = wanted > 0 ? (unsigned)wanted : 1u;
  return cudaSuccess;
}

#endif
