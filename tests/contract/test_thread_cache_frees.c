/* Thread caches (tp_pool_config.thread_cache_bytes and
 * TP_POOL_ATTR_THREAD_CACHE_BYTES), checked as a user sees them, from
 * include/tensorpool/pool.h, README.md ("Threads", the failure table),
 * docs/api.md (tensorpool/pool.h, Thread safety) and docs/design.md
 * ("Thread caches (the front end)"): frees on other threads, refusals,
 * what gives parked blocks back, turning the caches off, budgets and
 * inboxes. */
#include "thread_cache.h"

/* ---- Frees on other threads, and refusals ------------------------------- */

/* pool.h: "Any thread may free a block"; design.md: "a second free of a
 * block already freed on another thread (its cell says queued), is refused
 * at once (TP_ERR_INVALID_POINTER, "double free") ...; tp_pool_block_size
 * refuses both." */
Test(tc_frees, a_block_freed_on_another_thread) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = tc_pool(&s.space, TP_POOL_THREAD_CACHE_DEFAULT);
  worker w;
  worker_start(&w);
  size_t req[3] = {1000, 70000, 250000};
  void *p[3];
  for (int i = 0; i < 3; i++) {
    p[i] = w_alloc(&w, pool, req[i], NULL);
    ct_fill(p[i], req[i], (unsigned)i);
  }
  void *keep = w_alloc(&w, pool, 3000, NULL);
  ct_fill(keep, 3000, 9);
  tp_pool_stats before = ct_stats(pool);
  for (int i = 0; i < 3; i++) {
    cr_expect(ct_check(p[i], req[i], (unsigned)i));
    ct_ok(tp_pool_free(pool, p[i], NULL)); /* the worker is idle */
    char expect[160];
    snprintf(expect, sizeof expect, "double free of %p", p[i]);
    ct_expect_fail(tp_pool_free(pool, p[i], NULL), TP_ERR_INVALID_POINTER,
                   expect);
    size_t n = 7;
    ct_expect_fail(tp_pool_block_size(pool, p[i], &n), TP_ERR_INVALID_POINTER,
                   NULL);
    cr_expect_eq(n, 7);
  }
  /* The worker's thread tries once more: refused too. */
  char msg[512];
  cr_expect_eq(w_free(&w, pool, p[1], NULL, msg, sizeof msg),
               TP_ERR_INVALID_POINTER, "%s", msg);
  cr_expect(ct_has(msg, "double free"), "%s", msg);
  tp_pool_stats t = ct_stats(pool);
  cr_expect_eq(t.allocations, before.allocations);
  cr_expect_eq(t.deallocations, before.deallocations + 3);
  cr_expect_eq(t.bytes_freed, before.bytes_freed + 1000 + 70000 + 250000);
  cr_expect_eq(t.live_blocks, 1);
  cr_expect_eq(t.live_bytes, 3072);
  cr_expect_eq(t.requested_bytes, 3000);
  cr_expect_eq(t.failures, before.failures + 4);
  ct_expect_stats_consistent(&t);
  cr_expect(ct_check(keep, 3000, 9), "another block was changed");
  /* The worker goes on using the pool; each block is handed out once. */
  void *again[3];
  for (int i = 0; i < 3; i++) {
    again[i] = w_alloc(&w, pool, req[i], NULL);
    for (int j = 0; j < i; j++)
      cr_expect_neq(again[i], again[j]);
    cr_expect_neq(again[i], keep);
  }
  for (int i = 0; i < 3; i++)
    w_free_ok(&w, pool, again[i]);
  w_free_ok(&w, pool, keep);
  worker_stop(&w);
  t = ct_stats(pool);
  cr_expect_eq(t.live_blocks, 0);
  ct_expect_stats_consistent(&t);
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.held, 0);
}

/* design.md: "Blocks a cache handed out outlive their thread: any thread
 * may free them." Their contents are intact after the thread exits, and the
 * free is counted once. */
typedef struct leaver {
  tp_pool *pool;
  void *p[4];
  size_t n[4];
  int bad;
} leaver;

static void *leave_blocks(void *arg) {
  leaver *l = arg;
  for (int i = 0; i < 4; i++) {
    if (tp_pool_alloc(l->pool, l->n[i], NULL, &l->p[i]) != TP_SUCCESS) {
      l->bad++;
      continue;
    }
    ct_fill(l->p[i], l->n[i], (unsigned)(40 + i));
  }
  /* And some parked ones, which go back with the thread. */
  for (int i = 0; i < 4; i++) {
    void *q = NULL;
    if (tp_pool_alloc(l->pool, l->n[i], NULL, &q) != TP_SUCCESS ||
        tp_pool_free(l->pool, q, NULL) != TP_SUCCESS)
      l->bad++;
  }
  return NULL;
}

Test(tc_frees, blocks_outlive_their_thread) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = tc_pool(&s.space, TP_POOL_THREAD_CACHE_DEFAULT);
  leaver l = {.pool = pool, .n = {256, 5000, 65537, 200000}};
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, leave_blocks, &l), 0);
  pthread_join(t, NULL);
  cr_assert_eq(l.bad, 0);
  tp_pool_stats st = ct_stats(pool);
  cr_expect_eq(st.live_blocks, 4);
  cr_expect_eq(st.thread_cached_blocks, 0);
  /* Allocations after the exit never overlap the blocks it left. */
  void *fresh[4];
  for (int i = 0; i < 4; i++) {
    fresh[i] = alloc_ok(pool, l.n[i], NULL);
    ct_fill(fresh[i], l.n[i], 99);
  }
  for (int i = 0; i < 4; i++) {
    cr_expect(ct_check(l.p[i], l.n[i], (unsigned)(40 + i)),
              "block %d of the exited thread was changed", i);
    cr_expect_eq(usable(pool, l.p[i]), cache_size(l.n[i]));
    ct_ok(tp_pool_free(pool, l.p[i], NULL));
    ct_expect_fail(tp_pool_free(pool, l.p[i], NULL), TP_ERR_INVALID_POINTER,
                   "double free");
    ct_ok(tp_pool_free(pool, fresh[i], NULL));
  }
  st = ct_stats(pool);
  cr_expect_eq(st.allocations, 12);
  cr_expect_eq(st.deallocations, 12);
  cr_expect_eq(st.live_blocks, 0);
  cr_expect_eq(st.failures, 4);
  ct_expect_stats_consistent(&st);
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.held, 0);
}

