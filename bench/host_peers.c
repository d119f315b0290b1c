/* The host allocators behind one table; see host_peers.h. */
#define _GNU_SOURCE
#include "host_peers.h"

#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const host_peer_names[HOST_PEER_COUNT] = {"tensorpool", "glibc",
                                                      "jemalloc", "mimalloc"};

void host_peers_prepare(char **argv) {
  if (getenv("TP_BENCH_TLS_READY"))
    return;
  /* 16 KiB is ample for jemalloc 5's thread data; the tunable only reserves
   * address space in each thread's static TLS block. */
  const char *tunable = "glibc.rtld.optional_static_tls=16384";
  const char *old = getenv("GLIBC_TUNABLES");
  char value[1024];
  if (old && old[0])
    snprintf(value, sizeof value, "%s:%s", old, tunable);
  else
    snprintf(value, sizeof value, "%s", tunable);
  setenv("GLIBC_TUNABLES", value, 1);
  setenv("TP_BENCH_TLS_READY", "1", 1);
  execv("/proc/self/exe", argv);
  fprintf(stderr, "bench: re-exec for jemalloc's TLS failed; jemalloc may be "
                  "skipped\n");
}

/* ---- tensorpool ---- */

void host_peer_report_free(void) {
  fprintf(stderr, "bench: tp_pool_free failed: %s\n", tp_last_error());
}

static bool pool_reserved(void *ctx, size_t *out) {
  tp_pool_stats stats = TP_POOL_STATS_INIT;
  if (tp_pool_get_stats((tp_pool *)ctx, &stats) != TP_SUCCESS)
    return false;
  *out = stats.reserved_bytes;
  return true;
}

/* ---- glibc ---- */

/* arena: bytes of the main and thread heaps taken with brk/mmap; hblkhd:
 * bytes in chunks mmapped on their own (the large ones). */
static bool glibc_reserved(void *ctx, size_t *out) {
  (void)ctx;
  struct mallinfo2 mi = mallinfo2();
  *out = mi.arena + mi.hblkhd;
  return true;
}

/* ---- jemalloc (by dlopen) ---- */

typedef struct je_api {
  void *(*malloc)(size_t size);
  void (*free)(void *ptr);
  int (*mallctl)(const char *name, void *oldp, size_t *oldlenp, void *newp,
                 size_t newlen);
} je_api;

static je_api je;

/* stats.mapped: bytes in extents jemalloc has mapped and not unmapped or
 * retained; statistics are refreshed by writing "epoch". */
static bool je_reserved(void *ctx, size_t *out) {
  (void)ctx;
  uint64_t epoch = 1;
  size_t len = sizeof epoch;
  if (je.mallctl("epoch", &epoch, &len, &epoch, sizeof epoch) != 0)
    return false;
  len = sizeof *out;
  return je.mallctl("stats.mapped", out, &len, NULL, 0) == 0;
}

/* ---- mimalloc (by dlopen) ---- */

typedef struct mi_api {
  void *(*malloc)(size_t size);
  void (*free)(void *ptr);
  void (*process_info)(size_t *elapsed, size_t *user, size_t *sys, size_t *rss,
                       size_t *peak_rss, size_t *commit, size_t *peak_commit,
                       size_t *faults);
} mi_api;

static mi_api mi;

/* mimalloc's own count of committed bytes. */
static bool mi_reserved(void *ctx, size_t *out) {
  (void)ctx;
  size_t commit = 0;
  mi.process_info(NULL, NULL, NULL, NULL, NULL, &commit, NULL, NULL);
  *out = commit;
  return true;
}

/* dlsym returns void*; converting it to a function pointer is what POSIX
 * guarantees works, but ISO C warns: go through memcpy. */
static bool load_symbol(void *lib, const char *name, void *fn_ptr,
                        size_t fn_size) {
  void *sym = dlsym(lib, name);
  if (!sym) {
    fprintf(stderr, "bench: symbol %s not found: %s\n", name, dlerror());
    return false;
  }
  memcpy(fn_ptr, &sym, fn_size);
  return true;
}

/* As load_symbol, for a name other libraries define too (jemalloc's
 * malloc and free): the address must be in `lib` itself, whose path holds
 * `path_part`. */
static bool load_own_symbol(void *lib, const char *name, const char *path_part,
                            void *fn_ptr, size_t fn_size) {
  void *sym = dlsym(lib, name);
  Dl_info info;
  if (!sym || !dladdr(sym, &info) || !info.dli_fname ||
      !strstr(info.dli_fname, path_part)) {
    fprintf(stderr, "bench: %s's %s not found in it (found in %s)\n", path_part,
            name,
            sym && dladdr(sym, &info) && info.dli_fname ? info.dli_fname
                                                        : "none");
    return false;
  }
  memcpy(fn_ptr, &sym, fn_size);
  return true;
}

