/* One shared pool of device memory and one of pinned memory per device,
 * created on first use under a lock and destroyed together. */
#include <pthread.h>

#include "core/error.h"
#include "core/versioned.h"
#include "device/cuda_space.h"
#include "device/device_guard.h"
#include "device/device_pools.h"

typedef struct shared_pool {
  tp_space *space;
  tp_pool *pool;
} shared_pool;

/* Destroys a space this file made, device or pinned. */
static tp_status destroy_space(tp_space *space) {
  return space->kind == TP_SPACE_DEVICE ? tp_device_space_destroy(space)
                                        : tp_pinned_space_destroy(space);
}

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static tp_device_pool_config registry_config = TP_DEVICE_POOL_CONFIG_INIT;
/* The pool configuration registry_config.pool points to (a copy). */
static tp_pool_config registry_pool_config = TP_POOL_CONFIG_INIT;
static shared_pool device_pools[TP_MAX_DEVICES];
static shared_pool pinned_pools[TP_MAX_DEVICES];

tp_status tp_device_pools_configure(const tp_device_pool_config *config) {
  static const char fn[] = "tp_device_pools_configure";
  if (!config)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL config", fn);
  tp_device_pool_config settings = TP_DEVICE_POOL_CONFIG_INIT;
  tp_status st = tp_versioned_read(fn, "TP_DEVICE_POOL_CONFIG_INIT", config,
                                   &settings, sizeof settings);
  if (st != TP_SUCCESS)
    return st;
  tp_pool_config pool = TP_POOL_CONFIG_INIT;
  if (settings.pool)
    st = tp_versioned_read(fn, "TP_POOL_CONFIG_INIT", settings.pool, &pool,
                           sizeof pool);
  if (st != TP_SUCCESS)
    return st;
  if (settings.upstream != TP_DEVICE_UPSTREAM_MALLOC &&
      settings.upstream != TP_DEVICE_UPSTREAM_MALLOC_ASYNC)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: unknown upstream %d", fn,
                   (int)settings.upstream);
  pthread_mutex_lock(&registry_lock);
  registry_pool_config = pool;
  registry_config = settings;
  registry_config.pool = &registry_pool_config;
  pthread_mutex_unlock(&registry_lock);
  return TP_SUCCESS;
}

/* Creates the space and pool of `slot` unless they exist (lock held). */
static tp_status ensure_pool(const char *caller, int device, bool pinned,
                             shared_pool *slot) {
  if (slot->pool)
    return TP_SUCCESS;
  tp_space *space = NULL;
  tp_status st;
  if (pinned) {
    st = tp_pinned_space_create(device, &space);
  } else {
    tp_device_space_config space_config = TP_DEVICE_SPACE_CONFIG_INIT;
    space_config.upstream = registry_config.upstream;
    st = tp_device_space_create(device, &space_config, &space);
  }
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s", caller);
  tp_pool_config pool_config = registry_pool_config;
  if (!pool_config.name)
    pool_config.name = space->name;
  tp_pool *pool = NULL;
  st = tp_pool_create(space, &pool_config, &pool);
  if (st != TP_SUCCESS) {
    tp_status keep = st;
    (void)destroy_space(space);
    return tp_fail_context(keep, "%s: device %d", caller, device);
  }
  slot->space = space;
  slot->pool = pool;
  return TP_SUCCESS;
}

static tp_status shared_pool_get(const char *caller, int device, bool pinned,
                                 tp_pool **out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL out-pointer", caller);
  tp_status st = tp_device_check(caller, device);
  if (st != TP_SUCCESS)
    return st;
  if (device >= TP_MAX_DEVICES)
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "%s: device %d: shared pools serve devices 0..%d", caller,
                   device, TP_MAX_DEVICES - 1);
  pthread_mutex_lock(&registry_lock);
  shared_pool *slot = pinned ? &pinned_pools[device] : &device_pools[device];
  st = ensure_pool(caller, device, pinned, slot);
  if (st == TP_SUCCESS)
    *out = slot->pool;
  pthread_mutex_unlock(&registry_lock);
  return st;
}

tp_status tp_device_pool(int device, tp_pool **out) {
  return shared_pool_get("tp_device_pool", device, false, out);
}

tp_status tp_pinned_pool(int device, tp_pool **out) {
  return shared_pool_get("tp_pinned_pool", device, true, out);
}

/* Destroys one slot's pool and space, keeping the first failure. */
static void destroy_slot(shared_pool *slot, tp_status *first) {
  if (!slot->pool)
    return;
  tp_status st = tp_pool_destroy(slot->pool);
  if (st != TP_SUCCESS && *first == TP_SUCCESS)
    *first = st;
  st = destroy_space(slot->space);
  if (st != TP_SUCCESS && *first == TP_SUCCESS)
    *first = st;
  slot->pool = NULL;
  slot->space = NULL;
}

tp_status tp_device_pools_destroy(void) {
  tp_status first = TP_SUCCESS;
  pthread_mutex_lock(&registry_lock);
  for (int d = 0; d < TP_MAX_DEVICES; ++d) {
    destroy_slot(&device_pools[d], &first);
    destroy_slot(&pinned_pools[d], &first);
  }
  pthread_mutex_unlock(&registry_lock);
  return first;
}

tp_status tp_device_pools_forget_stream(int device, tp_stream stream) {
  if (device < 0 || device >= TP_MAX_DEVICES)
    return TP_SUCCESS; /* no shared pool can know the stream */
  tp_status first = TP_SUCCESS;
  pthread_mutex_lock(&registry_lock);
  shared_pool *slots[2] = {&device_pools[device], &pinned_pools[device]};
  for (int i = 0; i < 2; ++i) {
    if (!slots[i]->pool)
      continue;
    tp_status st = tp_pool_forget_stream(slots[i]->pool, stream);
    if (st != TP_SUCCESS && first == TP_SUCCESS)
      first = st;
  }
  pthread_mutex_unlock(&registry_lock);
  return first;
}
