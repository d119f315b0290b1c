/* The live-block set (record_live.h): open addressing with linear probing
 * and deletion by backward shift, at most half full, grown by doubling into
 * a fresh mapping. A null pointer marks an empty entry (no block lives at
 * address 0). */
#define _DEFAULT_SOURCE
#include <sys/mman.h>

#include "record_live.h"

typedef struct entry {
  uintptr_t ptr;
  size_t size;
} entry;

static entry *table;
static size_t mask; /* entries - 1 */
static size_t used;

static size_t home(uintptr_t ptr) {
  return (size_t)(((uint64_t)ptr * 0x9e3779b97f4a7c15u) >> 20) & mask;
}

/* The entry holding `ptr`, or the empty one ending its probe run. */
static entry *find(uintptr_t ptr) {
  size_t i = home(ptr);
  while (table[i].ptr != 0 && table[i].ptr != ptr)
    i = (i + 1) & mask;
  return &table[i];
}

static bool grow(void) {
  size_t n = table ? 2 * (mask + 1) : (size_t)1 << 16;
  entry *fresh = mmap(NULL, n * sizeof *fresh, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (fresh == MAP_FAILED)
    return false;
  entry *old = table;
  size_t old_n = table ? mask + 1 : 0;
  table = fresh;
  mask = n - 1;
  for (size_t i = 0; i < old_n; i++)
    if (old[i].ptr != 0)
      *find(old[i].ptr) = old[i];
  if (old)
    munmap(old, old_n * sizeof *old);
  return true;
}

bool record_live_add(uintptr_t ptr, size_t size) {
  if ((!table || 2 * (used + 1) > mask + 1) && !grow())
    return false;
  entry *e = find(ptr);
  bool fresh = e->ptr == 0;
  *e = (entry){ptr, size};
  used += fresh;
  return fresh;
}

bool record_live_take(uintptr_t ptr, size_t *size) {
  if (!table || ptr == 0)
    return false;
  size_t i = (size_t)(find(ptr) - table);
  if (table[i].ptr == 0)
    return false;
  *size = table[i].size;
  /* Backward shift: pull later entries of the probe run into the hole
   * unless their home lies cyclically in (hole, j]. */
  size_t hole = i;
  for (size_t j = (i + 1) & mask; table[j].ptr != 0; j = (j + 1) & mask) {
    size_t h = home(table[j].ptr);
    if (((j - h) & mask) >= ((j - hole) & mask)) {
      table[hole] = table[j];
      hole = j;
    }
  }
  table[hole] = (entry){0, 0};
  used--;
  return true;
}
