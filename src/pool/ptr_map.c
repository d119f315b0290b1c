#include "pool/ptr_map.h"

#include "pool/table_memory.h"

#define TP_PTR_MAP_INITIAL 1024

static bool make(tp_ptr_map *map, size_t entries) {
  map->entries = tp_table_map(entries * sizeof *map->entries);
  map->mask = entries - 1;
  map->shift = 64u - (unsigned)__builtin_ctzll((unsigned long long)entries);
  map->count = 0;
  return map->entries != NULL;
}

bool tp_ptr_map_init(tp_ptr_map *map) {
  return make(map, TP_PTR_MAP_INITIAL);
}

void tp_ptr_map_fini(tp_ptr_map *map) {
  tp_table_unmap(map->entries, (map->mask + 1) * sizeof *map->entries);
  map->entries = NULL;
  map->count = 0;
}

bool tp_ptr_map_grow(tp_ptr_map *map) {
  tp_ptr_map bigger;
  if (!make(&bigger, (map->mask + 1) * 2))
    return false;
  for (size_t i = 0; i <= map->mask; i++) {
    uintptr_t key = map->entries[i].key;
    if (!key)
      continue;
    size_t j = tp_ptr_map_slot(&bigger, key);
    while (bigger.entries[j].key)
      j = (j + 1) & bigger.mask;
    bigger.entries[j] = map->entries[i];
    bigger.count++;
  }
  tp_table_unmap(map->entries, (map->mask + 1) * sizeof *map->entries);
  *map = bigger;
  return true;
}
