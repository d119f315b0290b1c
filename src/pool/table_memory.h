/* Memory for the pool's own large tables (block records, the pointer
 * map): zeroed pages straight from the kernel, untouched until used. From
 * TP_TABLE_HUGE_BYTES up, aligned to and advised for 2 MiB pages: a pool
 * with a hundred thousand live blocks touches its records and map at random,
 * and with 4 KiB pages nearly every touch also misses the TLB (measured:
 * random churn over 100,000 live blocks 460 -> 315-360 ns per free and
 * allocation). Below it the rounding to 2 MiB would cost more memory than
 * the tables themselves. */
#ifndef TP_POOL_TABLE_MEMORY_H
#define TP_POOL_TABLE_MEMORY_H

#include <stddef.h>

#define TP_TABLE_HUGE_BYTES ((size_t)4 << 20)

/* `bytes` of zeroed memory, NULL if the kernel refuses. */
void *tp_table_map(size_t bytes);
/* Gives back what tp_table_map(bytes) returned (NULL: nothing). */
void tp_table_unmap(void *table, size_t bytes);

#endif
