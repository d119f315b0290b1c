#include "pool/ptr_map.h"

#include <stdint.h>
#include <stdlib.h>

#define TP_PTR_MAP_INITIAL_BUCKETS 1024

/* Blocks are 256-byte aligned: drop those bits, then mix (Fibonacci hash). */
static size_t bucket_of(const tp_ptr_map *map, const void *ptr) {
  uint64_t key = (uint64_t)(uintptr_t)ptr >> 8;
  return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & map->mask;
}

bool tp_ptr_map_init(tp_ptr_map *map) {
  map->buckets = calloc(TP_PTR_MAP_INITIAL_BUCKETS, sizeof *map->buckets);
  map->mask = TP_PTR_MAP_INITIAL_BUCKETS - 1;
  map->count = 0;
  return map->buckets != NULL;
}

void tp_ptr_map_fini(tp_ptr_map *map) {
  free(map->buckets);
  map->buckets = NULL;
  map->count = 0;
}

tp_block *tp_ptr_map_find(const tp_ptr_map *map, const void *ptr) {
  for (tp_block *b = map->buckets[bucket_of(map, ptr)]; b; b = b->map_next)
    if (b->ptr == ptr)
      return b;
  return NULL;
}

static bool grow(tp_ptr_map *map) {
  size_t new_count = (map->mask + 1) * 2;
  tp_block **fresh = calloc(new_count, sizeof *fresh);
  if (!fresh)
    return false;
  tp_ptr_map bigger = {fresh, new_count - 1, map->count};
  for (size_t i = 0; i <= map->mask; i++) {
    tp_block *b = map->buckets[i];
    while (b) {
      tp_block *next = b->map_next;
      size_t j = bucket_of(&bigger, b->ptr);
      b->map_next = fresh[j];
      fresh[j] = b;
      b = next;
    }
  }
  free(map->buckets);
  *map = bigger;
  return true;
}

bool tp_ptr_map_insert(tp_ptr_map *map, tp_block *block) {
  size_t i = bucket_of(map, block->ptr);
  block->map_next = map->buckets[i];
  map->buckets[i] = block;
  map->count++;
  /* A failed grow only lengthens chains; lookups stay correct. */
  return map->count <= map->mask + 1 || grow(map);
}

void tp_ptr_map_remove(tp_ptr_map *map, tp_block *block) {
  tp_block **link = &map->buckets[bucket_of(map, block->ptr)];
  while (*link && *link != block)
    link = &(*link)->map_next;
  if (*link) {
    *link = block->map_next;
    map->count--;
  }
}

tp_block *tp_ptr_map_find_containing(const tp_ptr_map *map, const void *inner) {
  uintptr_t p = (uintptr_t)inner;
  for (size_t i = 0; i <= map->mask; i++)
    for (tp_block *b = map->buckets[i]; b; b = b->map_next) {
      uintptr_t start = (uintptr_t)b->ptr;
      if (p > start && p < start + b->bytes)
        return b;
    }
  return NULL;
}
