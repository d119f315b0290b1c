/* Host-side records of blocks and segments. Records live outside the memory
 * they describe, because device memory cannot be touched by the host, and in
 * arrays addressed by 32-bit indices rather than pointers: a block record is
 * one 64-byte cache line, and freeing a block touches its own line and its
 * two neighbours' (the boundary links), not a chain of heap nodes. */
#ifndef TP_POOL_BLOCK_H
#define TP_POOL_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/space.h"

/* No record: the end of a list or of a segment. */
#define TP_NIL UINT32_MAX

typedef enum tp_block_state {
  TP_BLOCK_SPARE = 0, /* record not in use */
  TP_BLOCK_FREE = 1,
  TP_BLOCK_LIVE = 2
} tp_block_state;

/* Flags of a free block. */
enum {
  /* On the list of free ranges whose pages may still be committed. */
  TP_BLOCK_DIRTY = 1u,
  /* Some of its pages may have been given back: commit before use. */
  TP_BLOCK_DECOMMITTED = 2u,
  /* In the free index (not when a bin could not be made: it still merges
   * and is released with its segment, it is only never searched for). */
  TP_BLOCK_INDEXED = 4u
};

/* Segment kinds, each with its own free index: small requests never take
 * memory from large segments and the other way round. */
enum { TP_KIND_SMALL = 0, TP_KIND_LARGE = 1, TP_KIND_OVERSIZE = 2 };
#define TP_KINDS 3

typedef struct tp_block {
  uintptr_t ptr;
  uint64_t bytes;
  uint32_t prev, next; /* physical neighbours in the segment: boundary links */
  uint32_t seg;
  uint16_t cls;  /* free: the class of the list holding it */
  uint8_t state; /* tp_block_state */
  uint8_t slot;  /* free: the stream slot whose queued work may use it */
  uint8_t flags; /* free: TP_BLOCK_* */
  uint8_t kind;  /* its segment's kind */
  uint8_t unused[2];
  /* Free: the pool clock (mod 2^32) since when its pages count as unused,
   * for giving them back. Kept apart from u.f.stamp, the readiness stamp:
   * a small block freed into a large, long-free one leaves the large one's
   * pages old, but the merged block's pending work as young as the small
   * one's. */
  uint32_t aged_at;
  union {
    struct {
      uint32_t prev, next;   /* free list of (class, slot) */
      uint32_t dprev, dnext; /* dirty list, newest first */
      uint64_t stamp;        /* pool clock when freed (its age) */
    } f;
    struct {
      /* What the caller asked for, where the pointer map's entry cannot
       * carry it (tp_size_pack). */
      uint64_t requested;
    } l;
    uint32_t spare_next; /* spare records */
  } u;
} tp_block;

_Static_assert(sizeof(tp_block) == 64, "a block record is one cache line");

/* A range taken from upstream. Blocks tile it exactly, linked by prev/next
 * from `first` to `last`. */
typedef struct tp_segment {
  uintptr_t base;
  uint64_t bytes;
  /* One bit per page of the space (1: given back) where the space can
   * decommit; NULL otherwise. */
  uint64_t *pages;
  uint64_t page_words;
  uint32_t first, last;
  uint32_t live;       /* live blocks inside */
  uint32_t next_spare; /* spare records */
  uint8_t kind;
  uint8_t used;  /* record in use */
  uint8_t empty; /* one free block: trim's share (counted in the stats) */
} tp_segment;

#endif
