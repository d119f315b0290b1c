/* Internal: record a failure's detail for tp_last_error() and return it. */
#ifndef TP_CORE_ERROR_H
#define TP_CORE_ERROR_H

#include <stdint.h>

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

/* Calls into user code (space ops, raw allocators, fill callbacks):
 *
 *   uint64_t mark = tp_error_serial();
 *   st = user_callback(...);
 *   if (st != TP_SUCCESS)
 *     return tp_fail_callback(st, mark, "tp_x: the space's get");
 *
 * The serial counts the thread's message writes, so tp_fail_callback knows
 * whether the callback set a message during the call (then it adds the
 * context in front, as tp_fail_context) or not (then it replaces whatever
 * stale message was there by the context and "set no message"). */
uint64_t tp_error_serial(void);
tp_status tp_fail_callback(tp_status status, uint64_t serial, const char *fmt,
                           ...) TP_PRINTF(3, 4);

#endif
