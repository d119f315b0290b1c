/* The runtime: ranks, the host pool and its budget, the registered backends
 * and their allocators. Which device a rank uses, and the backends over it,
 * come from the providers (src/backends.c): this folder calls no device
 * function. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/versioned.h"
#include "dist/dist.h"
#include "pool/pool_owner.h"
#include "runtime/runtime_internal.h"

/* The public call that owns the limit of a runtime's pools. */
static const char budget_setter[] = "tp_runtime_set_budget";

static int valid_backend(tp_space_kind kind) {
  return (int)kind >= 0 && (int)kind < TP_BACKEND_COUNT;
}

size_t tp_runtime_budget_for(const tp_runtime *runtime, tp_space_kind kind,
                             size_t free_bytes) {
  size_t budget = kind == TP_SPACE_HOST ? runtime->config.host_budget
                                        : runtime->config.device_budget;
  if (budget != 0)
    return budget;
  /* Host (and pinned) memory is shared by the ranks of a node; a device by
   * the ranks that use it, as the device provider counted them. */
  int sharing =
      kind == TP_SPACE_DEVICE ? runtime->device_sharing : runtime->local_size;
  return free_bytes / (size_t)(sharing > 0 ? sharing : 1);
}

void tp_runtime_use_device(tp_runtime *rt, int device, int sharing) {
  rt->device = device;
  rt->device_sharing = sharing;
}

void tp_runtime_buffer_born(tp_runtime *rt) {
  atomic_fetch_add(&rt->live_buffers, 1);
}

void tp_runtime_buffer_gone(tp_runtime *rt) {
  atomic_fetch_sub(&rt->live_buffers, 1);
}

tp_status tp_runtime_missing_backend(const tp_runtime *rt, const char *fn,
                                     tp_space_kind kind) {
  /* A space the configuration turned off is refused the same way on every
   * machine, GPU or not: the configuration lacks it. */
  if (rt->config.disabled_spaces & TP_SPACE_BIT(kind))
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "%s: no %s backend: this runtime's configuration disabled "
                   "the %s space (disabled_spaces)",
                   fn, tp_space_kind_name(kind), tp_space_kind_name(kind));
  if (rt->device < 0)
    return tp_fail(TP_ERR_NO_DEVICE,
                   "%s: no %s backend: rank %d has no device (a %s space "
                   "needs a CUDA build and a GPU)",
                   fn, tp_space_kind_name(kind), rt->rank,
                   tp_space_kind_name(kind));
  return tp_fail(TP_ERR_NOT_SUPPORTED,
                 "%s: no %s backend on rank %d (device %d)", fn,
                 tp_space_kind_name(kind), rt->rank, rt->device);
}

/* Checks the fields a provider relies on, before anything is created. */
static tp_status check_config(const char *fn, const tp_runtime_config *c) {
  if (c->device < TP_RUNTIME_DEVICE_CURRENT)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: device %d: give a device id, or "
                   "TP_RUNTIME_DEVICE_CURRENT (-1)",
                   fn, c->device);
  unsigned optional =
      TP_SPACE_BIT(TP_SPACE_PINNED) | TP_SPACE_BIT(TP_SPACE_DEVICE);
  if (c->disabled_spaces & TP_SPACE_BIT(TP_SPACE_HOST))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: disabled_spaces names the host space, which every "
                   "runtime has",
                   fn);
  if (c->disabled_spaces & ~optional)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: disabled_spaces 0x%x has bits of no space (pinned is "
                   "0x%x, device 0x%x)",
                   fn, c->disabled_spaces, TP_SPACE_BIT(TP_SPACE_PINNED),
                   TP_SPACE_BIT(TP_SPACE_DEVICE));
  return TP_SUCCESS;
}

static tp_status create_host_pool(tp_runtime *rt) {
  size_t free_bytes = 0, total = 0;
  tp_status st = tp_host_memory_info(&free_bytes, &total);
  if (st != TP_SUCCESS)
    return st;
  tp_pool_config cfg = TP_POOL_CONFIG_INIT;
  cfg.limit = tp_runtime_budget_for(rt, TP_SPACE_HOST, free_bytes);
  rt->budgets[TP_SPACE_HOST] = cfg.limit;
  snprintf(rt->name, sizeof rt->name, "%s.host.r%d",
           rt->config.name ? rt->config.name : "tp", rt->rank);
  cfg.name = rt->name;
  st = tp_pool_create(tp_host_space(), &cfg, &rt->host_pool);
  if (st == TP_SUCCESS)
    tp_pool_claim_limit(rt->host_pool, budget_setter);
  return st;
}

static void init_allocators(tp_runtime *rt) {
  for (int b = 0; b < TP_BACKEND_COUNT; ++b)
    for (int k = 0; k < TP_BUFFER_KIND_COUNT; ++k) {
      tp_allocator *a = &rt->allocators[b][k];
      a->runtime = rt;
      a->backend = (tp_space_kind)b;
      a->kind = (tp_buffer_kind)k;
    }
}

