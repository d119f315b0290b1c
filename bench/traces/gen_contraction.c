/* A tiled tensor contraction C[i,j] = sum_k A[i,k] B[k,j] (fp64), as a
 * block-sparse or distributed tensor library runs it on one GPU: two host
 * threads each drive two streams; for every output tile a thread takes an
 * accumulator, then for each k stages the A and B tiles, "multiplies", and
 * frees the staging tiles on the stream that used them. Tiles are 256 wide
 * with a ragged edge, so a few sizes recur. A second, smaller contraction
 * with 192-wide tiles follows, as a later term of the same expression. The
 * threads forget their streams at the end, as before destroying them. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stddef.h>

#include "trace_pool.h"

enum { THREADS = 2, STREAMS_PER_THREAD = 2 };

typedef struct contraction {
  size_t m, n, k, tile;
} contraction;

typedef struct worker {
  tp_pool *pool;
  int index;
  const contraction *shapes;
  int nshapes;
} worker;

static size_t tile_extent(size_t total, size_t tile, size_t index) {
  size_t start = index * tile;
  return total - start < tile ? total - start : tile;
}

static void *run_worker(void *varg) {
  worker *w = varg;
  tp_stream streams[STREAMS_PER_THREAD];
  for (int s = 0; s < STREAMS_PER_THREAD; s++)
    streams[s] =
        trace_stream((unsigned)(1 + w->index * STREAMS_PER_THREAD + s));
  for (int c = 0; c < w->nshapes; c++) {
    const contraction *sh = &w->shapes[c];
    size_t mt = (sh->m + sh->tile - 1) / sh->tile;
    size_t nt = (sh->n + sh->tile - 1) / sh->tile;
    size_t kt = (sh->k + sh->tile - 1) / sh->tile;
    size_t task = 0;
    for (size_t i = 0; i < mt; i++) {
      for (size_t j = 0; j < nt; j++, task++) {
        /* Output tiles are dealt out to the threads round robin. */
        if (task % THREADS != (size_t)w->index)
          continue;
        tp_stream s = streams[(task / THREADS) % STREAMS_PER_THREAD];
        size_t ti = tile_extent(sh->m, sh->tile, i);
        size_t tj = tile_extent(sh->n, sh->tile, j);
        void *acc = trace_alloc_must(w->pool, ti * tj * 8, s);
        for (size_t k = 0; k < kt; k++) {
          size_t tk = tile_extent(sh->k, sh->tile, k);
          void *a = trace_alloc_must(w->pool, ti * tk * 8, s);
          void *b = trace_alloc_must(w->pool, tk * tj * 8, s);
          trace_free(w->pool, a, s);
          trace_free(w->pool, b, s);
        }
        /* The result tile is copied out, then its accumulator freed. */
        trace_free(w->pool, acc, s);
      }
    }
  }
  for (int s = 0; s < STREAMS_PER_THREAD; s++)
    if (tp_pool_forget_stream(w->pool, streams[s]) != TP_SUCCESS)
      exit(1);
  return NULL;
}

int main(int argc, char **argv) {
  const char *path = trace_path(argc, argv, "gen_contraction OUT.csv");
  tp_pool *pool = trace_pool_open(path, "contraction", TP_UNLIMITED, true);
  static const contraction shapes[] = {{2000, 2000, 2000, 256},
                                       {1500, 1000, 700, 192}};
  pthread_t tids[THREADS];
  worker workers[THREADS];
  for (int t = 0; t < THREADS; t++) {
    workers[t] = (worker){pool, t, shapes, 2};
    if (pthread_create(&tids[t], NULL, run_worker, &workers[t]) != 0)
      return 1;
  }
  for (int t = 0; t < THREADS; t++)
    pthread_join(tids[t], NULL);
  trace_pool_close(pool);
  return 0;
}
