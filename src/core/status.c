#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

/* Long enough for an NVRTC log excerpt plus context. */
#define TP_MESSAGE_CAPACITY 4096

static _Thread_local char last_error[TP_MESSAGE_CAPACITY];
/* Bumped at every write of last_error (see tp_fail_callback). */
static _Thread_local uint64_t message_serial;

const char *tp_status_name(tp_status status) {
  switch (status) {
  case TP_SUCCESS: return "success";
  case TP_ERR_INVALID_ARGUMENT: return "invalid argument";
  case TP_ERR_INVALID_POINTER: return "invalid pointer";
  case TP_ERR_OUT_OF_MEMORY: return "out of memory";
  case TP_ERR_OVERFLOW: return "size overflow";
  case TP_ERR_NO_DEVICE: return "no device";
  case TP_ERR_NOT_SUPPORTED: return "not supported";
  case TP_ERR_CUDA: return "CUDA error";
  case TP_ERR_NCCL: return "NCCL error";
  case TP_ERR_MPI: return "MPI error";
  case TP_ERR_MISMATCH: return "mismatch";
  case TP_ERR_LEAK: return "live blocks at destroy";
  case TP_ERR_CALLBACK: return "callback failed";
  case TP_ERR_INTERNAL: return "internal error";
  case TP_ERR_BUSY: return "busy";
  }
  return "unknown status";
}

const char *tp_last_error(void) {
  return last_error;
}

uint64_t tp_error_serial(void) {
  return message_serial;
}

static void set_message(const char *fmt, va_list args) {
  vsnprintf(last_error, sizeof last_error, fmt, args);
  message_serial++;
}

tp_status tp_fail(tp_status status, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  set_message(fmt, args);
  va_end(args);
  return status;
}

tp_status tp_set_last_error(tp_status status, const char *format, ...) {
  if (!format)
    return tp_fail(status, "(no message)");
  va_list args;
  va_start(args, format);
  set_message(format, args);
  va_end(args);
  return status;
}

/* Appends as much of `text` as fits, keeping the buffer terminated. */
static void append(char *buffer, size_t capacity, const char *text) {
  size_t used = strlen(buffer);
  size_t room = capacity - 1 - used;
  size_t n = strlen(text);
  if (n > room)
    n = room;
  memcpy(buffer + used, text, n);
  buffer[used + n] = '\0';
}

/* Writes the context, then ": " and `inner` (when given). */
static void set_with_inner(const char *inner, const char *fmt, va_list args) {
  set_message(fmt, args);
  if (inner) {
    append(last_error, sizeof last_error, ": ");
    append(last_error, sizeof last_error, inner);
  }
}

tp_status tp_fail_context(tp_status status, const char *fmt, ...) {
  char inner[TP_MESSAGE_CAPACITY];
  memcpy(inner, last_error, sizeof inner);
  va_list args;
  va_start(args, fmt);
  set_with_inner(inner, fmt, args);
  va_end(args);
  return status;
}

tp_status tp_fail_callback(tp_status status, uint64_t serial, const char *fmt,
                           ...) {
  char inner[TP_MESSAGE_CAPACITY];
  int fresh = message_serial != serial;
  if (fresh)
    memcpy(inner, last_error, sizeof inner);
  va_list args;
  va_start(args, fmt);
  set_with_inner(fresh ? inner : NULL, fmt, args);
  va_end(args);
  if (!fresh)
    append(last_error, sizeof last_error,
           ": it failed without a message (a callback can set one with "
           "tp_set_last_error)");
  return status;
}
