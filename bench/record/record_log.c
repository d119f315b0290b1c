/* The recorder's log (record_log.h): a static buffer behind one mutex,
 * written with write(2). Lines are formatted by hand: stdio may allocate,
 * and every allocation here would come back into the hooks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "record_live.h"
#include "record_log.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int fd = -1;
static bool opened, write_through;
static size_t min_size;
static uint64_t last_time;
static uint32_t threads;

/* Initial-exec: the library is loaded at start-up (LD_PRELOAD), so its TLS
 * is in the static block and reading it never calls malloc, as the general
 * dynamic model's first access may. */
static _Thread_local uint32_t thread_id
    __attribute__((tls_model("initial-exec")));

enum { BUFFER_BYTES = 1 << 20, LINE_MAX_BYTES = 128 };
static char buffer[BUFFER_BYTES];
static size_t filled;

static void write_all(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return; /* a full disk loses the rest; nothing better to do here */
    p += w;
    n -= (size_t)w;
  }
}

static void flush(void) {
  if (fd >= 0 && filled > 0)
    write_all(buffer, filled);
  filled = 0;
}

static void say(const char *what, const char *detail) {
  const char *parts[] = {"tp_record: ", what, detail, "\n"};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    if (write(2, parts[i], strlen(parts[i])) < 0)
      return;
}

/* Decimal digits only; anything else leaves the default. */
static bool parse_size(const char *s, size_t *out) {
  if (!s || !*s)
    return false;
  size_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (SIZE_MAX - 9) / 10)
      return false;
    v = v * 10 + (size_t)(*s - '0');
  }
  *out = v;
  return true;
}

static const char header[] = "op,thread,time_ns,pool,ptr,size,stream,status\n";

void record_log_open(void) {
  pthread_mutex_lock(&lock);
  if (!opened) {
    opened = true;
    const char *path = getenv("TP_RECORD_LOG");
    const char *pid = getenv("TP_RECORD_PID");
    size_t want_pid = 0;
    /* record.sh names the process it execs, so that programs the recorded
     * one starts (which inherit LD_PRELOAD) do not truncate its log. */
    bool ours = !pid || !*pid ||
                (parse_size(pid, &want_pid) && want_pid == (size_t)getpid());
    const char *min = getenv("TP_RECORD_MIN_SIZE");
    if (min && *min && !parse_size(min, &min_size))
      say("TP_RECORD_MIN_SIZE is not a number of bytes: ", min);
    if (path && *path && ours) {
      fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0)
        say("cannot open TP_RECORD_LOG: ", path);
      else
        write_all(header, sizeof header - 1);
    }
  }
  pthread_mutex_unlock(&lock);
}

bool record_log_on(void) {
  return fd >= 0;
}

void record_lock(void) {
  pthread_mutex_lock(&lock);
}
void record_unlock(void) {
  pthread_mutex_unlock(&lock);
}

static char *put_text(char *p, const char *s) {
  while (*s)
    *p++ = *s++;
  return p;
}

static char *put_decimal(char *p, uint64_t v) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n)
    *p++ = digits[--n];
  return p;
}

static char *put_hex(char *p, uint64_t v) {
  char digits[16];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  p = put_text(p, "0x");
  while (n)
    *p++ = digits[--n];
  return p;
}

/* Strictly increasing, so that the replay's stable sort by time cannot
 * reorder two events, whatever the clock's resolution. */
static uint64_t next_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  last_time = now > last_time ? now : last_time + 1;
  return last_time;
}

static void emit(const char *op, const void *ptr, size_t size) {
  if (thread_id == 0)
    thread_id = ++threads;
  if (BUFFER_BYTES - filled < LINE_MAX_BYTES)
    flush();
  char *p = buffer + filled;
  p = put_text(p, op);
  *p++ = ',';
  p = put_decimal(p, thread_id);
  *p++ = ',';
  p = put_decimal(p, next_time());
  p = put_text(p, ",malloc,");
  p = put_hex(p, (uint64_t)(uintptr_t)ptr);
  *p++ = ',';
  p = put_decimal(p, size);
  p = put_text(p, ",0x0,0\n");
  filled = (size_t)(p - buffer);
  if (write_through)
    flush();
}

void record_alloc_locked(const void *ptr, size_t size) {
  if (fd < 0 || !ptr || size < min_size)
    return;
  /* An address already live lost its free: log one so the replay's
   * blocks stay paired (it would otherwise count a reused live pointer). */
  size_t lost = 0;
  if (record_live_take((uintptr_t)ptr, &lost))
    emit("free", ptr, lost);
  if (record_live_add((uintptr_t)ptr, size))
    emit("alloc", ptr, size);
}

void record_free_locked(const void *ptr) {
  if (fd < 0 || !ptr)
    return;
  size_t size = 0;
  if (record_live_take((uintptr_t)ptr, &size))
    emit("free", ptr, size);
}

void record_log_close(void) {
  pthread_mutex_lock(&lock);
  flush();
  write_through = true;
  pthread_mutex_unlock(&lock);
}

void record_log_forget(void) {
  /* The child's copy of the lock may be held by a thread that no longer
   * exists there; it is only read after this under the child's own calls,
   * so start it afresh. */
  pthread_mutex_init(&lock, NULL);
  if (fd >= 0)
    close(fd);
  fd = -1;
  filled = 0;
}
