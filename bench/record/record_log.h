/* The recorder's log: events of the C library's allocator written as a
 * tensorpool event log (see docs/bench.md), so tp_replay reads them as it
 * reads a pool's own log.
 *
 * One lock orders everything: an event's time is taken under it and made
 * strictly increasing, and lines reach the file in that order, so the
 * replay's sort by time keeps the true order across threads. The caller
 * decides where the lock is held relative to the real call (see
 * record_hooks.c): a free is logged before the block is given back, an
 * alloc after it is obtained, so no other thread can log the same address
 * in between. Nothing here calls malloc. */
#ifndef TP_RECORD_LOG_H
#define TP_RECORD_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* Reads the environment and opens the log (once; later calls do nothing).
 * Recording stays off when TP_RECORD_LOG is unset or empty, when
 * TP_RECORD_PID is set and names another process, or when the file cannot
 * be opened (a message on stderr says so). */
void record_log_open(void);
bool record_log_on(void);

void record_lock(void);
void record_unlock(void);

/* With the lock held: log an alloc of `size` bytes at `ptr` (left out if
 * below TP_RECORD_MIN_SIZE), or the free of `ptr` (left out unless its
 * alloc was logged, so the log never names a block it did not open). */
void record_alloc_locked(const void *ptr, size_t size);
void record_free_locked(const void *ptr);

/* Writes what is buffered; later events are written at once (they come
 * from exit handlers that run after this library's destructor). */
void record_log_close(void);

/* In a forked child: stop recording without touching the parent's file. */
void record_log_forget(void);

#endif