/* README's table: "the same pointer twice ... double free of ... (already
 * free: a block of 2048 bytes held by a thread's cache)"; "After each of
 * these the pool and every other block are intact"; design.md: "A free of
 * a parked block ... is refused at once". The block is then handed out
 * once, not twice. */
Test(tc_frees, double_free_of_a_parked_block) {
  tp_pool *pool = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  void *keep = alloc_ok(pool, 5000, NULL);
  ct_fill(keep, 5000, 3);
  void *p = alloc_ok(pool, 2000, NULL);
  ct_ok(tp_pool_free(pool, p, NULL));
  tp_pool_stats before = ct_stats(pool);
  cr_expect_eq(before.thread_cached_blocks, 1);
  char expect[200];
  snprintf(expect, sizeof expect,
           "double free of %p (already free: a block of 2048 bytes held by "
           "a thread's cache)",
           p);
  ct_expect_fail(tp_pool_free(pool, p, NULL), TP_ERR_INVALID_POINTER, expect);
  size_t n = 7;
  ct_expect_fail(tp_pool_block_size(pool, p, &n), TP_ERR_INVALID_POINTER, NULL);
  cr_expect_eq(n, 7);
  tp_pool_stats after = ct_stats(pool);
  ct_expect_stats_same_but_failures(&before, &after);
  cr_expect_eq(after.failures, before.failures + 1);
  cr_expect(ct_check(keep, 5000, 3));
  void *a = alloc_ok(pool, 2000, NULL);
  void *b = alloc_ok(pool, 2000, NULL);
  cr_expect_eq(a, p, "the parked block was not served");
  cr_expect_neq(b, p, "the parked block was served twice");
  ct_ok(tp_pool_free(pool, a, NULL));
  ct_ok(tp_pool_free(pool, b, NULL));
  ct_ok(tp_pool_free(pool, keep, NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* design.md: "Two frees of one block racing on two threads, one of them
 * the allocating thread, may both return success: ... the pool counts the
 * second in failures and drops it. Either way a block never has two
 * owners, and none is lost." */
typedef struct racer {
  pthread_barrier_t *go, *done;
  void *volatile *shared;
  tp_pool *pool;
  int rounds;
  int successes;
} racer;

static void *race_free(void *arg) {
  racer *r = arg;
  for (int i = 0; i < r->rounds; i++) {
    pthread_barrier_wait(r->go);
    if (tp_pool_free(r->pool, *r->shared, NULL) == TP_SUCCESS)
      r->successes++;
    pthread_barrier_wait(r->done);
  }
  return NULL;
}

Test(tc_frees, racing_double_frees_give_one_owner) {
  tp_pool *pool = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  enum { ROUNDS = 10000 };
  pthread_barrier_t go, done;
  pthread_barrier_init(&go, NULL, 2);
  pthread_barrier_init(&done, NULL, 2);
  void *volatile shared = NULL;
  racer r = {&go, &done, &shared, pool, ROUNDS, 0};
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, race_free, &r), 0);
  int mine = 0, none = 0;
  for (int i = 0; i < ROUNDS; i++) {
    shared = alloc_ok(pool, i % 2 ? 4096 : 70000, NULL);
    int before = r.successes + mine;
    pthread_barrier_wait(&go);
    if (tp_pool_free(pool, shared, NULL) == TP_SUCCESS)
      mine++;
    pthread_barrier_wait(&done);
    if (r.successes + mine == before)
      none++;
  }
  pthread_join(t, NULL);
  cr_expect_eq(none, 0, "%d rounds where neither free succeeded", none);
  int both = mine + r.successes - ROUNDS;
  cr_log_info("%d of %d rounds: both frees returned success", both, ROUNDS);
  tp_pool_stats s = ct_stats(pool);
  cr_expect_eq(s.allocations, ROUNDS);
  cr_expect_eq(s.deallocations, ROUNDS,
               "deallocations %llu for %d blocks (%d rounds both succeeded)",
               (unsigned long long)s.deallocations, ROUNDS, both);
  cr_expect_eq(s.failures, ROUNDS,
               "failures %llu: each round's second free is one (%d both)",
               (unsigned long long)s.failures, both);
  cr_expect_eq(s.live_blocks, 0);
  ct_expect_stats_consistent(&s);
  /* No block has two owners: 64 allocations of each size are 64 blocks. */
  void *p[128];
  for (int i = 0; i < 128; i++) {
    p[i] = alloc_ok(pool, i % 2 ? 4096 : 70000, NULL);
    for (int j = 0; j < i; j++)
      cr_assert_neq(p[i], p[j], "one block handed out twice");
  }
  for (int i = 0; i < 128; i++)
    ct_ok(tp_pool_free(pool, p[i], NULL));
  pthread_barrier_destroy(&go);
  pthread_barrier_destroy(&done);
  ct_ok(tp_pool_destroy(pool));
}

/* README's table: an interior pointer is "... is an interior pointer, 300
 * bytes into the block at ...", a pointer of another pool "was not
 * allocated by this pool"; both TP_ERR_INVALID_POINTER, and "After each of
 * these the pool and every other block are intact". For blocks the caches
 * handed out, and one of another pool's cache. */
Test(tc_frees, interior_and_foreign_pointers_are_refused) {
  tp_pool *pool = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  tp_pool *other = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  void *a = alloc_ok(pool, 1000, NULL);
  void *b = alloc_ok(pool, 70000, NULL);
  ct_fill(a, 1000, 1);
  ct_fill(b, 70000, 2);
  void *parked = alloc_ok(pool, 3000, NULL);
  ct_ok(tp_pool_free(pool, parked, NULL));
  void *theirs = alloc_ok(other, 1000, NULL);
  void *theirs_parked = alloc_ok(other, 6000, NULL);
  ct_ok(tp_pool_free(other, theirs_parked, NULL));
  void *mine = malloc(4096);
  tp_pool_stats before = ct_stats(pool);
  tp_pool_stats other_before = ct_stats(other);

  char expect[200];
  snprintf(expect, sizeof expect,
           "is an interior pointer, 300 bytes into the block at %p", a);
  ct_expect_fail(tp_pool_free(pool, (char *)a + 300, NULL),
                 TP_ERR_INVALID_POINTER, expect);
  snprintf(expect, sizeof expect,
           "is an interior pointer, 65536 bytes into the block at %p", b);
  ct_expect_fail(tp_pool_free(pool, (char *)b + 65536, NULL),
                 TP_ERR_INVALID_POINTER, expect);
  ct_expect_fail(tp_pool_free(pool, theirs, NULL), TP_ERR_INVALID_POINTER,
                 "was not allocated by this pool");
  ct_expect_fail(tp_pool_free(pool, theirs_parked, NULL),
                 TP_ERR_INVALID_POINTER, "was not allocated by this pool");
  ct_expect_fail(tp_pool_free(pool, mine, NULL), TP_ERR_INVALID_POINTER,
                 "was not allocated by this pool");
  size_t n = 7;
  ct_expect_fail(tp_pool_block_size(pool, (char *)a + 256, &n),
                 TP_ERR_INVALID_POINTER, NULL);
  ct_expect_fail(tp_pool_block_size(pool, theirs, &n), TP_ERR_INVALID_POINTER,
                 NULL);
  cr_expect_eq(n, 7);

  tp_pool_stats after = ct_stats(pool);
  ct_expect_stats_same_but_failures(&before, &after);
  cr_expect_eq(after.failures, before.failures + 5);
  tp_pool_stats other_after = ct_stats(other);
  ct_expect_stats_same_but_failures(&other_before, &other_after);
  cr_expect(ct_check(a, 1000, 1));
  cr_expect(ct_check(b, 70000, 2));
  /* The other pool's block is still live there and its own to free. */
  cr_expect_eq(usable(other, theirs), 1024);
  /* Neither pool took the other's block into its cache. */
  void *x = alloc_ok(pool, 1000, NULL);
  void *y = alloc_ok(pool, 6000, NULL);
  cr_expect_neq(x, theirs);
  cr_expect_neq(y, theirs_parked);
  ct_ok(tp_pool_free(pool, x, NULL));
  ct_ok(tp_pool_free(pool, y, NULL));
  ct_ok(tp_pool_free(other, theirs, NULL));
  ct_ok(tp_pool_free(pool, a, NULL));
  ct_ok(tp_pool_free(pool, b, NULL));
  free(mine);
  ct_ok(tp_pool_destroy(other));
  ct_ok(tp_pool_destroy(pool));
}

/* api.md, tp_pool_raw_allocator: "a sized free larger than the block:
 * TP_ERR_INVALID_ARGUMENT"; raw_allocator.h: the table's thread safety is
 * tp_pool_alloc's and tp_pool_free's. Through the table, a cache's block
 * of 72 KiB for 64 KiB + 1 is freed with any size up to its block (here a
 * size between the request and the block), refused above it with nothing
 * lost; a block from the table is tp_pool_free's on another thread. */
Test(tc_frees, the_raw_table_over_a_cached_pool) {
  tp_pool *pool = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  tp_raw_allocator raw = TP_RAW_ALLOCATOR_INIT;
  ct_ok(tp_pool_raw_allocator(pool, &raw));
  void *p = NULL;
  ct_ok(tp_raw_alloc(&raw, 65537, 0, NULL, &p));
  cr_assert_eq(usable(pool, p), 72 * KiB);
  ct_fill(p, 72 * KiB, 5);
  ct_expect_fail(tp_raw_free(&raw, p, 72 * KiB + 1, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(usable(pool, p), 72 * KiB, "the refused free lost the block");
  cr_expect(ct_check(p, 72 * KiB, 5));
  ct_ok(tp_raw_free(&raw, p, 70000, NULL));
  ct_expect_fail(tp_raw_free(&raw, p, 65537, NULL), TP_ERR_INVALID_POINTER,
                 "double free of");

  worker w;
  worker_start(&w);
  void *q = NULL;
  ct_ok(tp_raw_alloc(&raw, 200000, 256, NULL, &q));
  cr_expect_eq(usable(pool, q), 208 * KiB);
  op o = {.pool = pool, .kind = OP_FREE, .ptr = q};
  worker_do(&w, &o, 1);
  cr_expect_eq(o.st, TP_SUCCESS, "%s", o.msg);
  worker_stop(&w);
  tp_pool_stats st = ct_stats(pool);
  cr_expect_eq(st.allocations, 2);
  cr_expect_eq(st.deallocations, 2);
  cr_expect_eq(st.bytes_allocated, 65537 + 200000);
  cr_expect_eq(st.bytes_freed, 65537 + 200000,
               "a sized free changed the requested bytes counted");
  cr_expect_eq(st.live_blocks, 0);
  ct_expect_stats_consistent(&st);
  ct_ok(tp_pool_destroy(pool));
}

/* design.md: "a free on another stream ... decides at once"; "a cached
 * block never meets another stream, so no event is needed", and the
 * engine's rule: "A block with pending work on S never becomes part of a
 * block handed to T without T waiting for S." A cache's block freed on S,
 * while S's work is still pending, is the only free memory; the next NULL
 * stream request gets it only after the NULL stream waits on S. */
Test(tc_frees, a_free_on_another_stream_keeps_stream_order) {
  static ct_space s;
  ct_space_init(&s);
  s.pending = true; /* no event completes */
  tp_pool *pool = tc_pool(&s.space, TP_POOL_THREAD_CACHE_DEFAULT);
  enum { MAXB = 64 };
  void *b[MAXB];
  int nb = 0;
  b[nb++] = alloc_ok(pool, 256 * KiB, NULL);
  s.capacity = s.held; /* no more memory upstream */
  for (;;) {
    void *p = NULL;
    if (tp_pool_alloc(pool, 256 * KiB, NULL, &p) != TP_SUCCESS)
      break;
    cr_assert_lt(nb, MAXB);
    b[nb++] = p;
  }
  cr_assert_geq(nb, 2);
  tp_pool_stats full = ct_stats(pool);
  cr_expect_eq(full.live_blocks, (uint64_t)nb);
  cr_expect_eq(full.cached_bytes, 0, "memory left while allocations failed");

  void *victim = b[nb / 2];
  tp_stream s1 = ct_stream(1);
  ct_ok(tp_pool_free(pool, victim, s1));
  tp_pool_stats t = ct_stats(pool);
  cr_expect_eq(t.live_blocks, (uint64_t)nb - 1);
  cr_expect_eq(t.thread_cached_blocks, 0, "a block freed on S was parked");
  int mark = s.ncalls;
  void *q = NULL;
  tp_status st = tp_pool_alloc(pool, 256 * KiB, NULL, &q);
  cr_assert_eq(st, TP_SUCCESS, "the only free block was not handed out: %s",
               tp_last_error());
  cr_expect_eq(q, victim);
  bool recorded_on_s1 = false, waited = false;
  for (int i = mark; i < s.ncalls; i++) {
    if (s.calls[i].op == CT_EVENT_RECORD && s.calls[i].stream == s1)
      recorded_on_s1 = true;
    if ((s.calls[i].op == CT_STREAM_WAIT && s.calls[i].stream == NULL &&
         recorded_on_s1) ||
        (s.calls[i].op == CT_STREAM_SYNC && s.calls[i].stream == s1))
      waited = true;
  }
  cr_expect(waited,
            "the NULL stream took a block with pending work on S without "
            "waiting for S");
  b[nb / 2] = q;
  for (int i = 0; i < nb; i++)
    ct_ok(tp_pool_free(pool, b[i], NULL));
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.held, 0);
  cr_expect_eq(s.events_live, 0);
}

/* ---- Giving parked blocks back ----------------------------------------- */

/* pool.h: tp_pool_trim "Takes back every thread's parked blocks
 * (thread_cache_bytes), then gives back upstream whole free segments":
 * with nothing live and a thread alive with a full cache, trim(0) leaves
 * nothing reserved. */
Test(tc_release, trim_takes_back_every_threads_parked_blocks) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = tc_pool(&s.space, TP_POOL_THREAD_CACHE_DEFAULT);
  worker w;
  worker_start(&w);
  size_t sizes[] = {256, 1000, 8192, 65537, 200000};
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < 5; i++) {
      void *p = w_alloc(&w, pool, sizes[i], NULL);
      void *q = alloc_ok(pool, sizes[i], NULL);
      w_free_ok(&w, pool, p);
      ct_ok(tp_pool_free(pool, q, NULL));
    }
  tp_pool_stats st = ct_stats(pool);
  cr_expect_eq(st.live_blocks, 0);
  cr_expect_gt(st.thread_cached_blocks, 0, "nothing parked to begin with");
  cr_expect_gt(s.held, 0);
  ct_ok(tp_pool_trim(pool, 0));
  st = ct_stats(pool);
  cr_expect_eq(st.thread_cached_blocks, 0, "trim left parked blocks");
  cr_expect_eq(st.thread_cached_bytes, 0);
  cr_expect_eq(st.reserved_bytes, 0);
  cr_expect_eq(st.segments, 0);
  cr_expect_eq(s.held, 0, "%zu bytes still held from upstream", s.held);
  ct_expect_stats_consistent(&st);
  /* The thread's cache works again afterwards. */
  void *p = w_alloc(&w, pool, 1000, NULL);
  w_free_ok(&w, pool, p);
  worker_stop(&w);
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.held, 0);
}

