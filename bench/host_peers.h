/* The host allocators the benchmarks compare: tensorpool's host pool
 * (tp_pool over tp_host_space()) and the peers glibc malloc, jemalloc and
 * mimalloc, behind one small table so every one pays the same indirect call.
 * The table holds each allocator's own entry points, called with no adapter
 * function between: an adapter costs each allocator differently (a
 * malloc-shaped one is a tail jump, one around tp_pool_alloc's out-pointer
 * a call of its own, about 1 ns of a 9 ns pair on this project's machine).
 *
 * jemalloc and mimalloc are opened with dlopen(RTLD_LOCAL) and called
 * through the addresses dlsym gives in their libraries (jemalloc's malloc
 * and free, checked to be its own; mi_malloc/mi_free): linking them would
 * replace glibc's malloc for the whole process, the pool's upstream
 * included. */
#ifndef TP_BENCH_HOST_PEERS_H
#define TP_BENCH_HOST_PEERS_H

#include <stdbool.h>
#include <stddef.h>

#include "tensorpool/pool.h"

typedef struct host_peer {
  const char *name; /* "tensorpool", "glibc", "jemalloc", "mimalloc" */
  void *ctx;
  /* The entry points: a pool's (with `ctx` its pool), or malloc and free
   * (the other two NULL). Call them through host_peer_alloc and
   * host_peer_free. */
  tp_status (*pool_alloc)(tp_pool *pool, size_t bytes, tp_stream stream,
                          void **out);
  tp_status (*pool_free)(tp_pool *pool, void *ptr, tp_stream stream);
  void *(*malloc_fn)(size_t bytes);
  void (*free_fn)(void *ptr);
  /* Bytes the allocator holds from the operating system right now, as the
   * allocator itself counts them (for memory efficiency); false if it
   * cannot say. */
  bool (*reserved)(void *ctx, size_t *out);
  void *handle; /* dlopen handle or tp_pool */
} host_peer;

/* Call first in main. jemalloc's shared library uses initial-exec TLS, which
 * dlopen can only place if glibc reserved room for it at start-up: this sets
 * GLIBC_TUNABLES=glibc.rtld.optional_static_tls and re-executes the program
 * once (argv unchanged). If that fails, jemalloc is skipped with a reason. */
void host_peers_prepare(char **argv);

enum { HOST_PEER_COUNT = 4 };
/* The names in the order the suites run them. */
extern const char *const host_peer_names[HOST_PEER_COUNT];

/* Opens the named allocator; for "tensorpool", a fresh pool made with
 * `config` (NULL: TP_POOL_CONFIG_INIT). Returns false and prints why on
 * stderr if it is not available here (the suite then skips it). */
bool host_peer_open(const char *name, const tp_pool_config *config,
                    host_peer *out);
/* For tensorpool: destroys the pool (reporting leaks on stderr). */
void host_peer_close(host_peer *peer);

/* The pool behind a tensorpool peer, NULL for the others. */
tp_pool *host_peer_pool(const host_peer *peer);

/* Prints a failed pool free's message on stderr (out of line: the suites'
 * loops inline the calls below). */
void host_peer_report_free(void);

/* A block of `bytes`, NULL on failure; `stream` is a tag only the pool
 * looks at. Inlined, so that the allocator's entry point is the one call:
 * the branch picks the same way every time. */
static inline void *host_peer_alloc(const host_peer *p, size_t bytes,
                                    tp_stream stream) {
  if (p->pool_alloc) {
    void *out;
    return p->pool_alloc((tp_pool *)p->ctx, bytes, stream, &out) == TP_SUCCESS
               ? out
               : NULL;
  }
  return p->malloc_fn(bytes);
}

static inline void host_peer_free(const host_peer *p, void *ptr,
                                  tp_stream stream) {
  if (p->pool_free) {
    if (p->pool_free((tp_pool *)p->ctx, ptr, stream) != TP_SUCCESS)
      host_peer_report_free();
    return;
  }
  p->free_fn(ptr);
}

#endif
