/* The pool model's multi-threaded runs (tests/support/pool_model.c) as a
 * plain program, so that ThreadSanitizer can watch them: Criterion's own
 * shared-memory arena does not start under TSan. Four threads, each with its
 * own streams plus one shared stream, each step checked against the thread's
 * model and the whole pool checked at barriers; with plain segments, under
 * bounds, over a space with virtual memory, and with the NULL stream going
 * through the threads' caches. Exit 0 is a pass.
 *
 * TP_MODEL_SEED=<seed> replays one seed. */
#include <inttypes.h>
#include <stdio.h>

#include "pool_model.h"

static char message[8192];

static bool run(const char *label, tp_model_options o) {
  if (tp_model_run(&o, message, sizeof message))
    return true;
  fprintf(stderr, "FAIL %s: %s\n", label, message);
  return false;
}

int main(void) {
  static const uint64_t seeds[] = {3, 4, 0xC0FFEE};
  uint64_t replay = tp_model_seed(0);
  size_t count = replay ? 1 : sizeof seeds / sizeof seeds[0];
  bool ok = true;
  for (size_t i = 0; i < count; ++i) {
    tp_model_options o = tp_model_options_default(replay ? replay : seeds[i]);
    o.threads = 4;
    o.streams = 2;
    o.steps = 3000;
    o.max_live = 24;
    o.max_request = 16384;
    o.sync_every = 150;
    ok = run("four threads, unbounded", o) && ok;
    o.config.limit = 512 * 1024;
    o.config.max_cached_bytes = 128 * 1024;
    o.config.max_buffers_per_bucket = 3;
    ok = run("four threads, bounded", o) && ok;
    /* Segments that grow in place, pages given back and committed again. */
    o.config = tp_model_options_default(o.seed).config;
    o.vm_page = 4096;
    o.vm_commit = true;
    o.config.page_release = TP_PAGE_RELEASE_AGED;
    o.config.page_release_delay = 8;
    ok = run("four threads, growable segments, pages given back", o) && ok;
    /* The NULL stream among each thread's streams: its requests of up to
     * 256 KiB go through the threads' caches (the wide bins above 64 KiB
     * too, and past them). */
    o = tp_model_options_default(o.seed);
    o.threads = 4;
    o.streams = 2;
    o.steps = 3000;
    o.max_live = 24;
    o.max_request = 320 * 1024;
    o.sync_every = 150;
    o.null_stream = true;
    o.config.thread_cache_bytes = TP_POOL_THREAD_CACHE_DEFAULT;
    ok = run("four threads, thread caches on the NULL stream", o) && ok;
    printf("seed %" PRIu64 ": %s\n", o.seed, ok ? "pass" : "FAIL");
  }
  return ok ? 0 : 1;
}
