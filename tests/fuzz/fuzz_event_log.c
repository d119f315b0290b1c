/* libFuzzer target: the replay's event-log reader (bench/replay) on any
 * text, and the engine's CSV quoting (src/pool/event_log.c) read back by it.
 *
 * For any input the reader either refuses it with a "name:line: what"
 * message or returns a log whose events are sorted by time, whose indices
 * are in range, whose slots pair every free with an earlier alloc of the
 * same pool, and whose counts add up. Whatever it accepted is then written
 * again, every pool name quoted by the engine's own function, and must read
 * back as the same events. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_log.h"
#include "pool/event_log.h"

static void broken(const char *what, ...) __attribute__((format(printf, 1, 2)));
static void broken(const char *what, ...) {
  va_list ap;
  va_start(ap, what);
  fprintf(stderr, "fuzz_event_log: ");
  vfprintf(stderr, what, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond))                                                               \
      broken(__VA_ARGS__);                                                     \
  } while (0)

static int compare_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static void check_log(const replay_log *log) {
  CHECK(log->count > 0, "an accepted log without events");
  for (uint32_t i = 0; i < log->pools; i++)
    for (uint32_t j = i + 1; j < log->pools && j < i + 64; j++)
      CHECK(strcmp(log->pool_names[i], log->pool_names[j]) != 0,
            "pool name '%s' interned twice", log->pool_names[i]);
  for (uint32_t i = 0; i < log->stream_count; i++)
    for (uint32_t j = i + 1; j < log->stream_count && j < i + 64; j++)
      CHECK(log->streams[i] != log->streams[j], "stream interned twice");
  /* Slots: opened by allocs and failed allocs in order, closed once. */
  unsigned char *state = calloc(log->slots ? log->slots : 1, 1);
  uint32_t *threads = malloc(log->count * sizeof *threads);
  CHECK(state && threads, "out of memory");
  uint32_t opened = 0;
  size_t orphans = 0;
  for (size_t i = 0; i < log->count; i++) {
    const replay_event *e = &log->events[i];
    threads[i] = e->thread;
    CHECK(i == 0 || e->time_ns >= log->events[i - 1].time_ns,
          "event %zu is out of time order", i);
    CHECK(e->pool < log->pools && e->stream < log->stream_count,
          "event %zu names pool %u of %u, stream %u of %u", i, e->pool,
          log->pools, e->stream, log->stream_count);
    switch (e->op) {
    case REPLAY_ALLOC:
    case REPLAY_FAIL_ALLOC:
      CHECK(e->slot == opened, "event %zu opens slot %u, expected %u", i,
            e->slot, opened);
      state[opened++] = e->op == REPLAY_ALLOC ? 1 : 3;
      break;
    case REPLAY_FREE:
      if (e->slot == REPLAY_NO_SLOT) {
        orphans++;
        break;
      }
      CHECK(e->slot < opened && state[e->slot] == 1,
            "free %zu closes slot %u, which is not an open alloc", i, e->slot);
      state[e->slot] = 2;
      break;
    default:
      CHECK(e->op <= REPLAY_FORGET, "event %zu has op %d", i, (int)e->op);
      CHECK(e->slot == REPLAY_NO_SLOT, "event %zu (%s) has a slot", i,
            replay_op_name(e->op));
      break;
    }
  }
  CHECK(opened == log->slots, "%u slots opened, log says %u", opened,
        log->slots);
  CHECK(orphans == log->orphan_frees, "%zu orphan frees, log says %zu", orphans,
        log->orphan_frees);
  qsort(threads, log->count, sizeof *threads, compare_u32);
  uint32_t distinct = 0;
  for (size_t i = 0; i < log->count; i++)
    distinct += i == 0 || threads[i] != threads[i - 1];
  CHECK(distinct == log->threads, "%u distinct threads, log says %u", distinct,
        log->threads);
  free(threads);
  free(state);
}

/* Writes `log` as the engine would (every name through its quoting), with
 * a pointer per slot so that the slots come out the same. */
static char *rewrite(const replay_log *log) {
  size_t longest = 0;
  for (uint32_t i = 0; i < log->pools; i++) {
    size_t n = strlen(log->pool_names[i]);
    longest = n > longest ? n : longest;
  }
  size_t name_cap = 2 * longest + 3, line_cap = name_cap + 160;
  size_t cap = 64 + log->count * line_cap, len = 0;
  char *text = malloc(cap), *name = malloc(name_cap);
  CHECK(text && name, "out of memory");
  len += (size_t)snprintf(text, cap,
                          "op,thread,time_ns,pool,ptr,size,stream,status\n");
  for (size_t i = 0; i < log->count; i++) {
    const replay_event *e = &log->events[i];
    size_t n = tp_event_log_quote(log->pool_names[e->pool], name, name_cap);
    CHECK(n < name_cap, "quoting needs %zu bytes, more than 2n + 3", n);
    uint64_t ptr = e->slot == REPLAY_NO_SLOT
                       ? (e->op == REPLAY_FREE ? (uint64_t)1 << 63 | i : 0)
                       : ((uint64_t)e->slot + 1) * 256;
    len += (size_t)snprintf(text + len, cap - len,
                            "%s,%" PRIu32 ",%" PRIu64 ",%s,0x%" PRIx64
                            ",%" PRIu64 ",0x%" PRIx64 ",%d\n",
                            replay_op_name(e->op), e->thread, e->time_ns, name,
                            ptr, e->size, log->streams[e->stream], e->status);
    CHECK(len < cap, "rewritten log overflows its buffer");
  }
  free(name);
  return text;
}

static void check_round_trip(const replay_log *log) {
  char *text = rewrite(log);
  replay_log again;
  char err[256];
  if (replay_log_parse("rewritten", text, &again, err, sizeof err) != 0)
    broken("the rewritten log is refused: %s", err);
  CHECK(again.count == log->count && again.pools == log->pools &&
            again.stream_count == log->stream_count &&
            again.slots == log->slots &&
            again.orphan_frees == log->orphan_frees,
        "the rewritten log reads back with other counts");
  for (size_t i = 0; i < log->count; i++) {
    const replay_event *a = &log->events[i], *b = &again.events[i];
    CHECK(a->op == b->op && a->thread == b->thread &&
              a->time_ns == b->time_ns && a->size == b->size &&
              a->status == b->status && a->slot == b->slot &&
              log->streams[a->stream] == again.streams[b->stream],
          "event %zu reads back differently", i);
    CHECK(strcmp(log->pool_names[a->pool], again.pool_names[b->pool]) == 0,
          "pool name of event %zu reads back as '%s', not '%s'", i,
          again.pool_names[b->pool], log->pool_names[a->pool]);
  }
  replay_log_free(&again);
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  CHECK(text, "out of memory");
  memcpy(text, data, size);
  text[size] = '\0'; /* a NUL inside ends the text, as in a C string */
  replay_log log;
  char err[256] = "";
  if (replay_log_parse("in", text, &log, err, sizeof err) != 0) {
    CHECK(strncmp(err, "in:", 3) == 0, "a refusal without its place: '%s'",
          err);
    CHECK(log.events == NULL && log.pool_names == NULL && log.count == 0,
          "a refused log left results behind");
  } else {
    check_log(&log);
    check_round_trip(&log);
    replay_log_free(&log);
  }
  free(text);
  return 0;
}
