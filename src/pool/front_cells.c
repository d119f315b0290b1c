/* The front end's cells: one state word per block record index, in chunks
 * that never move (the record array does), so a thread holding a block's
 * cell pointer may use it without the pool's lock. */
#include <stdlib.h>
#include <string.h>

#include "pool/front_internal.h"

tp_cell *tp_front_cell(tp_pool *pool, uint32_t b, bool make) {
  tp_front *f = &pool->front;
  uint32_t chunk = b / TP_FRONT_CELL_CHUNK;
  if (chunk >= f->cell_chunks) {
    if (!make)
      return NULL;
    uint32_t n = f->cell_chunks ? f->cell_chunks : 4;
    while (n <= chunk)
      n *= 2;
    tp_cell **grown = realloc(f->cells, n * sizeof *grown);
    if (!grown)
      return NULL;
    for (uint32_t i = f->cell_chunks; i < n; i++)
      grown[i] = NULL;
    f->cells = grown;
    f->cell_chunks = n;
  }
  if (!f->cells[chunk]) {
    if (!make)
      return NULL;
    tp_cell *cells = aligned_alloc(64, TP_FRONT_CELL_CHUNK * sizeof *cells);
    if (!cells)
      return NULL;
    memset(cells, 0, TP_FRONT_CELL_CHUNK * sizeof *cells);
    f->cells[chunk] = cells;
  }
  return &f->cells[chunk][b % TP_FRONT_CELL_CHUNK];
}

void tp_front_cells_fini(tp_pool *pool) {
  tp_front *f = &pool->front;
  for (uint32_t i = 0; i < f->cell_chunks; i++)
    free((void *)f->cells[i]);
  free(f->cells);
  f->cells = NULL;
  f->cell_chunks = 0;
}

void tp_front_count_free(tp_pool *pool, size_t requested) {
  pool->front.done.deallocations++;
  pool->front.done.bytes_freed += requested;
}
