#define _POSIX_C_SOURCE 200809L
#include "sim_vmm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* An address range: host memory standing for device addresses, and which
 * handle (0: none) is mapped on each granule. */
typedef struct sim_range {
  char *base;
  size_t bytes;
  uint64_t *mapped;
  struct sim_range *next;
} sim_range;

/* Handles are numbered from 1; `alive` says which exist, `on` whether one
 * is mapped somewhere. */
struct tp_sim_vmm {
  pthread_mutex_t lock;
  tp_vmm_driver driver;
  size_t granule, capacity;
  sim_range *ranges;
  uint8_t *alive, *on;
  uint64_t handle_cap, next_handle;
  tp_sim_vmm_counters counters;
};

static sim_range *range_of(tp_sim_vmm *sim, uintptr_t va) {
  for (sim_range *r = sim->ranges; r; r = r->next)
    if (va >= (uintptr_t)r->base && va < (uintptr_t)r->base + r->bytes)
      return r;
  return NULL;
}

static tp_status refuse(tp_sim_vmm *sim, const char *why) {
  sim->counters.violations++;
  return tp_fail(TP_ERR_INVALID_ARGUMENT, "sim vmm: %s", why);
}

static tp_status sim_reserve(void *ctx, size_t bytes, uintptr_t *out) {
  tp_sim_vmm *sim = ctx;
  sim_range *r = calloc(1, sizeof *r);
  if (r)
    r->mapped = calloc(bytes / sim->granule + 1, sizeof *r->mapped);
  if (!r || !r->mapped ||
      posix_memalign((void **)&r->base, sim->granule, bytes) != 0) {
    if (r)
      free(r->mapped);
    free(r);
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "sim vmm: no host memory");
  }
  r->bytes = bytes;
  pthread_mutex_lock(&sim->lock);
  r->next = sim->ranges;
  sim->ranges = r;
  sim->counters.reserves++;
  sim->counters.reserved_bytes += bytes;
  pthread_mutex_unlock(&sim->lock);
  *out = (uintptr_t)r->base;
  return TP_SUCCESS;
}

static tp_status sim_unreserve(void *ctx, uintptr_t va, size_t bytes) {
  tp_sim_vmm *sim = ctx;
  pthread_mutex_lock(&sim->lock);
  tp_status st = TP_SUCCESS;
  sim_range **link = &sim->ranges;
  while (*link && (uintptr_t)(*link)->base != va)
    link = &(*link)->next;
  sim_range *r = *link;
  if (!r || r->bytes != bytes)
    st = refuse(sim, "unreserve of a range that was not reserved");
  for (size_t i = 0; st == TP_SUCCESS && i < bytes / sim->granule; i++)
    if (r->mapped[i])
      st = refuse(sim, "unreserve of a range with granules still mapped");
  if (st == TP_SUCCESS) {
    *link = r->next;
    sim->counters.unreserves++;
    sim->counters.reserved_bytes -= bytes;
    free(r->base);
    free(r->mapped);
    free(r);
  }
  pthread_mutex_unlock(&sim->lock);
  return st;
}

static tp_status sim_create(void *ctx, size_t bytes, uint64_t *handle) {
  tp_sim_vmm *sim = ctx;
  pthread_mutex_lock(&sim->lock);
  tp_status st = TP_SUCCESS;
  if (bytes != sim->granule)
    st = refuse(sim, "create of other than one granule");
  else if ((sim->counters.handles_alive + 1) * sim->granule > sim->capacity)
    st = tp_fail(TP_ERR_OUT_OF_MEMORY, "sim vmm: device memory exhausted");
  if (st == TP_SUCCESS && sim->next_handle + 1 >= sim->handle_cap) {
    uint64_t cap = sim->handle_cap ? 2 * sim->handle_cap : 1024;
    uint8_t *alive = realloc(sim->alive, cap), *on = realloc(sim->on, cap);
    if (alive)
      sim->alive = alive;
    if (on)
      sim->on = on;
    if (!alive || !on) {
      st = tp_fail(TP_ERR_OUT_OF_MEMORY, "sim vmm: no host memory");
    } else {
      memset(sim->alive + sim->handle_cap, 0, cap - sim->handle_cap);
      memset(sim->on + sim->handle_cap, 0, cap - sim->handle_cap);
      sim->handle_cap = cap;
    }
  }
  if (st == TP_SUCCESS) {
    *handle = ++sim->next_handle;
    sim->alive[*handle] = 1;
    sim->counters.creates++;
    sim->counters.handles_alive++;
  }
  pthread_mutex_unlock(&sim->lock);
  return st;
}

