/* Host-side record of one block of upstream memory. Records live outside the
 * memory they describe, because device memory cannot be touched by the host. */
#ifndef TP_CORE_BLOCK_H
#define TP_CORE_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/space.h"

typedef enum tp_block_state {
  TP_BLOCK_LIVE = 1,
  TP_BLOCK_CACHED = 2
} tp_block_state;

typedef struct tp_block {
  void *ptr;
  size_t bytes;     /* class size: what upstream gave */
  size_t requested; /* what the live owner asked for */
  tp_stream stream; /* allocation stream while live, free stream when cached */
  uint32_t cls;
  uint8_t slot;          /* stream slot of the free list holding it (cached) */
  uint8_t state;         /* tp_block_state */
  struct tp_block *next; /* free-list link (cached blocks) */
  struct tp_block *map_next; /* pointer-map chain */
} tp_block;

#endif