static void *open_library(const char *const *candidates) {
  for (; *candidates; candidates++) {
    void *lib = dlopen(*candidates, RTLD_NOW | RTLD_LOCAL);
    if (lib)
      return lib;
  }
  return NULL;
}

bool host_peer_open(const char *name, const tp_pool_config *config,
                    host_peer *out) {
  memset(out, 0, sizeof *out);
  /* "tensorpool:tc": the default pool with its thread caches on (1 MiB),
   * measured beside the default. */
  bool tc = strcmp(name, "tensorpool:tc") == 0;
  if (strcmp(name, "tensorpool") == 0 || tc) {
    tp_pool_config fallback = TP_POOL_CONFIG_INIT;
    if (tc)
      fallback.thread_cache_bytes = TP_POOL_THREAD_CACHE_DEFAULT;
    if (!config)
      config = &fallback;
    tp_pool *pool = NULL;
    if (tp_pool_create(tp_host_space(), config, &pool) != TP_SUCCESS) {
      fprintf(stderr, "bench: tp_pool_create failed: %s\n", tp_last_error());
      return false;
    }
    *out = (host_peer){.name = tc ? "tensorpool:tc" : "tensorpool",
                       .ctx = pool,
                       .pool_alloc = tp_pool_alloc,
                       .pool_free = tp_pool_free,
                       .reserved = pool_reserved,
                       .handle = pool};
    return true;
  }
  if (strcmp(name, "glibc") == 0) {
    *out = (host_peer){.name = "glibc",
                       .malloc_fn = malloc,
                       .free_fn = free,
                       .reserved = glibc_reserved};
    return true;
  }
  if (strcmp(name, "jemalloc") == 0) {
    static const char *const libs[] = {"libjemalloc.so.2", "libjemalloc.so",
                                       NULL};
    void *lib = open_library(libs);
    if (!lib) {
      fprintf(stderr, "bench: jemalloc skipped: %s\n", dlerror());
      return false;
    }
    if (!load_own_symbol(lib, "malloc", "jemalloc", &je.malloc,
                         sizeof je.malloc) ||
        !load_own_symbol(lib, "free", "jemalloc", &je.free, sizeof je.free) ||
        !load_symbol(lib, "mallctl", &je.mallctl, sizeof je.mallctl)) {
      dlclose(lib);
      return false;
    }
    *out = (host_peer){.name = "jemalloc",
                       .malloc_fn = je.malloc,
                       .free_fn = je.free,
                       .reserved = je_reserved,
                       .handle = lib};
    return true;
  }
  if (strcmp(name, "mimalloc") == 0) {
    static const char *const libs[] = {"libmimalloc.so.2", "libmimalloc.so",
                                       NULL};
    void *lib = open_library(libs);
    if (!lib) {
      fprintf(stderr, "bench: mimalloc skipped: %s\n", dlerror());
      return false;
    }
    if (!load_symbol(lib, "mi_malloc", &mi.malloc, sizeof mi.malloc) ||
        !load_symbol(lib, "mi_free", &mi.free, sizeof mi.free) ||
        !load_symbol(lib, "mi_process_info", &mi.process_info,
                     sizeof mi.process_info)) {
      dlclose(lib);
      return false;
    }
    *out = (host_peer){.name = "mimalloc",
                       .malloc_fn = mi.malloc,
                       .free_fn = mi.free,
                       .reserved = mi_reserved,
                       .handle = lib};
    return true;
  }
  fprintf(stderr, "bench: unknown allocator '%s'\n", name);
  return false;
}

void host_peer_close(host_peer *peer) {
  if (peer->name && strncmp(peer->name, "tensorpool", 10) == 0) {
    if (tp_pool_destroy((tp_pool *)peer->handle) != TP_SUCCESS)
      fprintf(stderr, "bench: tp_pool_destroy: %s\n", tp_last_error());
  }
  /* The dlopen handles stay open: unloading an allocator whose memory may
   * still be referenced by its own caches gains nothing. */
  memset(peer, 0, sizeof *peer);
}

tp_pool *host_peer_pool(const host_peer *peer) {
  return peer->name && strcmp(peer->name, "tensorpool") == 0
             ? (tp_pool *)peer->handle
             : NULL;
}
