#define _POSIX_C_SOURCE 200809L

#include "free_records.h"

#include <stdlib.h>

static size_t slot_of(const void *ptr, size_t capacity) {
  uint64_t h = (uint64_t)(uintptr_t)ptr * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 20) & (capacity - 1);
}

/* The slot holding `ptr`, or the empty slot where it would go. */
static tp_free_record *find_slot(tp_free_record *slots, size_t capacity,
                                 const void *ptr) {
  size_t i = slot_of(ptr, capacity);
  while (slots[i].ptr && slots[i].ptr != ptr)
    i = (i + 1) & (capacity - 1);
  return &slots[i];
}

bool tp_free_records_init(tp_free_records *records) {
  records->capacity = 1024;
  records->used = 0;
  records->slots = calloc(records->capacity, sizeof *records->slots);
  if (!records->slots)
    return false;
  pthread_mutex_init(&records->lock, NULL);
  return true;
}

void tp_free_records_fini(tp_free_records *records) {
  if (!records->slots)
    return; /* never initialized */
  pthread_mutex_destroy(&records->lock);
  free(records->slots);
  records->slots = NULL;
}

/* Keeps the load under one half so probes stay short. */
static bool grow_if_needed(tp_free_records *records) {
  if (2 * (records->used + 1) <= records->capacity)
    return true;
  size_t capacity = 2 * records->capacity;
  tp_free_record *slots = calloc(capacity, sizeof *slots);
  if (!slots)
    return false;
  for (size_t i = 0; i < records->capacity; ++i)
    if (records->slots[i].ptr)
      *find_slot(slots, capacity, records->slots[i].ptr) = records->slots[i];
  free(records->slots);
  records->slots = slots;
  records->capacity = capacity;
  return true;
}

bool tp_free_records_put(tp_free_records *records, const void *ptr,
                         tp_stream stream, uint64_t seq) {
  pthread_mutex_lock(&records->lock);
  bool ok = grow_if_needed(records);
  if (ok) {
    tp_free_record *slot = find_slot(records->slots, records->capacity, ptr);
    if (!slot->ptr)
      records->used++;
    slot->ptr = ptr;
    slot->stream = stream;
    slot->seq = seq;
    slot->pending = true;
  }
  pthread_mutex_unlock(&records->lock);
  return ok;
}

bool tp_free_records_take(tp_free_records *records, const void *ptr,
                          tp_free_record *out) {
  pthread_mutex_lock(&records->lock);
  tp_free_record *slot = find_slot(records->slots, records->capacity, ptr);
  bool pending = slot->ptr && slot->pending;
  if (pending) {
    *out = *slot;
    slot->pending = false;
  }
  pthread_mutex_unlock(&records->lock);
  return pending;
}

void tp_free_records_drop(tp_free_records *records, const void *ptr) {
  pthread_mutex_lock(&records->lock);
  tp_free_record *slot = find_slot(records->slots, records->capacity, ptr);
  if (slot->ptr)
    slot->pending = false;
  pthread_mutex_unlock(&records->lock);
}

void tp_free_records_forget_stream(tp_free_records *records, tp_stream stream) {
  pthread_mutex_lock(&records->lock);
  for (size_t i = 0; i < records->capacity; ++i)
    if (records->slots[i].ptr && records->slots[i].stream == stream)
      records->slots[i].pending = false;
  pthread_mutex_unlock(&records->lock);
}
