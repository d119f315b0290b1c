/* The configuration of the PyTorch allocator (libtensorpool_torch.so), read
 * from the environment variable TP_TORCH_ALLOC_CONF, written like PyTorch's
 * PYTORCH_CUDA_ALLOC_CONF: comma-separated key:value pairs, e.g.
 *
 *   TP_TORCH_ALLOC_CONF=limit:60GiB,max_cached:8GiB,upstream:malloc_async
 *
 * Keys (every one optional):
 *   limit           hard limit on the bytes each device's pool reserves
 *                   (live + cached); "unlimited" (the default) or a size
 *   max_cached      cached bytes kept per pool; more are given back
 *   max_cached_blocks  cached blocks kept per size class
 *   divisions       size classes per power of two: 1, 2, 4, 8 or 16
 *   upstream        malloc (cudaMalloc) or malloc_async (a cudaMemPool)
 *   stats           1: print each pool's statistics to stderr at exit
 *   event_log       path of a CSV log of every pool event
 * Sizes are a number with an optional suffix K, M, G, T (powers of 1024,
 * also written KB/KiB, MB/MiB, ...). */
#ifndef TP_TORCH_CONF_H
#define TP_TORCH_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "tensorpool/device.h"

typedef struct tp_torch_conf {
  size_t limit;
  size_t max_cached;
  size_t max_cached_blocks;
  unsigned divisions;
  tp_device_upstream upstream;
  bool print_stats;
  char event_log[512]; /* "" when none */
} tp_torch_conf;

/* The defaults: no limits, 4 divisions, cudaMalloc upstream, no printout. */
void tp_torch_conf_defaults(tp_torch_conf *conf);

/* Parses `text` (NULL or "": the defaults) into *conf. Returns 0, or -1
 * with the reason in `error` (and *conf left at the defaults). */
int tp_torch_conf_parse(const char *text, tp_torch_conf *conf, char *error,
                        size_t error_size);

/* Parses a size ("512", "64KiB", "8G", "unlimited"): 0, or -1. */
int tp_torch_parse_size(const char *text, size_t *out);

#endif