/* design.md: "Parked blocks are reserved memory, so limit counts them.
 * tp_pool_trim, tp_pool_set_limit, and an allocation that would fail for
 * memory first take every parked block back from every thread". pool.h:
 * set_limit releases "cached memory (threads' parked blocks first)", and
 * refuses, unchanged, only when "live bytes, or free bytes between them,
 * exceed it". */
Test(tc_release, set_limit_counts_and_takes_back_parked_blocks) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = tc_pool(&s.space, TP_POOL_THREAD_CACHE_DEFAULT);
  worker w;
  worker_start(&w);
  void *p[4];
  for (int i = 0; i < 4; i++)
    p[i] = w_alloc(&w, pool, 100000, NULL);
  for (int i = 0; i < 4; i++)
    w_free_ok(&w, pool, p[i]);
  tp_pool_stats st = ct_stats(pool);
  cr_expect_eq(st.live_blocks, 0);
  cr_expect_gt(st.thread_cached_bytes, 0);
  cr_expect_geq(st.reserved_bytes, st.thread_cached_bytes,
                "parked bytes are not reserved");
  cr_expect_eq(attr(pool, TP_POOL_ATTR_RESERVED_BYTES), st.reserved_bytes);
  cr_expect_gt(st.reserved_bytes, 64 * KiB);
  ct_ok(tp_pool_set_limit(pool, 64 * KiB));
  st = ct_stats(pool);
  cr_expect_leq(st.reserved_bytes, 64 * KiB);
  cr_expect_eq(st.thread_cached_blocks, 0);
  cr_expect_eq(attr(pool, TP_POOL_ATTR_LIMIT), 64 * KiB);
  /* A live block above a new limit: refused, the limit unchanged. */
  ct_ok(tp_pool_set_limit(pool, TP_UNLIMITED));
  void *live = w_alloc(&w, pool, 200000, NULL);
  ct_expect_fail(tp_pool_set_limit(pool, 128 * KiB), TP_ERR_OUT_OF_MEMORY,
                 NULL);
  cr_expect_eq(attr(pool, TP_POOL_ATTR_LIMIT), UINT64_MAX);
  w_free_ok(&w, pool, live);
  worker_stop(&w);
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.held, 0);
}

