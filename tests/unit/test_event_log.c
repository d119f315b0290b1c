/* The CSV event log: one line per alloc, free, failure, trim and forget,
 * with the stream and the status, as bench/replay reads it back. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/sim_space.h"
#include "tensorpool/pool.h"

static char path[64];

static void setup(void) {
  snprintf(path, sizeof path, "/tmp/tp_event_log_%ld.csv", (long)getpid());
  unlink(path);
}
static void teardown(void) {
  unlink(path);
}
TestSuite(event_log, .init = setup, .fini = teardown);

typedef struct line {
  char op[16];
  unsigned thread;
  uint64_t time;
  char pool[64];
  uintptr_t ptr;
  size_t size;
  uintptr_t stream;
  int status;
} line;

static int read_log(line *lines, int capacity, char *header, size_t hcap) {
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f);
  cr_assert_not_null(fgets(header, (int)hcap, f));
  int n = 0;
  while (n < capacity && fscanf(f,
                                "%15[^,],%u,%" SCNu64 ",%63[^,],0x%" SCNxPTR
                                ",%zu,0x%" SCNxPTR ",%d\n",
                                lines[n].op, &lines[n].thread, &lines[n].time,
                                lines[n].pool, &lines[n].ptr, &lines[n].size,
                                &lines[n].stream, &lines[n].status) == 8)
    n++;
  fclose(f);
  return n;
}

Test(event_log, records_every_event_with_stream_and_status) {
  tp_sim *sim = tp_sim_create(SIZE_MAX);
  tp_stream s = tp_sim_stream_create(sim);
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.name = "logged";
  c.event_log_path = path;
  c.limit = 1 << 20;
  tp_pool *pool;
  cr_assert_eq(tp_pool_create(tp_sim_space(sim), &c, &pool), TP_SUCCESS, "%s",
               tp_last_error());
  void *p, *q;
  cr_assert_eq(tp_pool_alloc(pool, 1000, s, &p), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 2 << 20, s, &q), TP_ERR_OUT_OF_MEMORY);
  cr_assert_eq(tp_pool_free(pool, p, s), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, p, s), TP_ERR_INVALID_POINTER);
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  cr_assert_eq(tp_pool_forget_stream(pool, s), TP_SUCCESS);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
  tp_sim_complete_all(sim);
  tp_sim_destroy(sim);

  line l[16];
  char header[128];
  int n = read_log(l, 16, header, sizeof header);
  cr_expect_str_eq(header, "op,thread,time_ns,pool,ptr,size,stream,status\n");
  cr_assert_eq(n, 6);
  const char *ops[] = {"alloc",     "fail_alloc", "free",
                       "fail_free", "trim",       "forget"};
  for (int i = 0; i < n; i++) {
    cr_expect_str_eq(l[i].op, ops[i]);
    cr_expect_str_eq(l[i].pool, "logged");
    cr_expect_eq(l[i].thread, l[0].thread);
    if (i > 0)
      cr_expect_geq(l[i].time, l[i - 1].time, "times never go back");
  }
  cr_expect_eq(l[0].ptr, (uintptr_t)p);
  cr_expect_eq(l[0].size, 1000);
  cr_expect_eq(l[0].stream, (uintptr_t)s);
  cr_expect_eq(l[0].status, TP_SUCCESS);
  cr_expect_eq(l[1].ptr, 0);
  cr_expect_eq(l[1].size, 2 << 20);
  cr_expect_eq(l[1].status, TP_ERR_OUT_OF_MEMORY);
  cr_expect_eq(l[2].size, 1000, "a free logs the block's requested size");
  cr_expect_eq(l[3].status, TP_ERR_INVALID_POINTER);
  cr_expect_eq(l[4].size, 0, "trim logs its target");
  cr_expect_eq(l[5].stream, (uintptr_t)s);
}

Test(event_log, two_pools_append_to_one_file_with_one_header) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.event_log_path = path;
  tp_pool *a, *b;
  cr_assert_eq(tp_pool_create(tp_host_space(), &c, &a), TP_SUCCESS);
  cr_assert_eq(tp_pool_create(tp_host_space(), &c, &b), TP_SUCCESS);
  void *p;
  tp_pool_alloc(a, 256, NULL, &p);
  tp_pool_free(a, p, NULL);
  tp_pool_alloc(b, 512, NULL, &p);
  tp_pool_free(b, p, NULL);
  tp_pool_destroy(a);
  tp_pool_destroy(b);
  line l[8];
  char header[128];
  int n = read_log(l, 8, header, sizeof header);
  cr_expect_eq(n, 4, "the second pool wrote no second header");
  cr_expect_str_neq(l[0].pool, l[2].pool);
}

Test(event_log, unwritable_path_fails_the_create_with_the_reason) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.event_log_path = "/nonexistent-dir/log.csv";
  tp_pool *pool;
  cr_expect_eq(tp_pool_create(tp_host_space(), &c, &pool),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "cannot open"), "%s",
                     tp_last_error());
}

/* A strict RFC 4180 reader, independent of bench/replay's: reads the whole
 * file into `records` rows of at most 8 fields; returns the record count, or
 * -1 when a record does not have exactly 8 fields or a quote is misplaced. */
