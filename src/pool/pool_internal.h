/* Internal layout of a pool, shared by the pool's source files. */
#ifndef TP_CORE_POOL_INTERNAL_H
#define TP_CORE_POOL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pool/block.h"
#include "pool/event_log.h"
#include "pool/ptr_map.h"
#include "pool/size_class.h"
#include "tensorpool/pool.h"

/* Slot 0 holds cached blocks with no pending work (their stream was
 * forgotten or synchronized): any stream may take them without waiting. */
#define TP_SLOT_READY 0u
#define TP_SLOTS (TP_POOL_MAX_STREAMS + 1)

/* The cached blocks of one size class, one list per stream slot. */
typedef struct tp_bin {
  unsigned cls;
  uint64_t stream_mask; /* bit s set: heads[s] is not empty */
  size_t cached;        /* blocks cached in this class */
  tp_block *heads[TP_SLOTS];
} tp_bin;

typedef struct tp_stream_slot {
  tp_stream stream;
  tp_event event; /* created on the first cross-stream take, then reused */
  bool has_event;
} tp_stream_slot;

struct tp_pool {
  pthread_mutex_t lock;
  tp_space space;
  tp_pool_config config;
  char name[64];
  tp_size_classes classes;
  tp_bin **bins;            /* classes.count entries, each made on first use */
  uint64_t *cached_classes; /* bit c set: class c has a cached block */
  tp_ptr_map map;           /* every block the pool holds, live or cached */
  uint64_t used_slots; /* bit s set: slots[s] names a stream (bit 0: ready) */
  tp_stream_slot slots[TP_SLOTS];
  unsigned last_slot; /* lookup cache: the slot found last */
  tp_block *spare_records;
  tp_pool_stats stats;
  tp_event_log *log;
  /* Set by tp_pool_claim_limit (src/pool/pool_owner.h): the public call
   * that sets this pool's limit instead of tp_pool_set_limit. NULL: the
   * pool's user owns the limit. */
  const char *limit_owner;
  /* What the space's put returned when it last refused a release (its
   * message set with tp_fail_callback): reported by trim and set_limit. */
  tp_status refusal;
};

/* Stream slots (pool_streams.c). Lock held. */
int tp_pool_slot_find(tp_pool *pool, tp_stream stream);
/* Finds or registers; -1 when every slot is taken. */
int tp_pool_slot_acquire(tp_pool *pool, tp_stream stream);
/* Makes `waiter` wait for the work queued so far on slot `slot`'s stream. */
tp_status tp_pool_slot_order_after(tp_pool *pool, unsigned slot,
                                   tp_stream waiter);
void tp_pool_slots_fini(tp_pool *pool);

/* Free lists (pool_bins.c). Lock held. */
tp_bin *tp_pool_bin(tp_pool *pool, unsigned cls); /* NULL if out of memory */
void tp_pool_bin_push(tp_pool *pool, tp_bin *bin, tp_block *block,
                      unsigned slot);
tp_block *tp_pool_bin_pop(tp_pool *pool, tp_bin *bin, unsigned slot);
/* The smallest class in [first, last] holding a cached block, or -1. */
int tp_pool_next_cached_class(const tp_pool *pool, unsigned first,
                              unsigned last);

/* Upstream traffic and releases (pool_release.c). Lock held. */
tp_status tp_pool_upstream_get(tp_pool *pool, unsigned cls, size_t bytes,
                               tp_block **out);
/* Gives a block back upstream on `stream`; false (block kept) if put failed,
 * with the put's status in pool->refusal and its message set. */
bool tp_pool_release_block(tp_pool *pool, tp_block *block, tp_stream stream);
/* Releases cached blocks, largest classes first, until cached bytes are at
 * most `target`. With `sync`, waits for the streams of what it released.
 * Returns the status of a put that upstream refused (the blocks from there
 * on are kept), else TP_SUCCESS. */
tp_status tp_pool_release_cached(tp_pool *pool, size_t target, bool sync);
void tp_pool_record_free(tp_pool *pool, tp_block *block);

void tp_pool_note_peaks(tp_pool_stats *stats);

#endif
