/* Checks of the replay: the log parser (sorting, pointer-to-slot
 * resolution, malformed input) and replays against tensorpool and glibc of
 * small logs whose outcome is known by construction. A plain program: exit
 * status 0 passes, anything else fails with the broken check printed. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event_log.h"
#include "replay_bound.h"
#include "replay_run.h"
#include "replay_shared.h"
#include "selftest_check.h"

#define HEADER "op,thread,time_ns,pool,ptr,size,stream,status\n"

/* Events out of time order, two pools sharing a pointer value, a pointer
 * reused after its free, a free of a block allocated before the log began. */
static void test_parse_resolves_slots(void) {
  const char *text = HEADER "alloc,1,30,b,0x1000,512,0x0,0\n"
                            "alloc,1,10,a,0x1000,100,0x0,0\n"
                            "free,1,40,a,0x1000,100,0x0,0\n"
                            "alloc,2,50,a,0x1000,300,0x7f00,0\n"
                            "free,1,60,a,0xdead00,64,0x0,0\n"
                            "free,1,70,b,0x1000,512,0x0,0\n"
                            "fail_alloc,2,80,a,0x0,999999,0x7f00,3\n";
  replay_log log;
  char err[256];
  CHECK(replay_log_parse("t", text, &log, err, sizeof err) == 0);
  if (failures)
    return;
  CHECK(log.count == 7);
  CHECK(log.pools == 2);
  CHECK(log.threads == 2);
  CHECK(log.stream_count == 2);
  /* Sorted: the alloc at time 10 comes first. */
  CHECK(log.events[0].time_ns == 10 && log.events[0].size == 100);
  CHECK(log.events[0].op == REPLAY_ALLOC && log.events[1].op == REPLAY_ALLOC);
  uint32_t a_first = log.events[0].slot, b_block = log.events[1].slot;
  CHECK(a_first != b_block);
  /* The free at 40 names pool a's first block, not pool b's. */
  CHECK(log.events[2].op == REPLAY_FREE && log.events[2].slot == a_first);
  /* The reuse at 50 is a new block; the orphan free has no slot. */
  CHECK(log.events[3].slot != a_first && log.events[3].slot != b_block);
  CHECK(log.events[4].slot == REPLAY_NO_SLOT);
  CHECK(log.orphan_frees == 1);
  CHECK(log.events[5].slot == b_block);
  CHECK(log.events[6].op == REPLAY_FAIL_ALLOC && log.events[6].status == 3);
  CHECK(log.reused_live_ptr == 0);
  CHECK(log.slots == 4);
  replay_log_free(&log);
}

static void test_parse_rejects_bad_lines(void) {
  replay_log log;
  char err[256] = "";
  CHECK(replay_log_parse("bad", HEADER "alloc,1,10,a,0x10,5\n", &log, err,
                         sizeof err) != 0);
  CHECK(strstr(err, "bad:2") != NULL);
  CHECK(replay_log_parse("bad", HEADER "grow,1,10,a,0x10,5,0x0,0\n", &log, err,
                         sizeof err) != 0);
  CHECK(strstr(err, "unknown op") != NULL);
  CHECK(replay_log_parse("bad", HEADER "alloc,1,ten,a,0x10,5,0x0,0\n", &log,
                         err, sizeof err) != 0);
  CHECK(replay_log_parse("empty", HEADER, &log, err, sizeof err) != 0);
  CHECK(strstr(err, "no events") != NULL);
}

/* Pool names are quoted as RFC 4180 says: commas, doubled quotes and line
 * breaks inside quotes belong to the name, CRLF ends a record like LF, and
 * line numbers in messages count physical lines. */
