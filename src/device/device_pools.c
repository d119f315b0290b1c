/* Every pool the library makes over CUDA spaces, listed under one lock:
 * the shared per-device pools (created on first use, destroyed together by
 * tp_device_pools_destroy) and each runtime's own pools (made and released
 * by the runtime's backends). */
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "core/error.h"
#include "core/versioned.h"
#include "device/cuda_space.h"
#include "device/device_guard.h"
#include "device/device_pools.h"
#include "pool/pool_config.h"

typedef struct listed_pool {
  tp_space *space;
  tp_pool *pool;
  int device;
  char name[64]; /* the pool's name (tp_pool_create copies it too) */
  struct listed_pool *next;
} listed_pool;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static tp_device_pool_config registry_config = TP_DEVICE_POOL_CONFIG_INIT;
/* The pool configuration registry_config.pool points to (a copy). */
static tp_pool_config registry_pool_config = TP_POOL_CONFIG_INIT;
static listed_pool *listed; /* every pool made here, shared or not */
static listed_pool *shared_device[TP_MAX_DEVICES];
static listed_pool *shared_pinned[TP_MAX_DEVICES];

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
  /* Refused now rather than by the first tp_device_pool, far from here:
   * the same check as tp_pool_create's. */
  st = tp_pool_config_check(fn, &pool);
  if (st != TP_SUCCESS)
    return st;
  pthread_mutex_lock(&registry_lock);
  registry_pool_config = pool;
  registry_config = settings;
  registry_config.pool = &registry_pool_config;
  pthread_mutex_unlock(&registry_lock);
  return TP_SUCCESS;
}

/* Destroys a space this file made, device or pinned. */
static tp_status destroy_space(tp_space *space) {
  return space->kind == TP_SPACE_DEVICE ? tp_device_space_destroy(space)
                                        : tp_pinned_space_destroy(space);
}

/* Makes and lists a pool (lock held) with the registry's settings, except
 * that a `limit` other than 0 replaces the registry's limit and a `name`
 * other than NULL its name (the space's name when neither has one). */
static tp_status make_listed(const char *caller, int device, bool pinned,
                             size_t limit, const char *name,
                             listed_pool **out) {
  listed_pool *entry = calloc(1, sizeof *entry);
  if (!entry)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no host memory for a pool",
                   caller);
  tp_space *space = NULL;
  tp_status st;
  if (pinned) {
    st = tp_pinned_space_create(device, &space);
  } else {
    tp_device_space_config space_config = TP_DEVICE_SPACE_CONFIG_INIT;
    space_config.upstream = registry_config.upstream;
    st = tp_device_space_create(device, &space_config, &space);
  }
  if (st != TP_SUCCESS) {
    free(entry);
    return tp_fail_context(st, "%s", caller);
  }
  tp_pool_config pool_config = registry_pool_config;
  if (name) {
    size_t n = strlen(name);
    n = n < sizeof entry->name ? n : sizeof entry->name - 1;
    memcpy(entry->name, name, n); /* calloc ended it already */
    pool_config.name = entry->name;
  } else if (!pool_config.name) {
    pool_config.name = space->name;
  }
  if (limit != 0)
    pool_config.limit = limit;
  tp_pool *pool = NULL;
  st = tp_pool_create(space, &pool_config, &pool);
  if (st != TP_SUCCESS) {
    tp_status keep = st;
    (void)destroy_space(space);
    free(entry);
    return tp_fail_context(keep, "%s: device %d", caller, device);
  }
  entry->space = space;
  entry->pool = pool;
  entry->device = device;
  entry->next = listed;
  listed = entry;
  *out = entry;
  return TP_SUCCESS;
}

/* Unlists `entry` (lock held). */
static void unlist(listed_pool *entry) {
  for (listed_pool **p = &listed; *p; p = &(*p)->next)
    if (*p == entry) {
      *p = entry->next;
      return;
    }
}

/* Retires, destroys and frees an unlisted entry; the first failure. */
static tp_status destroy_entry(listed_pool *entry) {
  tp_status first = tp_cuda_space_retire(entry->space);
  tp_status st = tp_pool_destroy(entry->pool);
  if (first == TP_SUCCESS)
    first = st;
  st = destroy_space(entry->space);
  if (first == TP_SUCCESS)
    first = st;
  free(entry);
  return first;
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
  listed_pool **slot = pinned ? &shared_pinned[device] : &shared_device[device];
  if (!*slot)
    st = make_listed(caller, device, pinned, 0, NULL, slot);
  if (st == TP_SUCCESS)
    *out = (*slot)->pool;
  pthread_mutex_unlock(&registry_lock);
  return st;
}

tp_status tp_device_pool(int device, tp_pool **out) {
  return shared_pool_get("tp_device_pool", device, false, out);
}

tp_status tp_pinned_pool(int device, tp_pool **out) {
  return shared_pool_get("tp_pinned_pool", device, true, out);
}

tp_status tp_device_pools_destroy(void) {
  tp_status first = TP_SUCCESS;
  /* Unlisted under the lock, destroyed after it: a device-wide wait must not
   * hold up other threads' pool look-ups. */
  listed_pool *doomed[2 * TP_MAX_DEVICES];
  int n = 0;
  pthread_mutex_lock(&registry_lock);
  for (int d = 0; d < TP_MAX_DEVICES; ++d) {
    listed_pool **slots[2] = {&shared_device[d], &shared_pinned[d]};
    for (int i = 0; i < 2; ++i)
      if (*slots[i]) {
        unlist(*slots[i]);
        doomed[n++] = *slots[i];
        *slots[i] = NULL;
      }
  }
  pthread_mutex_unlock(&registry_lock);
  for (int i = 0; i < n; ++i) {
    tp_status st = destroy_entry(doomed[i]);
    if (first == TP_SUCCESS)
      first = st;
  }
  return first;
}

tp_status tp_device_pool_make(const char *caller, int device, bool pinned,
                              const char *name, tp_pool **out) {
  listed_pool *entry = NULL;
  pthread_mutex_lock(&registry_lock);
  tp_status st =
      make_listed(caller, device, pinned, TP_UNLIMITED, name, &entry);
  pthread_mutex_unlock(&registry_lock);
  if (st == TP_SUCCESS)
    *out = entry->pool;
  return st;
}

tp_status tp_device_pool_release(tp_pool *pool) {
  if (!pool)
    return TP_SUCCESS;
  listed_pool *entry = NULL;
  pthread_mutex_lock(&registry_lock);
  for (listed_pool *e = listed; e; e = e->next)
    if (e->pool == pool)
      entry = e;
  if (entry)
    unlist(entry);
  pthread_mutex_unlock(&registry_lock);
  if (!entry)
    return tp_fail(TP_ERR_INTERNAL,
                   "tp_device_pool_release: pool '%s' was not made by "
                   "tp_device_pool_make",
                   tp_pool_name(pool));
  return destroy_entry(entry);
}

tp_status tp_device_pools_forget_stream(int device, tp_stream stream) {
  tp_status first = TP_SUCCESS;
  pthread_mutex_lock(&registry_lock);
  for (listed_pool *e = listed; e; e = e->next) {
    if (e->device != device)
      continue;
    tp_status st = tp_pool_forget_stream(e->pool, stream);
    if (st != TP_SUCCESS && first == TP_SUCCESS)
      first = st;
  }
  pthread_mutex_unlock(&registry_lock);
  return first;
}
