/* The host allocators the benchmarks compare: tensorpool's host pool
 * (tp_pool over tp_host_space()) and the peers glibc malloc, jemalloc and
 * mimalloc, behind one small table so every one pays the same indirect call.
 *
 * jemalloc and mimalloc are opened with dlopen(RTLD_LOCAL) and called by
 * their own names (mallocx/dallocx, mi_malloc/mi_free): both Debian builds
 * also export malloc/free, and linking them would replace glibc's malloc for
 * the whole process, the pool's upstream included. */
#ifndef TP_BENCH_HOST_PEERS_H
#define TP_BENCH_HOST_PEERS_H

#include <stdbool.h>
#include <stddef.h>

#include "tensorpool/pool.h"

typedef struct host_peer {
  const char *name; /* "tensorpool", "glibc", "jemalloc", "mimalloc" */
  void *ctx;
  /* NULL on failure. `stream` is a tag only the pool looks at. */
  void *(*alloc)(void *ctx, size_t bytes, tp_stream stream);
  void (*free)(void *ctx, void *ptr, tp_stream stream);
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

#endif
