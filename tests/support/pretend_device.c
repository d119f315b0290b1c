/* The pretend device of pretend_device.h: a tp_space over double-mapped
 * memfd blocks, and a backend provider that registers a device backend over
 * it in place of the CUDA provider. */
#define _GNU_SOURCE /* memfd_create */

#include "pretend_device.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/error.h"
#include "device/staged_collectives.h"
#include "host/host_kernels.h"
#include "runtime/runtime_internal.h"

/* What the pretend device reports as its memory: enough for every test,
 * small enough that the automatic budget arithmetic stays ordinary. */
#define PRETEND_TOTAL_BYTES ((size_t)4 << 30)

typedef struct block {
  char *device; /* PROT_NONE: what buffers see */
  char *alias;  /* read-write: what the backend works through */
  size_t bytes;
  struct block *next;
} block;

/* One process-wide table of blocks: every pretend space shares it, so a
 * pointer of any runtime's pretend device translates. */
static pthread_mutex_t blocks_lock = PTHREAD_MUTEX_INITIALIZER;
static block *blocks;
static size_t bytes_out;
static atomic_size_t served;

/* The readable view of `p`: its alias when it is pretend-device memory,
 * else `p` itself (host memory). */
static void *view(const void *p) {
  const char *c = p;
  void *out = (void *)(uintptr_t)p;
  pthread_mutex_lock(&blocks_lock);
  for (block *b = blocks; b; b = b->next)
    if (c >= b->device && c < b->device + b->bytes) {
      out = b->alias + (c - b->device);
      break;
    }
  pthread_mutex_unlock(&blocks_lock);
  return out;
}

/* ---- The space ---------------------------------------------------------- */

static tp_status pretend_get(void *ctx, size_t bytes, void **out) {
  (void)ctx;
  block *b = calloc(1, sizeof *b);
  int fd = b ? memfd_create("tp-pretend-device", MFD_CLOEXEC) : -1;
  if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0) {
    if (fd >= 0)
      close(fd);
    free(b);
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "pretend device: no memfd for %zu bytes", bytes);
  }
  b->alias = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  b->device = mmap(NULL, bytes, PROT_NONE, MAP_SHARED, fd, 0);
  close(fd); /* the mappings keep the memory */
  if (b->alias == MAP_FAILED || b->device == MAP_FAILED) {
    if (b->alias != MAP_FAILED)
      munmap(b->alias, bytes);
    if (b->device != MAP_FAILED)
      munmap(b->device, bytes);
    free(b);
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "pretend device: cannot map %zu bytes",
                   bytes);
  }
  b->bytes = bytes;
  pthread_mutex_lock(&blocks_lock);
  b->next = blocks;
  blocks = b;
  bytes_out += bytes;
  pthread_mutex_unlock(&blocks_lock);
  atomic_fetch_add(&served, 1);
  *out = b->device; /* page-aligned, so 256-byte aligned */
  return TP_SUCCESS;
}

static tp_status pretend_put(void *ctx, void *ptr, size_t bytes,
                             tp_stream stream) {
  (void)ctx, (void)stream;
  block *found = NULL;
  pthread_mutex_lock(&blocks_lock);
  for (block **p = &blocks; *p; p = &(*p)->next)
    if ((*p)->device == ptr) {
      found = *p;
      *p = found->next;
      bytes_out -= found->bytes;
      break;
    }
  pthread_mutex_unlock(&blocks_lock);
  if (!found)
    return tp_fail(TP_ERR_INVALID_POINTER,
                   "pretend device: put of %p (%zu bytes), not a block", ptr,
                   bytes);
  munmap(found->device, found->bytes);
  munmap(found->alias, found->bytes);
  free(found);
  return TP_SUCCESS;
}

/* Work runs when it is queued, as on the host: events are complete at once
 * and streams have nothing to wait for. */
static tp_status pretend_event_create(void *ctx, tp_event *out) {
  (void)ctx;
  *out = (tp_event)(uintptr_t)1;
  return TP_SUCCESS;
}
static tp_status pretend_event_destroy(void *ctx, tp_event event) {
  (void)ctx, (void)event;
  return TP_SUCCESS;
}
static tp_status pretend_event_record(void *ctx, tp_event event,
                                      tp_stream stream) {
  (void)ctx, (void)event, (void)stream;
  return TP_SUCCESS;
}
static tp_status pretend_stream_wait(void *ctx, tp_stream stream,
                                     tp_event event) {
  (void)ctx, (void)stream, (void)event;
  return TP_SUCCESS;
}
static tp_status pretend_event_query(void *ctx, tp_event event, bool *done) {
  (void)ctx, (void)event;
  *done = true;
  return TP_SUCCESS;
}
static tp_status pretend_stream_sync(void *ctx, tp_stream stream) {
  (void)ctx, (void)stream;
  return TP_SUCCESS;
}