/* design.md: "an allocation that would fail for memory first take[s]
 * every parked block back from every thread"; a block freed on another
 * thread "still counts as live towards the limit (an allocation that would
 * fail for it takes the inboxes back first)". With a 2 MiB limit, another
 * thread's 768 KiB, parked or waiting in its inbox, must not make a
 * 1.5 MiB request fail. */
static void parked_or_queued_then_big_request(bool queued) {
  tp_pool_config c = tc_config(TP_POOL_THREAD_CACHE_DEFAULT);
  c.limit = 2 * MiB;
  tp_pool *pool = tc_pool_with(tp_host_space(), &c);
  worker w;
  worker_start(&w);
  void *p[3];
  for (int i = 0; i < 3; i++)
    p[i] = w_alloc(&w, pool, 256 * KiB, NULL);
  for (int i = 0; i < 3; i++) {
    if (queued)
      ct_ok(tp_pool_free(pool, p[i], NULL)); /* into the worker's inbox */
    else
      w_free_ok(&w, pool, p[i]); /* parked in the worker's cache */
  }
  uint64_t reserved = attr(pool, TP_POOL_ATTR_RESERVED_BYTES);
  cr_expect_geq(reserved, 768 * KiB);
  cr_expect_gt(reserved + 3 * MiB / 2, 2 * MiB);
  void *big = NULL;
  tp_status st = tp_pool_alloc(pool, 3 * MiB / 2, NULL, &big);
  cr_expect_eq(st, TP_SUCCESS,
               "%s blocks of an idle thread made 1.5 MiB fail under a 2 MiB "
               "limit: %s",
               queued ? "queued" : "parked", tp_last_error());
  tp_pool_stats s = ct_stats(pool);
  cr_expect_leq(s.reserved_bytes, 2 * MiB);
  cr_expect_eq(s.live_blocks, st == TP_SUCCESS ? 1 : 0);
  ct_expect_stats_consistent(&s);
  if (st == TP_SUCCESS)
    ct_ok(tp_pool_free(pool, big, NULL));
  /* The worker still allocates, within the limit. */
  void *q = w_alloc(&w, pool, 256 * KiB, NULL);
  w_free_ok(&w, pool, q);
  worker_stop(&w);
  ct_ok(tp_pool_destroy(pool));
}