static void test_parse_quoted_names(void) {
  const char *text = HEADER "alloc,1,10,\"a,b\",0x100,8,0x0,0\r\n"
                            "alloc,1,20,\"say \"\"hi\"\"\",0x100,8,0x0,0\n"
                            "alloc,1,30,\"two\nlines\",0x100,8,0x0,0\n"
                            "free,1,40,\"a,b\",0x100,8,0x0,0\n"
                            "alloc,1,50,\"\",0x200,8,0x0,0\n"
                            "alloc,1,60,,0x300,8,0x0,0\n";
  replay_log log;
  char err[256];
  CHECK(replay_log_parse("q", text, &log, err, sizeof err) == 0);
  if (failures)
    return;
  CHECK(log.count == 6);
  CHECK(log.pools == 4); /* "" quoted and unquoted is one name */
  CHECK(strcmp(log.pool_names[0], "a,b") == 0);
  CHECK(strcmp(log.pool_names[1], "say \"hi\"") == 0);
  CHECK(strcmp(log.pool_names[2], "two\nlines") == 0);
  CHECK(strcmp(log.pool_names[3], "") == 0);
  CHECK(log.events[3].op == REPLAY_FREE &&
        log.events[3].slot == log.events[0].slot);
  CHECK(log.orphan_frees == 0);
  replay_log_free(&log);

  /* The bad record is on physical line 4 (the quoted name spans 2 and 3). */
  CHECK(replay_log_parse("q",
                         HEADER "alloc,1,30,\"two\nlines\",0x1,8,0x0,0\n"
                                "alloc,1,40,p,0x1,8\n",
                         &log, err, sizeof err) != 0);
  CHECK(strstr(err, "q:4:") != NULL);
}

static void test_parse_rejects_bad_quotes(void) {
  replay_log log;
  char err[256] = "";
  CHECK(replay_log_parse("u", HEADER "alloc,1,10,\"open,0x10,5,0x0,0\n", &log,
                         err, sizeof err) != 0);
  CHECK(strstr(err, "u:2: a quoted field is never closed") != NULL);
  CHECK(replay_log_parse("i", HEADER "alloc,1,10,a\"b,0x10,5,0x0,0\n", &log,
                         err, sizeof err) != 0);
  CHECK(strstr(err, "i:2: a quote inside an unquoted field") != NULL);
  CHECK(replay_log_parse("c", HEADER "alloc,1,10,\"a\"b,0x10,5,0x0,0\n", &log,
                         err, sizeof err) != 0);
  CHECK(strstr(err, "c:2: characters after the closing quote") != NULL);
  /* A sign or blank before a number is not a number of the log. */
  CHECK(replay_log_parse("n", HEADER "alloc,1,10,a,0x10, -5,0x0,0\n", &log, err,
                         sizeof err) != 0);
  CHECK(strstr(err, "malformed") != NULL);
}

/* What the engine writes, the parser reads: a pool whose name would once
 * have forged an event round-trips through a real log file. */
static void test_engine_log_round_trip(void) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/tp_replay_selftest_%ld.csv",
           (long)getpid());
  unlink(path);
  const char *name = "x\nalloc,1,1,forged,0x100,1,0x0,0\r\n\"q\",";
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.name = name;
  c.event_log_path = path;
  tp_pool *pool;
  CHECK(tp_pool_create(tp_host_space(), &c, &pool) == TP_SUCCESS);
  if (failures)
    return;
  void *p;
  CHECK(tp_pool_alloc(pool, 1000, NULL, &p) == TP_SUCCESS);
  CHECK(tp_pool_free(pool, p, NULL) == TP_SUCCESS);
  CHECK(tp_pool_destroy(pool) == TP_SUCCESS);
  replay_log log;
  char err[256];
  int rc = replay_log_read(path, &log, err, sizeof err);
  unlink(path);
  CHECK(rc == 0);
  if (rc != 0) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  CHECK(log.count == 2 && log.pools == 1);
  CHECK(strcmp(log.pool_names[0], name) == 0);
  CHECK(log.events[1].slot == log.events[0].slot && log.orphan_frees == 0);
  replay_log_free(&log);
}

/* A NUL byte in a file would end the text there and drop every event
 * after it unseen: the read refuses the file, naming the line. */