static tp_status sim_release(void *ctx, uint64_t handle) {
  tp_sim_vmm *sim = ctx;
  pthread_mutex_lock(&sim->lock);
  tp_status st = TP_SUCCESS;
  if (handle == 0 || handle > sim->next_handle || !sim->alive[handle])
    st = refuse(sim, "release of a handle that does not exist");
  else if (sim->on[handle])
    st = refuse(sim, "release of a handle still mapped");
  if (st == TP_SUCCESS) {
    sim->alive[handle] = 0;
    sim->counters.releases++;
    sim->counters.handles_alive--;
  }
  pthread_mutex_unlock(&sim->lock);
  return st;
}

static tp_status sim_map(void *ctx, uintptr_t va, size_t bytes,
                         uint64_t handle) {
  tp_sim_vmm *sim = ctx;
  pthread_mutex_lock(&sim->lock);
  sim_range *r = range_of(sim, va);
  size_t i = r ? (va - (uintptr_t)r->base) / sim->granule : 0;
  tp_status st = TP_SUCCESS;
  if (!r || (va - (uintptr_t)r->base) % sim->granule || bytes != sim->granule)
    st = refuse(sim, "map of other than one granule of a reserved range");
  else if (handle == 0 || handle > sim->next_handle || !sim->alive[handle] ||
           sim->on[handle])
    st = refuse(sim, "map of a handle that does not exist or is mapped");
  else if (r->mapped[i])
    st = refuse(sim, "map onto a granule already mapped");
  if (st == TP_SUCCESS) {
    r->mapped[i] = handle;
    sim->on[handle] = 1;
    sim->counters.maps++;
    sim->counters.mapped_bytes += bytes;
  }
  pthread_mutex_unlock(&sim->lock);
  return st;
}

static tp_status sim_unmap(void *ctx, uintptr_t va, size_t bytes) {
  tp_sim_vmm *sim = ctx;
  pthread_mutex_lock(&sim->lock);
  sim_range *r = range_of(sim, va);
  size_t i = r ? (va - (uintptr_t)r->base) / sim->granule : 0;
  tp_status st = TP_SUCCESS;
  if (!r || (va - (uintptr_t)r->base) % sim->granule || bytes != sim->granule)
    st = refuse(sim, "unmap of other than one granule of a reserved range");
  else if (!r->mapped[i])
    st = refuse(sim, "unmap of a granule not mapped");
  if (st == TP_SUCCESS) {
    sim->on[r->mapped[i]] = 0;
    r->mapped[i] = 0;
    /* Whatever was there is gone with the physical memory. */
    memset(r->base + i * sim->granule, 0xDD, sim->granule);
    sim->counters.unmaps++;
    sim->counters.mapped_bytes -= bytes;
  }
  pthread_mutex_unlock(&sim->lock);
  return st;
}

tp_sim_vmm *tp_sim_vmm_create(size_t granule, size_t capacity) {
  tp_sim_vmm *sim = calloc(1, sizeof *sim);
  if (!sim)
    return NULL;
  pthread_mutex_init(&sim->lock, NULL);
  sim->granule = granule;
  sim->capacity = capacity;
  sim->driver =
      (tp_vmm_driver){sim,         sim_reserve, sim_unreserve, sim_create,
                      sim_release, sim_map,     sim_unmap};
  return sim;
}

size_t tp_sim_vmm_destroy(tp_sim_vmm *sim) {
  size_t leaked = sim->counters.mapped_bytes + sim->counters.reserved_bytes;
  while (sim->ranges) {
    sim_range *r = sim->ranges;
    sim->ranges = r->next;
    free(r->base);
    free(r->mapped);
    free(r);
  }
  free(sim->alive);
  free(sim->on);
  pthread_mutex_destroy(&sim->lock);
  free(sim);
  return leaked;
}

const tp_vmm_driver *tp_sim_vmm_driver(tp_sim_vmm *sim) {
  return &sim->driver;
}

void tp_sim_vmm_set_capacity(tp_sim_vmm *sim, size_t capacity) {
  pthread_mutex_lock(&sim->lock);
  sim->capacity = capacity;
  pthread_mutex_unlock(&sim->lock);
}

bool tp_sim_vmm_mapped(tp_sim_vmm *sim, const void *ptr, size_t bytes) {
  pthread_mutex_lock(&sim->lock);
  uintptr_t p = (uintptr_t)ptr;
  sim_range *r = range_of(sim, p);
  bool ok = r != NULL;
  if (r) {
    size_t first = (p - (uintptr_t)r->base) / sim->granule;
    size_t end =
        (p - (uintptr_t)r->base + bytes + sim->granule - 1) / sim->granule;
    for (size_t i = first; i < end && ok; i++)
      ok = (uintptr_t)r->base + i * sim->granule <
               (uintptr_t)r->base + r->bytes &&
           r->mapped[i] != 0;
  }
  pthread_mutex_unlock(&sim->lock);
  return ok;
}

tp_sim_vmm_counters tp_sim_vmm_get_counters(tp_sim_vmm *sim) {
  pthread_mutex_lock(&sim->lock);
  tp_sim_vmm_counters c = sim->counters;
  pthread_mutex_unlock(&sim->lock);
  return c;
}
