/* Internal: record a failure's detail for tp_last_error() and return it. */
#ifndef TP_CORE_ERROR_H
#define TP_CORE_ERROR_H

#include "tensorpool/status.h"

#if defined(__GNUC__)
#define TP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TP_PRINTF(f, a)
#endif

/* Formats the message ("<function>: what was wrong") into the calling
 * thread's last-error buffer and returns `status`, so callers can write
 * `return tp_fail(TP_ERR_..., "...", ...);`. */
tp_status tp_fail(tp_status status, const char *fmt, ...) TP_PRINTF(2, 3);

/* Prefixes the current thread's message with more context and returns
 * `status` unchanged: for passing a lower layer's failure up. */
tp_status tp_fail_context(tp_status status, const char *fmt, ...)
    TP_PRINTF(2, 3);

#endif
