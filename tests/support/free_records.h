/* Where each block address was last freed: the stream and the last work item
 * queued on it by the freeing thread. A test looks the address up when the
 * pool hands the block out again, to know which wait the pool owed the new
 * stream. Thread-safe; records are written before the pool's free is called,
 * so a thread that receives the block always finds the record. */
#ifndef TP_TEST_FREE_RECORDS_H
#define TP_TEST_FREE_RECORDS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensorpool/space.h"

typedef struct tp_free_record {
  const void *ptr;
  tp_stream stream;
  uint64_t seq; /* the last item queued on `stream` before the free */
  bool pending; /* false once taken again, or once the stream is gone */
} tp_free_record;

typedef struct tp_free_records {
  pthread_mutex_t lock;
  tp_free_record *slots; /* open addressing, linear probing */
  size_t capacity;       /* a power of two */
  size_t used;
} tp_free_records;

bool tp_free_records_init(tp_free_records *records);
void tp_free_records_fini(tp_free_records *records);
/* False only if memory ran out. */
bool tp_free_records_put(tp_free_records *records, const void *ptr,
                         tp_stream stream, uint64_t seq);
/* Marks the record of `ptr` taken; true and a copy of it if it was pending. */
bool tp_free_records_take(tp_free_records *records, const void *ptr,
                          tp_free_record *out);
/* Undoes a put whose free failed: marks the record of `ptr` not pending. */
void tp_free_records_drop(tp_free_records *records, const void *ptr);
/* Marks every pending record of `stream` done (its work was waited for and
 * the stream handle is about to be destroyed). */
void tp_free_records_forget_stream(tp_free_records *records, tp_stream stream);

#endif
