/* Reads an event log (see event_log.h): parse, stable sort by time, resolve
 * pointers to slots. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_log.h"

static const char *const op_names[] = {"alloc",     "free", "fail_alloc",
                                       "fail_free", "trim", "forget"};
enum { OP_COUNT = sizeof op_names / sizeof op_names[0] };

const char *replay_op_name(replay_op op) {
  return (unsigned)op < OP_COUNT ? op_names[op] : "?";
}

static int fail(char *err, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
  return -1;
}

/* ---- the live-pointer map used while resolving slots ---- */

/* Open addressing, linear probing, deletion by backward shift (no
 * tombstones): keys are (pool, recorded pointer), values slot numbers. */
typedef struct ptr_entry {
  uint64_t ptr;
  uint32_t pool;
  uint32_t slot; /* REPLAY_NO_SLOT marks an empty entry */
} ptr_entry;

typedef struct ptr_map {
  ptr_entry *entries;
  size_t mask;
  size_t used;
} ptr_map;

static size_t ptr_hash(uint64_t ptr, uint32_t pool) {
  uint64_t h = (ptr ^ ((uint64_t)pool << 48)) * 0x9e3779b97f4a7c15u;
  return (size_t)(h >> 17);
}

static int map_init(ptr_map *m, size_t capacity) {
  size_t n = 64;
  while (n < capacity * 2)
    n *= 2;
  m->entries = malloc(n * sizeof *m->entries);
  if (!m->entries)
    return -1;
  for (size_t i = 0; i < n; i++)
    m->entries[i].slot = REPLAY_NO_SLOT;
  m->mask = n - 1;
  m->used = 0;
  return 0;
}

static size_t map_find(const ptr_map *m, uint64_t ptr, uint32_t pool) {
  size_t i = ptr_hash(ptr, pool) & m->mask;
  while (m->entries[i].slot != REPLAY_NO_SLOT &&
         (m->entries[i].ptr != ptr || m->entries[i].pool != pool))
    i = (i + 1) & m->mask;
  return i;
}

/* The map is sized for every event at once, so it never fills. */
static void map_put(ptr_map *m, uint64_t ptr, uint32_t pool, uint32_t slot) {
  size_t i = map_find(m, ptr, pool);
  if (m->entries[i].slot == REPLAY_NO_SLOT)
    m->used++;
  m->entries[i] = (ptr_entry){ptr, pool, slot};
}

static uint32_t map_take(ptr_map *m, uint64_t ptr, uint32_t pool) {
  size_t i = map_find(m, ptr, pool);
  uint32_t slot = m->entries[i].slot;
  if (slot == REPLAY_NO_SLOT)
    return slot;
  /* Backward shift: pull later entries of the probe run into the hole. */
  size_t hole = i;
  for (size_t j = (i + 1) & m->mask; m->entries[j].slot != REPLAY_NO_SLOT;
       j = (j + 1) & m->mask) {
    size_t home = ptr_hash(m->entries[j].ptr, m->entries[j].pool) & m->mask;
    /* Move j into the hole unless its home lies cyclically in (hole, j]. */
    if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
      m->entries[hole] = m->entries[j];
      hole = j;
    }
  }
  m->entries[hole].slot = REPLAY_NO_SLOT;
  m->used--;
  return slot;
}

/* ---- parsing ---- */

static int parse_u64(const char *s, int base, uint64_t *out) {
  if (!*s)
    return -1;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, base);
  if (errno || *end != '\0' || *s == '-')
    return -1;
  *out = (uint64_t)v;
  return 0;
}

static int parse_op(const char *s, replay_op *out) {
  for (int i = 0; i < OP_COUNT; i++) {
    if (strcmp(s, op_names[i]) == 0) {
      *out = (replay_op)i;
      return 0;
    }
  }
  return -1;
}

