/* The front end's cells: one state word per block record index, in chunks
 * that never move (the record array does), so a thread holding a block's
 * cell pointer may read and swap it without the pool's lock. */
#include <stdlib.h>

#include "pool/front_internal.h"

_Atomic uint64_t *tp_front_cell(tp_pool *pool, uint32_t b, bool make) {
  tp_front *f = &pool->front;
  uint32_t chunk = b / TP_FRONT_CELL_CHUNK;
  if (chunk >= f->cell_chunks) {
    if (!make)
      return NULL;
    uint32_t n = f->cell_chunks ? f->cell_chunks : 4;
    while (n <= chunk)
      n *= 2;
    _Atomic uint64_t **grown = realloc(f->cells, n * sizeof *grown);
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
    f->cells[chunk] = calloc(TP_FRONT_CELL_CHUNK, sizeof(_Atomic uint64_t));
    if (!f->cells[chunk])
      return NULL;
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

int tp_front_claim(tp_pool *pool, uint32_t b, uint64_t *requested) {
  _Atomic uint64_t *cell = tp_front_cell(pool, b, false);
  if (!cell)
    return TP_CELL_ENGINE;
  uint64_t w = atomic_load_explicit(cell, memory_order_acquire);
  for (;;) {
    unsigned state = (unsigned)(w & 3u);
    if (state != TP_CELL_HANDED)
      return (int)state;
    /* The owner may be parking it at this moment (a double free across
     * threads): whoever swaps first has it. */
    if (atomic_compare_exchange_weak_explicit(
            cell, &w, (w & ~(uint64_t)3) | TP_CELL_ENGINE, memory_order_acq_rel,
            memory_order_acquire)) {
      *requested = tp_cell_requested(w);
      return TP_CELL_HANDED;
    }
  }
}

bool tp_front_parked(tp_pool *pool, uint32_t b) {
  _Atomic uint64_t *cell = tp_front_cell(pool, b, false);
  return cell && (atomic_load_explicit(cell, memory_order_acquire) & 3u) ==
                     TP_CELL_PARKED;
}

void tp_front_count_free(tp_pool *pool, size_t requested) {
  pool->front.done.deallocations++;
  pool->front.done.bytes_freed += requested;
}