Test(tc_release, a_request_over_the_limit_takes_parked_blocks_back) {
  parked_or_queued_then_big_request(false);
}

Test(tc_release, a_request_over_the_limit_takes_inboxes_back) {
  parked_or_queued_then_big_request(true);
}

/* README: "tp_pool_destroy take[s] them back"; design.md: "A destroyed pool
 * detaches every cache ...; a thread frees a detached cache when it next
 * looks for the pool or exits." Destroying with threads' parked blocks is
 * no leak, gives every byte back, and a thread that used the old pool uses
 * a new one (perhaps at the same address) from scratch. */
Test(tc_release, destroy_gives_parked_blocks_back) {
  static ct_space s1, s2;
  ct_space_init(&s1);
  ct_space_init(&s2);
  tp_pool *pool = tc_pool(&s1.space, TP_POOL_THREAD_CACHE_DEFAULT);
  worker w;
  worker_start(&w);
  size_t sizes[] = {512, 3000, 70000, 250000};
  for (int i = 0; i < 4; i++) {
    void *p = w_alloc(&w, pool, sizes[i], NULL);
    void *q = alloc_ok(pool, sizes[i], NULL);
    w_free_ok(&w, pool, p);
    ct_ok(tp_pool_free(pool, q, NULL));
  }
  tp_pool_stats st = ct_stats(pool);
  cr_expect_gt(st.thread_cached_blocks, 0);
  ct_ok(tp_pool_destroy(pool)); /* the worker is alive, idle */
  cr_expect_eq(s1.held, 0, "%zu bytes not given back", s1.held);
  cr_expect_eq(s1.gets, s1.puts);
  cr_expect_eq(s1.events_live, 0);

  pool = tc_pool(&s2.space, TP_POOL_THREAD_CACHE_DEFAULT);
  for (int i = 0; i < 4; i++) {
    void *p = w_alloc(&w, pool, sizes[i], NULL);
    cr_expect_eq(w_usable(&w, pool, p), cache_size(sizes[i]));
    op fill = {.pool = pool, .kind = OP_FILL, .ptr = p, .bytes = sizes[i]};
    worker_do(&w, &fill, 1);
    w_free_ok(&w, pool, p);
  }
  cr_expect_gt(s2.gets, 0, "the new pool took no memory of its own");
  st = ct_stats(pool);
  cr_expect_eq(st.allocations, 4, "the new pool's statistics miss calls");
  cr_expect_eq(st.deallocations, 4);
  cr_expect_eq(st.reserved_bytes, (uint64_t)s2.held);
  ct_expect_stats_consistent(&st);
  worker_stop(&w);
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s2.held, 0);
  cr_expect_eq(s1.gets, s1.puts, "the old space was used after its pool");
}

/* pool.h: destroy "With live blocks left, it still frees them and returns
 * TP_ERR_LEAK with their count and bytes"; README's form: "pool '...'
 * still had 2 live blocks (3000 bytes requested)". Parked blocks are not
 * the caller's live blocks. */