static int intern_pool(replay_log *log, const char *name, uint32_t *out) {
  for (uint32_t i = 0; i < log->pools; i++) {
    if (strcmp(log->pool_names[i], name) == 0) {
      *out = i;
      return 0;
    }
  }
  char **names = realloc(log->pool_names, (log->pools + 1) * sizeof *names);
  if (!names)
    return -1;
  log->pool_names = names;
  if (!(names[log->pools] = strdup(name)))
    return -1;
  *out = log->pools++;
  return 0;
}

/* Streams are few; the last one found is checked first. */
static int intern_stream(replay_log *log, uint64_t handle, uint32_t *out) {
  for (uint32_t i = log->stream_count; i-- > 0;) {
    if (log->streams[i] == handle) {
      *out = i;
      return 0;
    }
  }
  uint64_t *s = realloc(log->streams, (log->stream_count + 1) * sizeof *s);
  if (!s)
    return -1;
  log->streams = s;
  s[log->stream_count] = handle;
  *out = log->stream_count++;
  return 0;
}

/* Splits `line` in place at commas into exactly `n` fields. */
static int split_fields(char *line, char **fields, int n) {
  int k = 0;
  fields[k++] = line;
  for (char *c = line; *c; c++) {
    if (*c == ',') {
      if (k == n)
        return -1;
      *c = '\0';
      fields[k++] = c + 1;
    }
  }
  return k == n ? 0 : -1;
}

typedef struct parsed {
  replay_event ev;
  uint64_t ptr;
  size_t order; /* position in the file, for a stable sort */
} parsed;

static int compare_time(const void *a, const void *b) {
  const parsed *x = a, *y = b;
  if (x->ev.time_ns != y->ev.time_ns)
    return x->ev.time_ns < y->ev.time_ns ? -1 : 1;
  return (x->order > y->order) - (x->order < y->order);
}

static int compare_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* Distinct recorded thread ids, whatever their values: sorted, then the
 * changes counted. */
static int count_threads(const parsed *p, size_t n, uint32_t *out) {
  uint32_t *ids = malloc((n ? n : 1) * sizeof *ids);
  if (!ids)
    return -1;
  for (size_t i = 0; i < n; i++)
    ids[i] = p[i].ev.thread;
  qsort(ids, n, sizeof *ids, compare_u32);
  uint32_t count = 0;
  for (size_t i = 0; i < n; i++)
    count += i == 0 || ids[i] != ids[i - 1];
  free(ids);
  *out = count;
  return 0;
}

static int resolve_slots(replay_log *log, parsed *p, size_t n, char *err,
                         size_t err_len) {
  ptr_map map;
  if (map_init(&map, n) != 0)
    return fail(err, err_len, "out of memory");
  uint32_t slots = 0;
  for (size_t i = 0; i < n; i++) {
    replay_event *ev = &p[i].ev;
    ev->slot = REPLAY_NO_SLOT;
    switch (ev->op) {
    case REPLAY_ALLOC:
      if (map_take(&map, p[i].ptr, ev->pool) != REPLAY_NO_SLOT)
        log->reused_live_ptr++;
      ev->slot = slots++;
      map_put(&map, p[i].ptr, ev->pool, ev->slot);
      break;
    case REPLAY_FAIL_ALLOC:
      /* Its own slot: if the replay succeeds where the record failed, the
       * block is held until the replay frees it right after. */
      ev->slot = slots++;
      break;
    case REPLAY_FREE:
      ev->slot = map_take(&map, p[i].ptr, ev->pool);
      if (ev->slot == REPLAY_NO_SLOT)
        log->orphan_frees++;
      break;
    default: break;
    }
  }
  free(map.entries);
  log->slots = slots;
  return 0;
}