static void test_read_refuses_a_nul_byte(void) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/tp_replay_selftest_nul_%ld.csv",
           (long)getpid());
  static const char text[] = HEADER "alloc,1,10,a,0x10,5,0x0,0\n"
                                    "free,1,20,a,0x10\0,5,0x0,0\n"
                                    "alloc,1,30,a,0x20,5,0x0,0\n";
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f)
    return;
  CHECK(fwrite(text, 1, sizeof text - 1, f) == sizeof text - 1);
  fclose(f);
  replay_log log;
  char err[256] = "";
  int rc = replay_log_read(path, &log, err, sizeof err);
  unlink(path);
  CHECK(rc != 0);
  CHECK(strstr(err, ":3: a NUL byte") != NULL);
  if (rc == 0)
    replay_log_free(&log);
}

/* Looking up a pool or a stream costs about one comparison however many
 * distinct ones a log names (a scan of those seen so far once made 50,000
 * distinct pool names take 11.7 s instead of 0.04 s). */
static void test_lookups_stay_constant_per_event(void) {
  enum { EVENTS = 20000 };
  size_t cap = (size_t)EVENTS * 64 + sizeof HEADER;
  char *text = malloc(cap);
  CHECK(text != NULL);
  if (!text)
    return;
  for (int distinct = 0; distinct < 2; distinct++) {
    size_t len = (size_t)snprintf(text, cap, "%s", HEADER);
    for (int i = 0; i < EVENTS; i++) {
      int id = distinct ? i : 0;
      len += (size_t)snprintf(text + len, cap - len,
                              "alloc,1,%d,pool%d,0x%x,64,0x%x,0\n", i, id,
                              (i + 1) * 256, id * 16);
    }
    replay_log log;
    char err[256];
    CHECK(replay_log_parse("many", text, &log, err, sizeof err) == 0);
    if (failures)
      break;
    CHECK(log.pools == (distinct ? EVENTS : 1));
    CHECK(log.stream_count == (distinct ? EVENTS : 1));
    /* Two lookups per event (a pool and a stream). */
    CHECK(log.lookup_probes <= 4 * (uint64_t)EVENTS);
    replay_log_free(&log);
  }
  free(text);
}

/* Three blocks live at the peak (1000 + 2000 + 3000 bytes requested); the
 * third alloc was recorded as failing and must fail again under a limit
 * that only fits the first two. */
static const char *limited_log = HEADER "alloc,1,1,p,0x100,1000,0x0,0\n"
                                        "alloc,1,2,p,0x200,2000,0xa0,0\n"
                                        "fail_alloc,1,3,p,0x0,1048576,0xa0,3\n"
                                        "alloc,1,4,p,0x300,3000,0xa0,0\n"
                                        "free,1,5,p,0x200,2000,0xa0,0\n"
                                        "trim,1,6,p,0x0,0,0x0,0\n"
                                        "forget,1,7,p,0x0,0,0xa0,0\n"
                                        "free,1,8,p,0x100,1000,0x0,0\n";

static void test_replay_tensorpool(void) {
  replay_log log;
  char err[256];
  CHECK(replay_log_parse("limited", limited_log, &log, err, sizeof err) == 0);
  if (failures)
    return;
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.limit = 64 * 1024; /* room for the small blocks, not for 1 MiB */
  replay_result r;
  replay_target target;
  replay_options track = {true, true, NULL}, plain = {false, false, NULL};
  CHECK(replay_target_open(&log, "tensorpool", &config, &target) == 0);
  CHECK(replay_run(&log, &target, &track, &r) == 0);
  replay_target_close(&target);
  CHECK(r.recorded_failures == 1);
  CHECK(r.failures_again == 1);
  CHECK(r.new_failures == 0);
  CHECK(r.peak_requested == 6000);
  CHECK(r.peak_live_blocks == 3);
  CHECK(r.reserved_known);
  /* Reserved covers what was requested, and the classes waste at most a
   * quarter (divisions = 4) plus 256-byte rounding per block. */
  CHECK(r.peak_reserved >= 6000);
  CHECK(r.peak_reserved <= 6000 + 6000 / 4 + 3 * 256);
  CHECK(r.events == log.count);

  /* Without a limit the recorded failure now succeeds. */
  config.limit = TP_UNLIMITED;
  CHECK(replay_target_open(&log, "tensorpool", &config, &target) == 0);
  CHECK(replay_run(&log, &target, &track, &r) == 0);
  /* A second run on the same, warm pool meets the same failures. */
  replay_result again;
  CHECK(replay_run(&log, &target, &plain, &again) == 0);
  CHECK(again.recorded_failures == 1 && again.failures_again == 0);
  replay_target_close(&target);
  CHECK(r.recorded_failures == 1 && r.failures_again == 0);
  CHECK(r.peak_requested == 1000 + 2000 + 1048576);
  replay_log_free(&log);
}