Test(tc_release, destroy_reports_handed_out_blocks_only) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool_config c = tc_config(TP_POOL_THREAD_CACHE_DEFAULT);
  c.name = "tc";
  tp_pool *pool = tc_pool_with(&s.space, &c);
  worker w;
  worker_start(&w);
  (void)alloc_ok(pool, 1000, NULL);
  (void)w_alloc(&w, pool, 2000, NULL);
  void *q = alloc_ok(pool, 4096, NULL);
  ct_ok(tp_pool_free(pool, q, NULL));
  void *r = w_alloc(&w, pool, 70000, NULL);
  w_free_ok(&w, pool, r);
  ct_expect_fail(tp_pool_destroy(pool), TP_ERR_LEAK,
                 "pool 'tc' still had 2 live blocks (3000 bytes requested)");
  cr_expect_eq(s.held, 0);
  cr_expect_eq(s.events_live, 0);
  worker_stop(&w);
}

/* ---- Turning caches off, bounding them ---------------------------------- */

/* pool.h: TP_POOL_ATTR_THREAD_CACHE_BYTES "lowering it (0: off) drains the
 * caches". Lowered, no thread keeps a parked block; at 0, frees park
 * nothing; raised again, caches work again. */
Test(tc_attribute, lowering_the_budget_drains_every_cache) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = tc_pool(&s.space, TP_POOL_THREAD_CACHE_DEFAULT);
  worker w;
  worker_start(&w);
  for (int i = 0; i < 6; i++) {
    size_t n = 1000 + (size_t)i * 20000;
    void *p = w_alloc(&w, pool, n, NULL);
    void *q = alloc_ok(pool, n, NULL);
    w_free_ok(&w, pool, p);
    ct_ok(tp_pool_free(pool, q, NULL));
  }
  cr_expect_gt(ct_stats(pool).thread_cached_blocks, 0);
  ct_ok(
      tp_pool_set_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES, 128 * KiB));
  cr_expect_eq(attr(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES), 128 * KiB);
  tp_pool_stats st = ct_stats(pool);
  cr_expect_eq(st.thread_cached_blocks, 0, "lowering did not drain (%llu)",
               (unsigned long long)st.thread_cached_blocks);
  cr_expect_eq(st.thread_cached_bytes, 0);
  ct_expect_stats_consistent(&st);
  /* Within the new budget, parking goes on... */
  void *p = w_alloc(&w, pool, 3000, NULL);
  w_free_ok(&w, pool, p);
  st = ct_stats(pool);
  cr_expect_eq(st.thread_cached_blocks, 1);
  cr_expect_leq(st.thread_cached_bytes, 128 * KiB);
  /* ... off, nothing parks and sizes are the engine's ... */
  ct_ok(tp_pool_set_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES, 0));
  cr_expect_eq(ct_stats(pool).thread_cached_blocks, 0);
  p = w_alloc(&w, pool, 3000, NULL);
  void *big = w_alloc(&w, pool, 65537, NULL);
  cr_expect_eq(usable(pool, big), 65792);
  w_free_ok(&w, pool, p);
  w_free_ok(&w, pool, big);
  p = alloc_ok(pool, 3000, NULL);
  ct_ok(tp_pool_free(pool, p, NULL));
  st = ct_stats(pool);
  cr_expect_eq(st.thread_cached_blocks, 0, "caches off, yet blocks parked");
  ct_expect_stats_consistent(&st);
  /* ... on again, they park again. */
  ct_ok(tp_pool_set_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES,
                              TP_POOL_THREAD_CACHE_DEFAULT));
  p = w_alloc(&w, pool, 3000, NULL);
  w_free_ok(&w, pool, p);
  cr_expect_eq(ct_stats(pool).thread_cached_blocks, 1);
  worker_stop(&w);
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.held, 0);
}

/* design.md: "Off, the pool behaves exactly as the engine alone"; pool.h:
 * "0 ...: no thread caches, every call takes the pool's lock". A pool that
 * had caches and turned them off, and a pool that never had them, given the
 * same history and then the same calls, hand out the same block sizes,
 * take the same segments from upstream and end with the same figures. */
typedef struct engine_run {
  ct_space s;
  tp_pool *pool;
  size_t sizes[600];
  int nsizes;
} engine_run;

static void run_sequence(engine_run *r, unsigned seed, int steps, bool record) {
  enum { SLOTS = 32 };
  void *p[SLOTS] = {0};
  unsigned x = seed;
  for (int i = 0; i < steps; i++) {
    x = x * 1103515245u + 12345u;
    int k = (int)((x >> 8) % SLOTS);
    tp_stream stream = k % 4 == 0 ? ct_stream(1) : NULL;
    if (p[k]) {
      ct_ok(tp_pool_free(r->pool, p[k], stream));
      p[k] = NULL;
    } else {
      size_t n =
          (x >> 20) % 3 == 0 ? 1 + (x >> 4) % (300 * KiB) : 1 + (x >> 4) % 6000;
      p[k] = alloc_ok(r->pool, n, stream);
      if (record && r->nsizes < 600)
        r->sizes[r->nsizes++] = usable(r->pool, p[k]);
    }
  }
  for (int k = 0; k < SLOTS; k++)
    if (p[k])
      ct_ok(tp_pool_free(r->pool, p[k], k % 4 == 0 ? ct_stream(1) : NULL));
}

