/* Zeroed table memory from mmap, on 2 MiB pages where large
 * (table_memory.h). */
#define _DEFAULT_SOURCE
#include "pool/table_memory.h"

#include <stdint.h>
#include <sys/mman.h>

#define TP_HUGE_PAGE ((size_t)2 << 20)

void *tp_table_map(size_t bytes) {
  if (bytes < TP_TABLE_HUGE_BYTES) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
  }
  /* Over-map by one huge page, keep the aligned part. */
  size_t span = bytes + TP_HUGE_PAGE;
  char *p = mmap(NULL, span, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  uintptr_t at =
      ((uintptr_t)p + TP_HUGE_PAGE - 1) & ~(uintptr_t)(TP_HUGE_PAGE - 1);
  size_t head = at - (uintptr_t)p, tail = span - head - bytes;
  if (head)
    munmap(p, head);
  if (tail)
    munmap((char *)at + bytes, tail);
#ifdef MADV_HUGEPAGE
  /* Only advice: without transparent huge pages it stays 4 KiB pages. */
  madvise((void *)at, bytes, MADV_HUGEPAGE);
#endif
  return (void *)at;
}

void tp_table_unmap(void *table, size_t bytes) {
  if (table)
    munmap(table, bytes);
}
