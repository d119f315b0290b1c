#define _POSIX_C_SOURCE 200809L
#include "pool/event_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

#define TP_EVENT_LOG_BUFFER 65536
/* Room for the longest line: an op of at most 10 characters, the pool name
 * quoted with every character doubled, four 64-bit numbers in decimal or
 * 0x-hex (at most 20 characters each), a 32-bit thread id and a status (11
 * each), 7 commas and the newline. */
#define TP_EVENT_LOG_QUOTED_MAX (2 * TP_EVENT_LOG_NAME_MAX + 2)
#define TP_EVENT_LOG_LINE (TP_EVENT_LOG_QUOTED_MAX + 10 + 4 * 20 + 2 * 11 + 8)

struct tp_event_log {
  /* The pool's lock already orders its writes; this one orders them
   * against the flush at exit, which may run while other threads still
   * allocate. */
  pthread_mutex_t lock;
  int fd;
  size_t used;
  struct tp_event_log *next; /* open logs, for the flush at exit */
  char buffer[TP_EVENT_LOG_BUFFER];
};

/* Serializes opening so that two pools creating one file write one header;
 * guards the list of open logs. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static tp_event_log *open_logs;
static pthread_once_t exit_hook_once = PTHREAD_ONCE_INIT;
static atomic_uint next_thread_id = 1;
static _Thread_local unsigned thread_id;

static unsigned current_thread_id(void) {
  if (!thread_id)
    thread_id = atomic_fetch_add(&next_thread_id, 1);
  return thread_id;
}

static void expand_path(const char *path, char *out, size_t capacity) {
  size_t n = 0;
  for (const char *p = path; *p && n + 1 < capacity; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      int w = snprintf(out + n, capacity - n, "%ld", (long)getpid());
      n += w > 0 ? (size_t)w : 0;
      p++;
    } else {
      out[n++] = *p;
    }
  }
  out[n < capacity ? n : capacity - 1] = '\0';
}

static void flush(tp_event_log *log) {
  size_t done = 0;
  while (done < log->used) {
    ssize_t w = write(log->fd, log->buffer + done, log->used - done);
    if (w <= 0 && errno != EINTR)
      break; /* a log must never take the allocator down with it */
    if (w > 0)
      done += (size_t)w;
  }
  log->used = 0;
}

/* A program that exits without destroying its pools (as many do: exit()
 * flushes stdio) still leaves complete logs: a trace is most often
 * recorded from exactly such a program. */
static void flush_open_logs(void) {
  pthread_mutex_lock(&open_lock);
  for (tp_event_log *log = open_logs; log; log = log->next) {
    pthread_mutex_lock(&log->lock);
    flush(log);
    pthread_mutex_unlock(&log->lock);
  }
  pthread_mutex_unlock(&open_lock);
}

static void install_exit_hook(void) {
  atexit(flush_open_logs);
}

tp_status tp_event_log_open(const char *path, tp_event_log **out) {
  char expanded[1024];
  expand_path(path, expanded, sizeof expanded);
  tp_event_log *log = malloc(sizeof *log);
  if (!log)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "event log: no memory for a buffer");
  pthread_mutex_lock(&open_lock);
  log->fd = open(expanded, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log->fd < 0) {
    int err = errno;
    pthread_mutex_unlock(&open_lock);
    free(log);
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "event log: cannot open '%s': %s",
                   expanded, strerror(err));
  }
  log->used = 0;
  pthread_mutex_init(&log->lock, NULL);
  pthread_once(&exit_hook_once, install_exit_hook);
  log->next = open_logs;
  open_logs = log;
  struct stat st;
  if (fstat(log->fd, &st) == 0 && st.st_size == 0) {
    static const char header[] =
        "op,thread,time_ns,pool,ptr,size,stream,status\n";
    memcpy(log->buffer, header, sizeof header - 1);
    log->used = sizeof header - 1;
    flush(log);
  }
  pthread_mutex_unlock(&open_lock);
  *out = log;
  return TP_SUCCESS;
}

size_t tp_event_log_quote(const char *field, char *out, size_t capacity) {
  size_t need = 0;
  bool quote = strpbrk(field, ",\"\r\n") != NULL;
  for (const char *c = field; *c; c++)
    need += *c == '"' ? 2 : 1;
  need += quote ? 2 : 0;
  if (need + 1 > capacity)
    return need;
  char *o = out;
  if (quote)
    *o++ = '"';
  for (const char *c = field; *c; c++) {
    if (*c == '"')
      *o++ = '"'; /* RFC 4180: a quote inside a quoted field is doubled */
    *o++ = *c;
  }
  if (quote)
    *o++ = '"';
  *o = '\0';
  return need;
}

void tp_event_log_write(tp_event_log *log, const char *op, const char *pool,
                        const void *ptr, size_t size, tp_stream stream,
                        tp_status status) {
  pthread_mutex_lock(&log->lock);
  if (log->used + TP_EVENT_LOG_LINE > sizeof log->buffer)
    flush(log);
  /* A pool name is the user's text: without quoting, a comma in it would
   * shift every later field and a newline would start a forged event. */
  char cut[TP_EVENT_LOG_NAME_MAX + 1], name[TP_EVENT_LOG_QUOTED_MAX + 1];
  if (strnlen(pool, TP_EVENT_LOG_NAME_MAX + 1) > TP_EVENT_LOG_NAME_MAX) {
    memcpy(cut, pool, TP_EVENT_LOG_NAME_MAX);
    cut[TP_EVENT_LOG_NAME_MAX] = '\0';
    pool = cut;
  }
  tp_event_log_quote(pool, name, sizeof name);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  /* Never cut short: TP_EVENT_LOG_LINE holds the longest line. */
  int n =
      snprintf(log->buffer + log->used, TP_EVENT_LOG_LINE,
               "%s,%u,%" PRIu64 ",%s,0x%" PRIxPTR ",%zu,0x%" PRIxPTR ",%d\n",
               op, current_thread_id(), ns, name, (uintptr_t)ptr, size,
               (uintptr_t)stream, (int)status);
  if (n > 0 && n < TP_EVENT_LOG_LINE)
    log->used += (size_t)n;
  pthread_mutex_unlock(&log->lock);
}

void tp_event_log_close(tp_event_log *log) {
  if (!log)
    return;
  pthread_mutex_lock(&open_lock);
  for (tp_event_log **at = &open_logs; *at; at = &(*at)->next)
    if (*at == log) {
      *at = log->next;
      break;
    }
  pthread_mutex_unlock(&open_lock);
  flush(log);
  close(log->fd);
  pthread_mutex_destroy(&log->lock);
  free(log);
}
