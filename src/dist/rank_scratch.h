/* Internal: room for a collective's per-rank arrays (counts, displacements)
 * without a malloc per call. Up to a few hundred ranks the arrays live on
 * the caller's stack; beyond that they come from the heap. A conversion
 * needs two to eight such arrays, and their malloc/free pairs were a
 * visible part of a small conversion's fixed cost (docs/buffers.md). */
#ifndef TP_DIST_RANK_SCRATCH_H
#define TP_DIST_RANK_SCRATCH_H

#include <stddef.h>
#include <stdlib.h>

/* 4 KiB: eight arrays of size_t for 64 ranks, or of int for 128. */
#define TP_RANK_SCRATCH_WORDS 512

typedef struct tp_rank_scratch {
  size_t inline_words[TP_RANK_SCRATCH_WORDS];
  void *heap;
} tp_rank_scratch;

/* Sets up an empty scratch (not `= {0}`: that would clear 4 KiB per call). */
static inline void tp_rank_scratch_init(tp_rank_scratch *s) {
  s->heap = NULL;
}

/* `bytes` of room (aligned for size_t), inside the scratch when they fit,
 * else from the heap; NULL when the heap has none. One live request per
 * scratch: a second call replaces the first. */
static inline void *tp_rank_scratch_get(tp_rank_scratch *s, size_t bytes) {
  if (s->heap) {
    free(s->heap);
    s->heap = NULL;
  }
  if (bytes <= sizeof s->inline_words)
    return s->inline_words;
  s->heap = malloc(bytes);
  return s->heap;
}

static inline void tp_rank_scratch_release(tp_rank_scratch *s) {
  if (s->heap) {
    free(s->heap);
    s->heap = NULL;
  }
}

#endif