Test(tc_attribute, off_the_pool_behaves_as_the_engine_alone) {
  static engine_run a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  ct_space_init(&a.s);
  ct_space_init(&b.s);
  a.pool = tc_pool(&a.s.space, 0);
  b.pool = tc_pool(&b.s.space, TP_POOL_THREAD_CACHE_DEFAULT);
  run_sequence(&a, 7, 200, false);
  run_sequence(&b, 7, 200, false);
  ct_ok(tp_pool_set_attribute(b.pool, TP_POOL_ATTR_THREAD_CACHE_BYTES, 0));
  ct_ok(tp_pool_trim(a.pool, 0));
  ct_ok(tp_pool_trim(b.pool, 0));
  cr_expect_eq(a.s.held, 0);
  cr_expect_eq(b.s.held, 0);
  tp_pool_stats a0 = ct_stats(a.pool), b0 = ct_stats(b.pool);
  int ga = a.s.ncalls, gb = b.s.ncalls;
  run_sequence(&a, 99, 1500, true);
  run_sequence(&b, 99, 1500, true);
  tp_pool_stats a1 = ct_stats(a.pool), b1 = ct_stats(b.pool);
  cr_expect_eq(a.nsizes, b.nsizes);
  int size_diffs = 0;
  for (int i = 0; i < a.nsizes && i < b.nsizes; i++)
    size_diffs += a.sizes[i] != b.sizes[i];
  cr_expect_eq(size_diffs, 0, "%d block sizes differ", size_diffs);
  /* The same upstream gets, in the same order and sizes. */
  int get_diffs = 0, na = 0, nb = 0;
  for (int i = ga, j = gb; i < a.s.ncalls || j < b.s.ncalls;) {
    while (i < a.s.ncalls && a.s.calls[i].op != CT_GET)
      i++;
    while (j < b.s.ncalls && b.s.calls[j].op != CT_GET)
      j++;
    if (i < a.s.ncalls)
      na++;
    if (j < b.s.ncalls)
      nb++;
    if (i < a.s.ncalls && j < b.s.ncalls &&
        a.s.calls[i].bytes != b.s.calls[j].bytes)
      get_diffs++;
    i++;
    j++;
  }
  cr_expect_eq(na, nb, "upstream gets: %d without caches, %d turned off", na,
               nb);
  cr_expect_eq(get_diffs, 0);
#define SAME_DELTA(field)                                                      \
  cr_expect_eq(a1.field - a0.field, b1.field - b0.field,                       \
               #field ": %llu without caches, %llu turned off",                \
               (unsigned long long)(a1.field - a0.field),                      \
               (unsigned long long)(b1.field - b0.field))
#define SAME(field)                                                            \
  cr_expect_eq(a1.field, b1.field, #field ": %llu without, %llu turned off",   \
               (unsigned long long)a1.field, (unsigned long long)b1.field)
  SAME_DELTA(allocations);
  SAME_DELTA(hits);
  SAME_DELTA(misses);
  SAME_DELTA(upstream_gets);
  SAME_DELTA(cross_stream_takes);
  SAME_DELTA(free_blocks_split);
  SAME(reserved_bytes);
  SAME(cached_bytes);
  SAME(cached_blocks);
  SAME(segments);
  SAME(largest_free_block);
  SAME(thread_cached_blocks);
#undef SAME
#undef SAME_DELTA
  ct_ok(tp_pool_destroy(a.pool));
  ct_ok(tp_pool_destroy(b.pool));
}

/* pool.h: "Caches are also off while max_cached_bytes is bounded or an
 * event log is written"; design.md: "A bound on max_cached_bytes turns the
 * caches off (they are drained)". "While" bounded: unbounded again, on. */
Test(tc_attribute, a_bounded_max_cached_bytes_turns_caches_off) {
  tp_pool_config c = tc_config(TP_POOL_THREAD_CACHE_DEFAULT);
  c.max_cached_bytes = 64 * MiB;
  tp_pool *pool = tc_pool_with(tp_host_space(), &c);
  void *p = alloc_ok(pool, 65537, NULL);
  cr_expect_eq(usable(pool, p), 65792, "a cache size with caches off");
  void *q = alloc_ok(pool, 1000, NULL);
  ct_ok(tp_pool_free(pool, p, NULL));
  ct_ok(tp_pool_free(pool, q, NULL));
  cr_expect_eq(ct_stats(pool).thread_cached_blocks, 0);
  ct_ok(tp_pool_destroy(pool));

  pool = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  worker w;
  worker_start(&w);
  p = w_alloc(&w, pool, 1000, NULL);
  q = alloc_ok(pool, 70000, NULL);
  w_free_ok(&w, pool, p);
  ct_ok(tp_pool_free(pool, q, NULL));
  cr_expect_eq(ct_stats(pool).thread_cached_blocks, 2);
  ct_ok(tp_pool_set_attribute(pool, TP_POOL_ATTR_MAX_CACHED_BYTES, 64 * MiB));
  cr_expect_eq(ct_stats(pool).thread_cached_blocks, 0, "not drained");
  p = alloc_ok(pool, 65537, NULL);
  cr_expect_eq(usable(pool, p), 65792, "a cache size with caches off");
  ct_ok(tp_pool_free(pool, p, NULL));
  p = w_alloc(&w, pool, 1000, NULL);
  w_free_ok(&w, pool, p);
  cr_expect_eq(ct_stats(pool).thread_cached_blocks, 0, "parked while off");
  ct_ok(tp_pool_set_attribute(pool, TP_POOL_ATTR_MAX_CACHED_BYTES, UINT64_MAX));
  p = alloc_ok(pool, 65537, NULL);
  cr_expect_eq(usable(pool, p), 72 * KiB, "caches not back once unbounded");
  ct_ok(tp_pool_free(pool, p, NULL));
  cr_expect_eq(ct_stats(pool).thread_cached_blocks, 1);
  worker_stop(&w);
  ct_ok(tp_pool_destroy(pool));
}

/* pool.h: caches are off "while ... an event log is written"; design.md:
 * an event log "must see every call in the pool lock's order". Every
 * alloc and free, from two threads, is in the log. */
