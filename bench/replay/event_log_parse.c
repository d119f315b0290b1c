/* Reads an event log (see event_log.h): parse, stable sort by time, resolve
 * pointers to slots. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
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

/* Digits only (hex ones after "0x" for base 16): strtoull alone would also
 * take blanks, a sign, and " -1" as 2^64 - 1. */
static int parse_u64(const char *s, int base, uint64_t *out) {
  if (!isdigit((unsigned char)*s))
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

/* ---- interning pool names and stream handles ---- */

/* Logs may name tens of thousands of pools or streams, so both are found
 * through a hash table of indices (open addressing, linear probing, never
 * more than half full) instead of a scan of everything seen so far. */
typedef struct index_table {
  uint32_t *slots; /* index + 1 of a name or stream; 0 marks an empty slot */
  size_t mask;
} index_table;

typedef struct interner {
  index_table pools, streams;
  uint32_t pool_capacity, stream_capacity;
} interner;

static uint64_t hash_name(const char *name) {
  uint64_t h = 0xcbf29ce484222325u; /* FNV-1a, 64-bit */
  for (const unsigned char *c = (const unsigned char *)name; *c; c++)
    h = (h ^ *c) * 0x100000001b3u;
  return h;
}

static uint64_t hash_stream(uint64_t handle) {
  uint64_t h = handle * 0x9e3779b97f4a7c15u;
  return h ^ (h >> 29);
}

typedef uint64_t (*hash_of_fn)(const replay_log *log, uint32_t index);

static uint64_t pool_hash_of(const replay_log *log, uint32_t i) {
  return hash_name(log->pool_names[i]);
}

static uint64_t stream_hash_of(const replay_log *log, uint32_t i) {
  return hash_stream(log->streams[i]);
}

/* Rebuilds `t` with twice the slots (64 at first) for the `count` entries
 * already interned. */
static int table_grow(index_table *t, uint32_t count, hash_of_fn hash_of,
                      const replay_log *log) {
  size_t n = t->slots ? 2 * (t->mask + 1) : 64;
  uint32_t *slots = calloc(n, sizeof *slots);
  if (!slots)
    return -1;
  for (uint32_t i = 0; i < count; i++) {
    size_t at = hash_of(log, i) & (n - 1);
    while (slots[at])
      at = (at + 1) & (n - 1);
    slots[at] = i + 1;
  }
  free(t->slots);
  t->slots = slots;
  t->mask = n - 1;
  return 0;
}

/* Room for one more entry: the array grows by doubling, the table stays at
 * most half full. */
static int reserve(void **array, uint32_t *capacity, size_t elem,
                   uint32_t count, index_table *t, hash_of_fn hash_of,
                   const replay_log *log) {
  if (count == UINT32_MAX - 1)
    return -1; /* indices + 1 must fit the table's slots */
  if (count == *capacity) {
    uint32_t n = *capacity ? *capacity * 2 : 16;
    void *bigger = realloc(*array, (size_t)n * elem);
    if (!bigger)
      return -1;
    *array = bigger;
    *capacity = n;
  }
  if (!t->slots || 2 * ((size_t)count + 1) > t->mask + 1)
    return table_grow(t, count, hash_of, log);
  return 0;
}

static int intern_pool(replay_log *log, interner *in, const char *name,
                       uint32_t *out) {
  index_table *t = &in->pools;
  if (reserve((void **)&log->pool_names, &in->pool_capacity,
              sizeof *log->pool_names, log->pools, t, pool_hash_of, log) != 0)
    return -1;
  size_t at = hash_name(name) & t->mask;
  for (; t->slots[at]; at = (at + 1) & t->mask) {
    log->lookup_probes++;
    if (strcmp(log->pool_names[t->slots[at] - 1], name) == 0) {
      *out = t->slots[at] - 1;
      return 0;
    }
  }
  if (!(log->pool_names[log->pools] = strdup(name)))
    return -1;
  t->slots[at] = log->pools + 1;
  *out = log->pools++;
  return 0;
}

static int intern_stream(replay_log *log, interner *in, uint64_t handle,
                         uint32_t *out) {
  index_table *t = &in->streams;
  if (reserve((void **)&log->streams, &in->stream_capacity,
              sizeof *log->streams, log->stream_count, t, stream_hash_of,
              log) != 0)
    return -1;
  size_t at = hash_stream(handle) & t->mask;
  for (; t->slots[at]; at = (at + 1) & t->mask) {
    log->lookup_probes++;
    if (log->streams[t->slots[at] - 1] == handle) {
      *out = t->slots[at] - 1;
      return 0;
    }
  }
  log->streams[log->stream_count] = handle;
  t->slots[at] = log->stream_count + 1;
  *out = log->stream_count++;
  return 0;
}

/* ---- CSV records (RFC 4180) ---- */

#define FIELDS 8

/* Reads the record at *pos, unquoting in place: a field never grows when
 * its quotes go, so the write position `w` trails the read position `r`.
 * `fields` point into the text and *count is their number. A quoted field
 * may hold commas, doubled quotes and line breaks; a record ends at LF or
 * CRLF outside quotes. *line counts the LFs consumed. Returns NULL, or what
 * was wrong, with *line where it was (for an unclosed quote, where it was
 * opened). */
static const char *next_record(char **pos, size_t *line, char **fields,
                               int *count) {
  char *r = *pos, *w = *pos;
  int k = 0;
  fields[k++] = w;
  bool quoted = false, closed = false;
  size_t opened = *line;
  for (;;) {
    char c = *r;
    if (quoted) {
      if (c == '\0') {
        *line = opened;
        return "a quoted field is never closed";
      }
      r++;
      if (c == '"') {
        if (*r != '"') {
          quoted = false;
          closed = true;
          continue;
        }
        r++; /* a doubled quote stands for one */
      } else if (c == '\n') {
        ++*line;
      }
      *w++ = c;
      continue;
    }
    if (c == '\r' && r[1] == '\n')
      c = *++r;
    if (c == '\0' || c == '\n' || c == ',') {
      *w++ = '\0';
      if (c == '\0') {
        *pos = r;
        break;
      }
      r++;
      if (c == '\n') {
        *pos = r;
        ++*line;
        break;
      }
      if (k == FIELDS)
        return "more than 8 comma-separated fields";
      fields[k++] = w;
      closed = false;
      continue;
    }
    if (closed)
      return "characters after the closing quote of a field";
    if (c == '"') {
      if (w != fields[k - 1])
        return "a quote inside an unquoted field (quote the whole field)";
      quoted = true;
      opened = *line;
      r++;
      continue;
    }
    *w++ = c;
    r++;
  }
  *count = k;
  return NULL;
}

static const char *const header_fields[FIELDS] = {
    "op", "thread", "time_ns", "pool", "ptr", "size", "stream", "status"};

static bool is_header(char **f) {
  for (int i = 0; i < FIELDS; i++)
    if (strcmp(f[i], header_fields[i]) != 0)
      return false;
  return true;
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

/* Distinct thread ids, by sorting a copy: ids are whatever the log says (a
 * bitmap of small ids would merge ids that differ by a multiple of its size).
 */
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
  interner in;
  memset(&in, 0, sizeof in);
  if (!p || !copy) {
    free(p);
    free(copy);
    return fail(err, err_len, "%s: out of memory", name);
  }
  int rc = 0;
  size_t line_no = 1;
  char *pos = copy;
  while (*pos) {
    size_t record_line = line_no;
    char *f[FIELDS];
    int fields = 0;
    const char *what = next_record(&pos, &line_no, f, &fields);
    if (what) {
      rc = fail(err, err_len, "%s:%zu: %s", name, line_no, what);
      break;
    }
    if (fields == 1 && f[0][0] == '\0')
      continue; /* an empty line */
    if (fields != FIELDS) {
      rc = fail(err, err_len, "%s:%zu: expected 8 comma-separated fields", name,
                record_line);
      break;
    }
    if (is_header(f))
      continue; /* the header (also when logs were concatenated) */
    parsed q;
    memset(&q, 0, sizeof q);
    uint64_t thread, size, stream;
    long long status = 0;
    char *end = NULL;
    if (parse_op(f[0], &q.ev.op) != 0) {
      rc = fail(err, err_len, "%s:%zu: unknown op '%s'", name, record_line,
                f[0]);
      break;
    }
    bool status_ok = *f[7] == '-' || isdigit((unsigned char)*f[7]);
    if (status_ok) {
      errno = 0;
      status = strtoll(f[7], &end, 10);
      status_ok =
          !errno && *end == '\0' && status >= INT_MIN && status <= INT_MAX;
    }
    if (parse_u64(f[1], 10, &thread) || parse_u64(f[2], 10, &q.ev.time_ns) ||
        parse_u64(f[4], 16, &q.ptr) || parse_u64(f[5], 10, &size) ||
        parse_u64(f[6], 16, &stream) || !status_ok || thread > UINT32_MAX) {
      rc = fail(err, err_len, "%s:%zu: a number field is malformed", name,
                record_line);
      break;
    }
    q.ev.thread = (uint32_t)thread;
    q.ev.size = size;
    q.ev.status = (int)status;
    q.order = n;
    if (intern_pool(out, &in, f[3], &q.ev.pool) != 0 ||
        intern_stream(out, &in, stream, &q.ev.stream) != 0) {
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
  free(in.pools.slots);
  free(in.streams.slots);
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
  /* A NUL inside would end the text early and drop what follows it
   * unseen: refused, with its line. */
  const char *nul = memchr(text, '\0', len);
  size_t nul_line = 1;
  for (const char *c = text; nul && c < nul; c++)
    nul_line += *c == '\n';
  int rc = read_error ? fail(err, err_len, "%s: read error", path)
           : nul
               ? fail(err, err_len, "%s:%zu: a NUL byte (not a text event log)",
                      path, nul_line)
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
