/* The CSV event log: one line per alloc, free, failure, trim and stream
 * forget, for replay by bench/replay. Header:
 *   op,thread,time_ns,pool,ptr,size,stream,status
 * Lines are buffered per pool and appended with single write() calls, so
 * several pools (or processes) may share one file; replay sorts by time. */
#ifndef TP_CORE_EVENT_LOG_H
#define TP_CORE_EVENT_LOG_H

#include <stddef.h>

#include "tensorpool/space.h"
#include "tensorpool/status.h"

typedef struct tp_event_log tp_event_log;

/* Opens (creating or appending) `path`; "%p" in it becomes the process id.
 * Returns TP_ERR_INVALID_ARGUMENT with the system's reason on failure. */
tp_status tp_event_log_open(const char *path, tp_event_log **out);
void tp_event_log_write(tp_event_log *log, const char *op, const char *pool,
                        const void *ptr, size_t size, tp_stream stream,
                        tp_status status);
void tp_event_log_close(tp_event_log *log);

#endif
