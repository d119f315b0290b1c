/* The README's pool example: a host pool, reuse, a failure and its message,
 * and the statistics printed through a callback. */
#include <stdio.h>
#include <string.h>

#include "tensorpool/pool.h"

static void print_line(void *user, const char *line) {
  fprintf((FILE *)user, "%s\n", line);
}

int main(void) {
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.name = "scratch";
  config.limit = (size_t)64 << 20; /* at most 64 MiB held from upstream */
  tp_pool *pool;
  if (tp_pool_create(tp_host_space(), &config, &pool) != TP_SUCCESS) {
    fprintf(stderr, "%s\n", tp_last_error());
    return 1;
  }
  void *a, *b;
  tp_pool_alloc(pool, 1 << 20, NULL, &a); /* a miss: goes upstream */
  memset(a, 0, 1 << 20);
  tp_pool_free(pool, a, NULL);
  tp_pool_alloc(pool, 1 << 20, NULL, &b); /* a hit: the same block */
  printf("reused the freed block: %s\n", a == b ? "yes" : "no");

  tp_status st = tp_pool_alloc(pool, (size_t)100 << 20, NULL, &a);
  printf("%s: %s\n", tp_status_name(st), tp_last_error());
  st = tp_pool_free(pool, (char *)b + 64, NULL);
  printf("%s: %s\n", tp_status_name(st), tp_last_error());

  tp_pool_free(pool, b, NULL);
  tp_pool_print_stats(pool, print_line, stdout);
  return tp_pool_destroy(pool) == TP_SUCCESS ? 0 : 1;
}