/* Destroys what a runtime holds; the caller checked nothing is live. */
static tp_status release(tp_runtime *rt) {
  for (int b = TP_BACKEND_COUNT - 1; b >= 0; --b)
    if (rt->backends[b])
      rt->backends[b]->ops->destroy(rt->backends[b]);
  tp_status st = TP_SUCCESS;
  if (rt->host_pool)
    st = tp_pool_destroy(rt->host_pool);
  tp_status fin = tp_runtime_ranks_fini(rt);
  tp_runtime_free(rt);
  return st != TP_SUCCESS ? st : fin;
}

tp_status tp_runtime_create_on(const char *fn, const void *comm,
                               const tp_runtime_config *config,
                               tp_runtime **out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL out", fn);
  tp_runtime_config settings = TP_RUNTIME_CONFIG_INIT;
  if (config) {
    tp_status st = tp_versioned_read(fn, "TP_RUNTIME_CONFIG_INIT", config,
                                     &settings, sizeof settings);
    if (st != TP_SUCCESS)
      return st;
  }
  tp_status st = check_config(fn, &settings);
  if (st != TP_SUCCESS)
    return st;
  tp_runtime *rt = calloc(1, sizeof *rt);
  if (!rt)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no host memory for the runtime",
                   fn);
  if (pthread_mutex_init(&rt->lock, NULL) != 0) {
    free(rt);
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no lock for the runtime", fn);
  }
  rt->config = settings;
  rt->device = -1;
  atomic_init(&rt->live_buffers, 0);
  init_allocators(rt);
  st = tp_runtime_ranks_init(fn, rt, comm);
  if (st != TP_SUCCESS) {
    tp_runtime_free(rt);
    return st;
  }
  rt->device_sharing = 1;
  st = create_host_pool(rt);
  if (st == TP_SUCCESS) {
    tp_backend *host;
    st = tp_host_backend_create(rt, rt->host_pool, &host);
    if (st == TP_SUCCESS) {
      rt->backends[TP_SPACE_HOST] = host;
      tp_allocators_name(rt, TP_SPACE_HOST);
    }
  }
  /* Further backends (pinned and device memory on a rank with a GPU) come
   * from the providers' table, so the automatic allocator can choose them.
   * Every rank calls them, even after a failure here, because a provider
   * may communicate (the device provider does). */
  for (int i = 0; tp_backend_providers[i]; ++i) {
    tp_status added = tp_backend_providers[i]->add(rt);
    if (st == TP_SUCCESS)
      st = added;
  }
  if (st != TP_SUCCESS) {
    (void)release(rt);
    return tp_fail_context(st, "%s", fn);
  }
  *out = rt;
  return TP_SUCCESS;
}

tp_status tp_runtime_create(const tp_runtime_config *config, tp_runtime **out) {
  return tp_runtime_create_on("tp_runtime_create", NULL, config, out);
}

tp_status tp_runtime_destroy(tp_runtime *rt) {
  if (!rt)
    return TP_SUCCESS;
  size_t live = atomic_load(&rt->live_buffers);
  if (live)
    return tp_fail(TP_ERR_BUSY,
                   "tp_runtime_destroy: %zu buffer%s of this runtime %s still "
                   "live: destroy %s first; nothing was freed",
                   live, live == 1 ? "" : "s", live == 1 ? "is" : "are",
                   live == 1 ? "it" : "them");
  for (int b = 0; b < TP_BACKEND_COUNT; ++b) {
    if (!rt->backends[b])
      continue;
    tp_pool_stats s = TP_POOL_STATS_INIT;
    tp_status st = tp_pool_get_stats(rt->backends[b]->pool, &s);
    if (st != TP_SUCCESS)
      return tp_fail_context(st, "tp_runtime_destroy");
    if (s.live_blocks)
      return tp_fail(TP_ERR_BUSY,
                     "tp_runtime_destroy: pool '%s' still has %llu live "
                     "block(s) allocated from it directly (tp_runtime_pool): "
                     "free them first; nothing was freed",
                     tp_pool_name(rt->backends[b]->pool),
                     (unsigned long long)s.live_blocks);
  }
  tp_status st = release(rt);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_runtime_destroy");
  return TP_SUCCESS;
}

int tp_runtime_rank(const tp_runtime *rt) {
  return rt ? rt->rank : -1;
}
int tp_runtime_size(const tp_runtime *rt) {
  return rt ? rt->size : 0;
}
int tp_runtime_local_rank(const tp_runtime *rt) {
  return rt ? rt->local_rank : -1;
}
int tp_runtime_local_size(const tp_runtime *rt) {
  return rt ? rt->local_size : 0;
}
int tp_runtime_device(const tp_runtime *rt) {
  return rt ? rt->device : -1;
}
int tp_runtime_uses_mpi(const tp_runtime *rt) {
  return rt ? rt->uses_mpi : 0;
}

