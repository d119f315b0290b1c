/* Memory of the replay itself, kept out of the heap under test.
 *
 * A replay measures how much memory an allocator holds; glibc's malloc is
 * one of them, so nothing of the replay's own (the log, the block table,
 * the timeline samples) may come from malloc: freed parse buffers would leave
 * holes glibc reuses without growing, and freeing a large mmapped chunk
 * raises glibc's mmap threshold for the rest of the process. These come
 * straight from mmap, and are touched before the measurement starts, so they
 * add nothing to the resident memory measured after. */
#ifndef TP_BENCH_REPLAY_MEM_H
#define TP_BENCH_REPLAY_MEM_H

#include <stdbool.h>
#include <stddef.h>

/* Zeroed, page-aligned memory of `bytes` (0 allowed: a valid empty map), or
 * NULL. Every page is written once, so it is resident from now on. */
void *replay_mem_alloc(size_t bytes);
void replay_mem_free(void *ptr, size_t bytes);

/* The process's resident memory in bytes (/proc/self/statm), 0 if unknown. */
size_t replay_rss_now(void);
/* Resets the kernel's resident high-water mark (VmHWM) to the current
 * resident size; false where the kernel does not allow it. */
bool replay_rss_reset_peak(void);
/* VmHWM in bytes, 0 if unknown. */
size_t replay_rss_peak(void);

#endif
