/* The set of blocks whose alloc is in the log and whose free is not yet: a
 * free is logged only if its pointer is here, so the size filter
 * (TP_RECORD_MIN_SIZE) drops the frees of the blocks it dropped, blocks
 * from before recording began never show up as frees of unknown pointers,
 * and a free's line carries its block's size as the pool's own log does.
 * Called with the log's lock held; its memory comes from mmap, never from
 * the allocator being recorded. */
#ifndef TP_RECORD_LIVE_H
#define TP_RECORD_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns false if `ptr` is not added: it is there already (its free went
 * by unseen; the entry takes the new size), or the set could not grow. */
bool record_live_add(uintptr_t ptr, size_t size);
/* True if `ptr` was in the set: it is taken out and *size is its size. */
bool record_live_take(uintptr_t ptr, size_t *size);

#endif