tp_status tp_runtime_add_backend(tp_runtime *rt, tp_backend *backend) {
  if (!rt || !backend || !backend->ops || !valid_backend(backend->kind))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_runtime_add_backend: NULL runtime, backend or ops, or "
                   "an unknown backend kind");
  if (rt->backends[backend->kind])
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_runtime_add_backend: a %s backend is already there",
                   tp_space_kind_name(backend->kind));
  /* The runtime's budget for the space becomes the pool's hard limit, and
   * from now on only the runtime sets it. */
  size_t free_bytes = 0, total = 0;
  tp_status st = backend->ops->memory_info(backend, &free_bytes, &total);
  size_t budget = tp_runtime_budget_for(rt, backend->kind, free_bytes);
  if (st == TP_SUCCESS)
    st = tp_pool_set_owned_limit(backend->pool, budget);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_runtime_add_backend(%s)", backend->name);
  tp_pool_claim_limit(backend->pool, budget_setter);
  rt->budgets[backend->kind] = budget;
  rt->backends[backend->kind] = backend;
  tp_allocators_name(rt, backend->kind);
  return TP_SUCCESS;
}

tp_backend *tp_runtime_backend(const tp_runtime *rt, tp_space_kind kind) {
  if (!rt || !valid_backend(kind))
    return NULL;
  return rt->backends[kind];
}

int tp_runtime_has_backend(const tp_runtime *rt, tp_space_kind kind) {
  return tp_runtime_backend(rt, kind) != NULL;
}

static tp_status backend_of(const char *fn, const tp_runtime *rt,
                            tp_space_kind kind, tp_backend **out) {
  if (!rt)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL runtime", fn);
  if (!valid_backend(kind))
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: unknown backend kind %d", fn,
                   (int)kind);
  *out = rt->backends[kind];
  if (!*out)
    return tp_runtime_missing_backend(rt, fn, kind);
  return TP_SUCCESS;
}

tp_status tp_runtime_pool(tp_runtime *rt, tp_space_kind kind, tp_pool **out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_runtime_pool: NULL out");
  tp_backend *b;
  tp_status st = backend_of("tp_runtime_pool", rt, kind, &b);
  if (st != TP_SUCCESS)
    return st;
  *out = b->pool;
  return TP_SUCCESS;
}

tp_status tp_runtime_set_budget(tp_runtime *rt, tp_space_kind kind,
                                size_t bytes) {
  /* An argument error whether or not this rank has the space (status.h:
   * arguments are checked first, with or without a device). */
  if (bytes == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_runtime_set_budget: a budget of 0 bytes (0 means "
                   "automatic in tp_runtime_config only; TP_UNLIMITED lifts "
                   "the budget)");
  tp_backend *b;
  tp_status st = backend_of("tp_runtime_set_budget", rt, kind, &b);
  if (st != TP_SUCCESS)
    return st;
  /* Under the runtime's lock, so that concurrent calls leave the budget
   * and the pool's limit equal, and readers see one or the other. */
  pthread_mutex_lock(&rt->lock);
  st = tp_pool_set_owned_limit(b->pool, bytes);
  if (st == TP_SUCCESS)
    rt->budgets[kind] = bytes;
  pthread_mutex_unlock(&rt->lock);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_runtime_set_budget(%s, %zu)",
                           tp_space_kind_name(kind), bytes);
  return TP_SUCCESS;
}

tp_status tp_runtime_memory(const tp_runtime *rt, tp_space_kind kind,
                            tp_memory_figures *out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_runtime_memory: NULL out");
  /* Arguments before the device (status.h): an uninitialized struct is bad
   * input on every machine, not TP_ERR_NO_DEVICE where there is none. */
  tp_status st =
      tp_versioned_check("tp_runtime_memory", "TP_MEMORY_FIGURES_INIT", out);
  if (st != TP_SUCCESS)
    return st;
  tp_backend *b;
  st = backend_of("tp_runtime_memory", rt, kind, &b);
  if (st != TP_SUCCESS)
    return st;
  tp_memory_figures f = TP_MEMORY_FIGURES_INIT;
  st = b->ops->memory_info(b, &f.free_bytes, &f.total_bytes);
  if (st != TP_SUCCESS)
    return st;
  tp_pool_stats stats = TP_POOL_STATS_INIT;
  st = tp_pool_get_stats(b->pool, &stats);
  if (st != TP_SUCCESS)
    return st;
  pthread_mutex_t *lock = &tp_runtime_mutable(rt)->lock;
  pthread_mutex_lock(lock);
  f.budget_bytes = rt->budgets[kind];
  pthread_mutex_unlock(lock);
  f.reserved_bytes = stats.reserved_bytes;
  size_t room = f.budget_bytes > stats.reserved_bytes
                    ? f.budget_bytes - stats.reserved_bytes
                    : 0;
  size_t system = f.free_bytes;
  f.available_bytes = (room < system ? room : system) + stats.cached_bytes;
  return tp_versioned_write("tp_runtime_memory", "TP_MEMORY_FIGURES_INIT", out,
                            &f, sizeof f);
}
