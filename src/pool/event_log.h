/* The CSV event log: one line per alloc, free, failure, trim and stream
 * forget, for replay by bench/replay. Header:
 *   op,thread,time_ns,pool,ptr,size,stream,status
 * The pool name is quoted as RFC 4180 says when it holds a comma, a double
 * quote, CR or LF (quotes inside doubled), so any name reads back intact
 * and none can forge a line; names longer than TP_EVENT_LOG_NAME_MAX bytes
 * are cut there.
 * Lines are buffered per pool and appended with single write() calls, so
 * several pools (or processes) may share one file; replay sorts by time. */
#ifndef TP_CORE_EVENT_LOG_H
#define TP_CORE_EVENT_LOG_H

#include <stddef.h>

#include "tensorpool/space.h"
#include "tensorpool/status.h"

typedef struct tp_event_log tp_event_log;

#define TP_EVENT_LOG_NAME_MAX 255

/* Writes `field` as one RFC 4180 CSV field into `out` (NUL-terminated) and
 * returns its length; when that length + 1 exceeds `capacity`, writes
 * nothing and returns the length it needs. */
size_t tp_event_log_quote(const char *field, char *out, size_t capacity);

/* Opens (creating or appending) `path`; "%p" in it becomes the process id.
 * Returns TP_ERR_INVALID_ARGUMENT with the system's reason on failure. */
tp_status tp_event_log_open(const char *path, tp_event_log **out);
void tp_event_log_write(tp_event_log *log, const char *op, const char *pool,
                        const void *ptr, size_t size, tp_stream stream,
                        tp_status status);
void tp_event_log_close(tp_event_log *log);

#endif
