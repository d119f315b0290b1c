/* Pointer -> block map with chaining; O(1) expected lookup, insert, remove.
 * It grows by doubling when the load passes one entry per bucket. */
#ifndef TP_CORE_PTR_MAP_H
#define TP_CORE_PTR_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "pool/block.h"

typedef struct tp_ptr_map {
  tp_block **buckets;
  size_t mask; /* bucket count - 1 (a power of two) */
  size_t count;
} tp_ptr_map;

bool tp_ptr_map_init(tp_ptr_map *map);
void tp_ptr_map_fini(tp_ptr_map *map);
tp_block *tp_ptr_map_find(const tp_ptr_map *map, const void *ptr);
/* False only if growing failed; the block is inserted either way. */
bool tp_ptr_map_insert(tp_ptr_map *map, tp_block *block);
void tp_ptr_map_remove(tp_ptr_map *map, tp_block *block);
/* The block whose [ptr, ptr+bytes) holds `inner`, by a full scan: used on the
 * error path only, to tell an interior pointer from a foreign one. */
tp_block *tp_ptr_map_find_containing(const tp_ptr_map *map, const void *inner);

#endif