static void test_replay_peer_skips_pool_verbs(void) {
  replay_log log;
  char err[256];
  CHECK(replay_log_parse("limited", limited_log, &log, err, sizeof err) == 0);
  if (failures)
    return;
  replay_result r;
  replay_target target;
  replay_options track = {true, true, NULL};
  CHECK(replay_target_open(&log, "glibc", NULL, &target) == 0);
  CHECK(replay_run(&log, &target, &track, &r) == 0);
  replay_target_close(&target);
  CHECK(r.skipped == 2); /* the trim and the forget */
  CHECK(r.events == log.count - 2);
  CHECK(r.peak_live_blocks == 3);
  replay_log_free(&log);
}

/* Thread ids are counted as they are, not folded into a small range. */
static void test_thread_ids_are_not_folded(void) {
  const char *text = HEADER "alloc,1,1,p,0x100,1000,0x0,0\n"
                            "alloc,65537,2,p,0x200,1000,0x0,0\n"
                            "alloc,131073,3,p,0x300,1000,0x0,0\n"
                            "alloc,65537,4,p,0x400,1000,0x0,0\n";
  replay_log log;
  char err[256];
  CHECK(replay_log_parse("threads", text, &log, err, sizeof err) == 0);
  if (failures)
    return;
  CHECK(log.threads == 3);
  replay_log_free(&log);
}

/* Zero-byte requests (a recorded success from some other allocator, or the
 * pool's own refusal) are not replayed against anyone, and not counted as
 * failures: every allocator acts on the same events. */
static const char *zero_log = HEADER "alloc,1,1,p,0x100,1000,0x0,0\n"
                                     "alloc,1,2,p,0x200,0,0x0,0\n"
                                     "fail_alloc,1,3,p,0x0,0,0x0,1\n"
                                     "free,1,4,p,0x200,0,0x0,0\n"
                                     "free,1,5,p,0x100,1000,0x0,0\n";

static void test_zero_byte_requests_are_counted_apart(void) {
  replay_log log;
  char err[256];
  CHECK(replay_log_parse("zero", zero_log, &log, err, sizeof err) == 0);
  if (failures)
    return;
  const char *impls[] = {"tensorpool", "glibc"};
  for (int k = 0; k < 2; k++) {
    replay_target target;
    replay_result r;
    replay_options track = {true, true, NULL};
    CHECK(replay_target_open(&log, impls[k], NULL, &target) == 0);
    CHECK(replay_run(&log, &target, &track, &r) == 0);
    replay_target_close(&target);
    CHECK(r.zero_byte == 3);
    CHECK(r.recorded_failures == 0 && r.new_failures == 0);
    CHECK(r.events == 2);
    CHECK(r.peak_requested == 1000);
  }
  replay_log_free(&log);
}