Test(tc_attribute, an_event_log_turns_caches_off_and_sees_every_call) {
  char path[128];
  snprintf(path, sizeof path, "/tmp/tp_contract_tc_%ld.csv", (long)getpid());
  remove(path);
  tp_pool_config c = tc_config(TP_POOL_THREAD_CACHE_DEFAULT);
  c.event_log_path = path;
  tp_pool *pool = tc_pool_with(tp_host_space(), &c);
  worker w;
  worker_start(&w);
  int calls = 0;
  for (int i = 0; i < 20; i++) {
    void *p = alloc_ok(pool, 1000 + (size_t)(i % 3) * 30000, NULL);
    void *q = w_alloc(&w, pool, 2000, NULL);
    if (i == 0)
      cr_expect_eq(usable(pool, p), 1024);
    if (i == 1)
      cr_expect_eq(usable(pool, p), round256(31000));
    if (i == 2)
      cr_expect_eq(usable(pool, p), round256(61000));
    ct_ok(tp_pool_free(pool, p, NULL));
    w_free_ok(&w, pool, q);
    calls += 4;
  }
  void *big = alloc_ok(pool, 65537, NULL);
  cr_expect_eq(usable(pool, big), 65792);
  ct_ok(tp_pool_free(pool, big, NULL));
  calls += 2;
  cr_expect_eq(ct_stats(pool).thread_cached_blocks, 0);
  worker_stop(&w);
  ct_ok(tp_pool_destroy(pool));
  int events = ct_log_calls(path);
  cr_assert_geq(events, 0, "no log at %s", path);
  cr_expect_eq(events, calls, "the log holds %d of the %d calls", events,
               calls);
}

/* ---- Budgets and inboxes ------------------------------------------------ */

/* design.md: "per size a LIFO of at most 8 free blocks"; "Per thread and
 * pool: up to thread_cache_bytes of the pool's memory parked". */
Test(tc_budget, a_thread_parks_at_most_eight_per_size_and_its_budget) {
  tp_pool *pool = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  void *p[20];
  for (int i = 0; i < 20; i++)
    p[i] = alloc_ok(pool, 1000, NULL);
  for (int i = 0; i < 20; i++)
    ct_ok(tp_pool_free(pool, p[i], NULL));
  tp_pool_stats st = ct_stats(pool);
  cr_expect_gt(st.thread_cached_blocks, 0);
  cr_expect_leq(st.thread_cached_blocks, 8, "%llu blocks of one size parked",
                (unsigned long long)st.thread_cached_blocks);
  ct_ok(tp_pool_trim(pool, 0));
  /* Six 208 KiB blocks are more than the 1 MiB budget. */
  for (int i = 0; i < 6; i++)
    p[i] = alloc_ok(pool, 200000, NULL);
  for (int i = 0; i < 6; i++)
    ct_ok(tp_pool_free(pool, p[i], NULL));
  st = ct_stats(pool);
  cr_expect_leq(st.thread_cached_bytes, TP_POOL_THREAD_CACHE_DEFAULT,
                "%llu bytes parked by one thread",
                (unsigned long long)st.thread_cached_bytes);
  ct_expect_stats_consistent(&st);
  ct_ok(tp_pool_destroy(pool));

  /* A small budget: 4 KiB. */
  pool = tc_pool(tp_host_space(), 4 * KiB);
  for (int i = 0; i < 20; i++)
    p[i] = alloc_ok(pool, 700 + (size_t)i * 100, NULL);
  for (int i = 0; i < 20; i++)
    ct_ok(tp_pool_free(pool, p[i], NULL));
  st = ct_stats(pool);
  cr_expect_leq(st.thread_cached_bytes, 4 * KiB, "%llu bytes parked",
                (unsigned long long)st.thread_cached_bytes);
  ct_ok(tp_pool_destroy(pool));
}

/* design.md: an inbox holds "at most 256 blocks and 16 times the thread's
 * budget in bytes"; a full one "stops that one cache ..., takes its inbox
 * back and decides at once". A consumer freeing far more than that of an
 * idle producer's blocks succeeds every time, loses nothing, and the
 * producer goes on. */
Test(tc_budget, a_consumer_frees_more_than_an_inbox_holds) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = tc_pool(&s.space, 64 * KiB); /* inbox bound: 1 MiB */
  worker w;
  worker_start(&w);
  enum { N = 700 };
  static void *p[N];
  static size_t n[N];
  static op ops[N];
  for (int i = 0; i < N; i++) {
    n[i] = i % 7 == 0 ? 40000 : 256 + (size_t)(i % 5) * 300;
    ops[i] = (op){.pool = pool, .kind = OP_ALLOC, .bytes = n[i]};
  }
  worker_do(&w, ops, N);
  for (int i = 0; i < N; i++) {
    cr_assert_eq(ops[i].st, TP_SUCCESS, "%s", ops[i].msg);
    p[i] = ops[i].ptr;
    ct_fill(p[i], n[i], (unsigned)i);
  }
  uint64_t freed = 0;
  for (int i = 0; i < N; i += 2) {
    ct_ok(tp_pool_free(pool, p[i], NULL));
    freed++;
  }
  /* The producer allocates again while the rest are still live. */
  for (int i = 0; i < N; i += 2) {
    ops[i] = (op){.pool = pool, .kind = OP_ALLOC, .bytes = n[i]};
  }
  for (int i = 0; i < N; i += 2)
    worker_do(&w, &ops[i], 1);
  for (int i = 0; i < N; i += 2) {
    cr_assert_eq(ops[i].st, TP_SUCCESS, "%s", ops[i].msg);
    p[i] = ops[i].ptr;
    ct_fill(p[i], n[i], (unsigned)(i + N));
  }
  for (int i = 0; i < N; i++)
    cr_expect(ct_check(p[i], n[i], (unsigned)(i % 2 ? i : i + N)),
              "block %d was changed or shared", i);
  for (int i = 0; i < N; i++) {
    ct_ok(tp_pool_free(pool, p[i], NULL));
    freed++;
  }
  tp_pool_stats st = ct_stats(pool);
  cr_expect_eq(st.allocations, N + N / 2);
  cr_expect_eq(st.deallocations, freed);
  cr_expect_eq(st.live_blocks, 0);
  cr_expect_eq(st.requested_bytes, 0);
  cr_expect_eq(st.failures, 0);
  ct_expect_stats_consistent(&st);
  worker_stop(&w);
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.held, 0);
}
