/* libtensorpool_torch.so as PyTorch loads it: dlopen, the two functions by
 * name, an allocation and a free on the legacy default stream. Without a
 * GPU the allocation must fail cleanly (NULL, the reason on stderr), which
 * is what PyTorch turns into its out-of-memory error.
 *   test_torch_allocator <path of libtensorpool_torch.so>
 * Exit status 0: as expected; 1: not. */
#include <dlfcn.h>
#include <stdio.h>

#include "tensorpool/device.h"

typedef void *(*alloc_fn)(size_t, int, tp_stream);
typedef void (*free_fn)(void *, size_t, int, tp_stream);
typedef int (*stats_fn)(int, tp_pool_stats *);

int main(int argc, char **argv) {
  if (argc != 2)
    return 1;
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  /* dlsym returns an object pointer; POSIX allows the conversion. */
  alloc_fn alloc;
  free_fn release;
  stats_fn stats;
  *(void **)&alloc = dlsym(lib, "tp_torch_alloc");
  *(void **)&release = dlsym(lib, "tp_torch_free");
  *(void **)&stats = dlsym(lib, "tp_torch_pool_stats");
  if (!alloc || !release || !stats) {
    fprintf(stderr, "missing entry points\n");
    return 1;
  }
  int devices = 0;
  tp_device_count(&devices);
  void *p = alloc(1000, 0, NULL);
  if (devices == 0) {
    /* No GPU: NULL, and freeing NULL is a no-op as PyTorch expects. */
    release(NULL, 0, 0, NULL);
    printf("no GPU: the allocation failed cleanly (%s)\n",
           p ? "NOT NULL" : "NULL");
    return p == NULL ? 0 : 1;
  }
  if (!p)
    return 1;
  release(p, 1000, 0, NULL);
  void *q = alloc(1000, 0, NULL); /* the same stream: a cache hit */
  release(q, 1000, 0, NULL);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  if (stats(0, &s) != 0)
    return 1;
  printf("GPU: %llu allocations, %llu hits, %llu device allocations\n",
         (unsigned long long)s.allocations, (unsigned long long)s.hits,
         (unsigned long long)s.upstream_gets);
  return s.allocations == 2 && s.hits == 1 && s.upstream_gets == 1 ? 0 : 1;
}