int replay_log_parse(const char *name, const char *text, replay_log *out,
                     char *err, size_t err_len) {
  memset(out, 0, sizeof *out);
  size_t cap = 1024, n = 0;
  parsed *p = malloc(cap * sizeof *p);
  char *copy = strdup(text);
  if (!p || !copy) {
    free(p);
    free(copy);
    return fail(err, err_len, "%s: out of memory", name);
  }
  int rc = 0;
  size_t line_no = 0;
  char *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    line_no++;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r')
      line[len - 1] = '\0';
    if (line[0] == '\0')
      continue;
    if (strcmp(line, "op,thread,time_ns,pool,ptr,size,stream,status") == 0)
      continue; /* the header (also when logs were concatenated) */
    char *f[8];
    if (split_fields(line, f, 8) != 0) {
      rc = fail(err, err_len, "%s:%zu: expected 8 comma-separated fields", name,
                line_no);
      break;
    }
    parsed q;
    memset(&q, 0, sizeof q);
    uint64_t thread, size, stream;
    long long status;
    char *end = NULL;
    if (parse_op(f[0], &q.ev.op) != 0) {
      rc = fail(err, err_len, "%s:%zu: unknown op '%s'", name, line_no, f[0]);
      break;
    }
    status = strtoll(f[7], &end, 10);
    if (parse_u64(f[1], 10, &thread) || parse_u64(f[2], 10, &q.ev.time_ns) ||
        parse_u64(f[4], 16, &q.ptr) || parse_u64(f[5], 10, &size) ||
        parse_u64(f[6], 16, &stream) || *f[7] == '\0' || *end != '\0' ||
        thread > UINT32_MAX) {
      rc = fail(err, err_len, "%s:%zu: a number field is malformed", name,
                line_no);
      break;
    }
    q.ev.thread = (uint32_t)thread;
    q.ev.size = size;
    q.ev.status = (int)status;
    q.order = n;
    if (intern_pool(out, f[3], &q.ev.pool) != 0 ||
        intern_stream(out, stream, &q.ev.stream) != 0) {
      rc = fail(err, err_len, "%s: out of memory", name);
      break;
    }
    if (n == cap) {
      parsed *bigger = realloc(p, 2 * cap * sizeof *p);
      if (!bigger) {
        rc = fail(err, err_len, "%s: out of memory", name);
        break;
      }
      p = bigger;
      cap *= 2;
    }
    p[n++] = q;
  }
  free(copy);
  if (rc == 0 && n == 0)
    rc = fail(err, err_len, "%s: no events", name);
  if (rc == 0) {
    qsort(p, n, sizeof *p, compare_time);
    rc = resolve_slots(out, p, n, err, err_len);
  }
  if (rc == 0 && count_threads(p, n, &out->threads) != 0)
    rc = fail(err, err_len, "%s: out of memory", name);
  if (rc == 0 && !(out->events = malloc(n * sizeof *out->events)))
    rc = fail(err, err_len, "%s: out of memory", name);
  if (rc == 0) {
    for (size_t i = 0; i < n; i++)
      out->events[i] = p[i].ev;
    out->count = n;
  }
  free(p);
  if (rc != 0)
    replay_log_free(out);
  return rc;
}

int replay_log_read(const char *path, replay_log *out, char *err,
                    size_t err_len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return fail(err, err_len, "%s: %s", path, strerror(errno));
  size_t cap = 1 << 16, len = 0;
  char *text = malloc(cap);
  for (;;) {
    if (!text) {
      fclose(f);
      return fail(err, err_len, "%s: out of memory", path);
    }
    len += fread(text + len, 1, cap - len - 1, f);
    if (len < cap - 1)
      break;
    cap *= 2;
    char *bigger = realloc(text, cap);
    if (!bigger)
      free(text);
    text = bigger;
  }
  int read_error = ferror(f);
  fclose(f);
  text[len] = '\0';
  int rc = read_error ? fail(err, err_len, "%s: read error", path)
                      : replay_log_parse(path, text, out, err, err_len);
  free(text);
  return rc;
}

void replay_log_free(replay_log *log) {
  for (uint32_t i = 0; i < log->pools; i++)
    free(log->pool_names[i]);
  free(log->pool_names);
  free(log->streams);
  free(log->events);
  memset(log, 0, sizeof *log);
}