static const tp_space_ops pretend_space_ops = {sizeof(tp_space_ops),
                                               pretend_get,
                                               pretend_put,
                                               pretend_event_create,
                                               pretend_event_destroy,
                                               pretend_event_record,
                                               pretend_stream_wait,
                                               pretend_event_query,
                                               pretend_stream_sync,
                                               0,
                                               NULL,
                                               NULL,
                                               NULL};

static const tp_space pretend_space = {&pretend_space_ops, NULL,
                                       TP_SPACE_DEVICE, 0, "pretend-device:0"};

/* ---- The backend -------------------------------------------------------- */

static tp_status pretend_fill_constant(tp_backend *b, void *dst, size_t count,
                                       tp_dtype dtype, const void *value,
                                       tp_stream stream) {
  return tp_host_fill_constant(b, view(dst), count, dtype, value, stream);
}

static tp_status pretend_fill_generator(tp_backend *b, void *dst,
                                        const tp_layout *layout,
                                        const tp_tile *tile,
                                        const tp_generator *generator,
                                        tp_stream stream) {
  return tp_host_fill_generator(b, view(dst), layout, tile, generator, stream);
}

static tp_status pretend_fill_expression(tp_backend *b, void *dst,
                                         const tp_layout *layout,
                                         const tp_tile *tile,
                                         const struct tp_expression *expression,
                                         tp_stream stream) {
  return tp_host_fill_expression(b, view(dst), layout, tile, expression,
                                 stream);
}

/* Either side may be pretend-device or host memory, as for a GPU's copy. */
static tp_status pretend_copy(tp_backend *b, void *dst, const void *src,
                              size_t bytes, tp_stream stream) {
  (void)b, (void)stream;
  if (bytes == 0)
    return TP_SUCCESS;
  if (!dst || !src)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "pretend device copy: NULL dst or src for %zu bytes", bytes);
  memmove(view(dst), view(src), bytes);
  return TP_SUCCESS;
}

static tp_status pretend_axpby(tp_backend *b, tp_dtype dtype, size_t count,
                               const void *alpha, const void *x,
                               const void *beta, const void *y, void *out,
                               tp_stream stream) {
  return tp_host_axpby(b, dtype, count, alpha, view(x), beta, view(y),
                       view(out), stream);
}

static tp_status pretend_sync(tp_backend *b, tp_stream stream) {
  (void)b, (void)stream;
  return TP_SUCCESS;
}

static tp_status pretend_memory_info(tp_backend *b, size_t *free_bytes,
                                     size_t *total_bytes) {
  (void)b;
  pthread_mutex_lock(&blocks_lock);
  size_t out = bytes_out;
  pthread_mutex_unlock(&blocks_lock);
  *total_bytes = PRETEND_TOTAL_BYTES;
  *free_bytes = out < PRETEND_TOTAL_BYTES ? PRETEND_TOTAL_BYTES - out : 0;
  return TP_SUCCESS;
}

static void pretend_destroy(tp_backend *b) {
  (void)tp_pool_destroy(b->pool);
  free(b);
}

static const tp_backend_ops pretend_backend_ops = {
    pretend_fill_constant, pretend_fill_generator, pretend_fill_expression,
    pretend_copy,          pretend_axpby,          pretend_sync,
    pretend_memory_info,   tp_staged_allgatherv,   tp_staged_alltoallv,
    pretend_destroy};

/* The provider: device 0, shared by every rank of the node. */
static tp_status add_pretend_device(tp_runtime *rt) {
  if (rt->config.device > 0)
    return tp_fail(TP_ERR_NO_DEVICE,
                   "pretend device: device %d asked for; there is only 0",
                   rt->config.device);
  if (rt->config.disabled_spaces & TP_SPACE_BIT(TP_SPACE_DEVICE))
    return TP_SUCCESS;
  tp_runtime_use_device(rt, 0, rt->local_size);
  tp_backend *b = calloc(1, sizeof *b);
  if (!b)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "pretend device: no host memory");
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.name = "pretend-device";
  tp_status st = tp_pool_create(&pretend_space, &config, &b->pool);
  if (st != TP_SUCCESS) {
    free(b);
    return st;
  }
  b->ops = &pretend_backend_ops;
  b->kind = TP_SPACE_DEVICE;
  b->name = "device:0";
  b->runtime = rt;
  b->device = 0;
  st = tp_runtime_add_backend(rt, b);
  if (st != TP_SUCCESS)
    pretend_destroy(b);
  return st;
}

static const tp_backend_provider pretend_provider = {"pretend device",
                                                     add_pretend_device};

void tp_pretend_device_install(void) {
  tp_backend_providers_replace(&pretend_provider);
}

int tp_pretend_device_from_env(void) {
  const char *on = getenv("TP_TEST_PRETEND_DEVICE");
  if (!on || !*on || strcmp(on, "0") == 0)
    return 0;
  tp_pretend_device_install();
  return 1;
}

size_t tp_pretend_device_blocks_served(void) {
  return atomic_load(&served);
}