typedef struct csv_record {
  char field[8][128];
} csv_record;

static int read_csv(const char *file, csv_record *records, int capacity) {
  FILE *f = fopen(file, "r");
  cr_assert_not_null(f);
  int n = 0, k = 0, c;
  size_t len = 0;
  bool quoted = false, was_quoted = false, ok = true;
  csv_record current;
  memset(&current, 0, sizeof current);
  while (ok && (c = fgetc(f)) != EOF) {
    if (quoted) {
      if (c == '"') {
        int next = fgetc(f);
        if (next == '"') {
          c = '"'; /* a doubled quote is one quote of the value */
        } else {
          quoted = false;
          was_quoted = true;
          ungetc(next, f);
          continue;
        }
      }
    } else if (c == '"') {
      ok = len == 0 && !was_quoted; /* quotes only open a field */
      quoted = true;
      continue;
    } else if (c == ',' || c == '\n') {
      ok = k < 8;
      if (ok)
        current.field[k++][len] = '\0';
      len = 0;
      was_quoted = false;
      if (c == '\n') {
        ok = ok && k == 8 && n < capacity;
        if (ok)
          records[n++] = current;
        memset(&current, 0, sizeof current);
        k = 0;
      }
      continue;
    } else {
      ok = !was_quoted; /* nothing may follow a closing quote */
    }
    if (ok && len + 1 < sizeof current.field[0] && k < 8)
      current.field[k][len++] = (char)c;
  }
  fclose(f);
  return ok && !quoted && k == 0 && len == 0 ? n : -1;
}

/* A pool name is the user's text: a comma in it once shifted every later
 * field of its lines, a quote confused CSV readers and a newline started a
 * forged event of another pool. Every name must read back as one field. */
Test(event_log, pool_names_with_commas_quotes_and_newlines_read_back) {
  const char *names[] = {
      "a,b", "say \"hi\"", "two\nlines", "x\nalloc,1,1,forged,0x100,1,0x0,0",
      "\"",  "cr\r\n",     ",",          ""};
  int count = (int)(sizeof names / sizeof names[0]);
  for (int i = 0; i < count; i++) {
    tp_pool_config c = TP_POOL_CONFIG_INIT;
    c.name = names[i];
    c.event_log_path = path;
    tp_pool *pool;
    cr_assert_eq(tp_pool_create(tp_host_space(), &c, &pool), TP_SUCCESS);
    void *p;
    cr_assert_eq(tp_pool_alloc(pool, 300, NULL, &p), TP_SUCCESS);
    cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
    cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
  }
  csv_record records[32];
  int n = read_csv(path, records, 32);
  cr_assert_eq(n, 1 + 2 * count,
               "a header and two events per pool, every one of 8 fields");
  cr_expect_str_eq(records[0].field[3], "pool");
  for (int i = 0; i < count; i++) {
    for (int e = 0; e < 2; e++) {
      const csv_record *r = &records[1 + 2 * i + e];
      cr_expect_str_eq(r->field[0], e == 0 ? "alloc" : "free");
      cr_expect_str_eq(r->field[3], names[i], "pool %d", i);
      cr_expect_str_eq(r->field[5], "300");
    }
  }
}

/* The longest line there is: a name of quotes only (each one doubled) and
 * the largest size, pointer and stream; it is written whole, as one field. */
Test(event_log, the_longest_line_is_written_whole) {
  char name[64];
  memset(name, '"', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.name = name;
  c.event_log_path = path;
  tp_pool *pool;
  cr_assert_eq(tp_pool_create(tp_host_space(), &c, &pool), TP_SUCCESS);
  void *p;
  tp_stream last = (tp_stream)UINTPTR_MAX;
  cr_assert_eq(tp_pool_alloc(pool, SIZE_MAX, last, &p), TP_ERR_OVERFLOW);
  cr_assert_eq(tp_pool_free(pool, (void *)(UINTPTR_MAX - 255), last),
               TP_ERR_INVALID_POINTER);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
  csv_record records[4];
  cr_assert_eq(read_csv(path, records, 4), 3);
  for (int i = 1; i < 3; i++) {
    cr_expect_str_eq(records[i].field[3], name);
    cr_expect_str_eq(records[i].field[6], "0xffffffffffffffff");
  }
  cr_expect_str_eq(records[1].field[5], "18446744073709551615");
}