/* First touch makes the blocks resident: the physical measure sees them. */
static void test_first_touch_is_resident(void) {
  const char *text = HEADER "alloc,1,1,p,0x100,33554432,0x0,0\n"
                            "free,1,2,p,0x100,33554432,0x0,0\n";
  replay_log log;
  char err[256];
  CHECK(replay_log_parse("touch", text, &log, err, sizeof err) == 0);
  if (failures)
    return;
  replay_target target;
  replay_result r;
  replay_sample timeline[2];
  replay_options track = {true, true, timeline};
  CHECK(replay_target_open(&log, "tensorpool", NULL, &target) == 0);
  CHECK(replay_run(&log, &target, &track, &r) == 0);
  replay_target_close(&target);
  if (r.rss_known) {
    CHECK(r.peak_rss >= 32u << 20);
    CHECK(timeline[0].rss >= 32u << 20);
  }
  CHECK(timeline[0].requested == 32u << 20 && timeline[1].requested == 0);
  CHECK(timeline[0].live >= 32u << 20);
  replay_log_free(&log);
}

/* The idealised bound: a hole a larger block cannot use, then one a smaller
 * block can. a (4096) and b (4096), free a, c (8192) goes on top (the hole
 * is too small), d (4000) takes the hole: high water 16384 against a peak
 * of 16288 requested. */
static void test_one_arena_bound(void) {
  const char *text = HEADER "alloc,1,1,p,0x100,4096,0x0,0\n"
                            "alloc,1,2,p,0x200,4096,0x0,0\n"
                            "free,1,3,p,0x100,4096,0x0,0\n"
                            "alloc,1,4,p,0x300,8192,0x0,0\n"
                            "alloc,1,5,p,0x400,4000,0x0,0\n"
                            "free,1,6,p,0x200,4096,0x0,0\n"
                            "free,1,7,p,0x300,8192,0x0,0\n"
                            "free,1,8,p,0x400,4000,0x0,0\n";
  replay_log log;
  char err[256];
  CHECK(replay_log_parse("bound", text, &log, err, sizeof err) == 0);
  if (failures)
    return;
  replay_bound b;
  CHECK(replay_bound_compute(&log, &b) == 0);
  /* At the peak every 4 KiB page of the 16384 is under a live block. */
  double peak = 4096 + 8192 + 4000;
  CHECK(b.arena > 16384 / peak - 1e-9 && b.arena < 16384 / peak + 1e-9);
  CHECK(b.pages > 16384 / peak - 1e-9 && b.pages < 16384 / peak + 1e-9);
  CHECK(b.granules > (2 << 20) / peak - 1e-9);
  replay_log_free(&log);
}

/* The log handed to a measuring child comes back as it was written. */
static void test_shared_log_round_trip(void) {
  replay_log log, back;
  char err[256];
  CHECK(replay_log_parse("limited", limited_log, &log, err, sizeof err) == 0);
  if (failures)
    return;
  int fd = replay_shared_write(&log);
  CHECK(fd >= 0);
  if (fd < 0)
    return;
  CHECK(replay_shared_map(fd, &back) == 0);
  close(fd);
  CHECK(back.count == log.count && back.pools == log.pools &&
        back.slots == log.slots && back.stream_count == log.stream_count);
  CHECK(memcmp(back.events, log.events, log.count * sizeof *log.events) == 0);
  CHECK(strcmp(back.pool_names[0], log.pool_names[0]) == 0);
  CHECK(back.streams[1] == log.streams[1]);
  replay_log_free(&log);
}

int main(void) {
  test_parse_resolves_slots();
  test_thread_ids_are_not_folded();
  test_zero_byte_requests_are_counted_apart();
  test_first_touch_is_resident();
  test_one_arena_bound();
  test_shared_log_round_trip();
  test_parse_rejects_bad_lines();
  test_parse_quoted_names();
  test_parse_rejects_bad_quotes();
  test_engine_log_round_trip();
  test_read_refuses_a_nul_byte();
  test_lookups_stay_constant_per_event();
  test_replay_tensorpool();
  test_replay_peer_skips_pool_verbs();
  if (failures) {
    fprintf(stderr, "replay_selftest: %d check(s) failed\n", failures);
    return 1;
  }
  printf("replay_selftest: all checks passed\n");
  return 0;
}
