/* tp_replay: replays pool event logs against tensorpool (any pool
 * configuration) and the host peers, and writes JSON lines per (log,
 * allocator): the time per event without and with first touch, the
 * physical memory efficiency (peak resident bytes above the start / peak
 * requested bytes) and the address-space one (the allocator's own count of
 * reserved bytes / peak requested), the idealised bounds, and the failures.
 *
 *   tp_replay [--impl NAME]... [--label NAME] [--divisions N]
 *             [--max-cached-bytes BYTES] [--max-buffers N] [--limit BYTES]
 *             [--oversize BYTES] [--page-release never|pressure|aged]
 *             [--page-release-delay CALLS] [--thread-cache-bytes B]
 *             [--reps N] [--full]
 *             [--out FILE.jsonl] [--timeline DIR] LOG.csv...
 *
 * NAME is tensorpool, glibc, jemalloc, mimalloc or all (the default). The
 * parent parses each log once and hands it over in a memory file; each
 * (log, allocator) then runs in a process of its own, started afresh with
 * exec, so no allocator starts with the parser's or another allocator's
 * leftovers in the process heap (see replay_shared.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "event_log.h"
#include "harness.h"
#include "replay_bound.h"
#include "replay_mem.h"
#include "replay_run.h"
#include "replay_shared.h"

typedef struct replay_args {
  const char *impls[HOST_PEER_COUNT];
  int nimpls;
  const char *label; /* impl name written for tensorpool */
  tp_pool_config config;
  bench_opts opts;
  int touch_reps;
  const char *out_path;
  const char *timeline_dir;
  char **logs;
  int nlogs;
  /* Set in a measuring child: the shared log, the allocator, the log path. */
  int child_fd;
  const char *child_impl, *child_log;
} replay_args;

#define REPLAY_USAGE                                                           \
  "[--impl NAME]... [--label NAME] "                                           \
  "[--divisions N] [--max-cached-bytes BYTES] [--max-buffers N] "              \
  "[--limit BYTES] [--oversize BYTES] "                                        \
  "[--page-release never|pressure|aged] [--page-release-delay N] "             \
  "[--thread-cache-bytes B] "                                                  \
  "[--reps N] [--full] [--out FILE (appended to)] [--timeline DIR] LOG.csv..."

static void usage(const char *why) {
  fprintf(stderr, "tp_replay: %s\nusage: tp_replay " REPLAY_USAGE "\n", why);
  exit(2);
}

static size_t parse_size(const char *s, const char *what) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *end != '\0' || *s == '-' || v == 0)
    usage(what);
  return (size_t)v;
}

/* As parse_size, 0 allowed: the pool's bounds take 0 (nothing kept). */
static size_t parse_size_or_0(const char *s, const char *what) {
  return strcmp(s, "0") == 0 ? 0 : parse_size(s, what);
}

static void parse_args(int argc, char **argv, replay_args *a) {
  memset(a, 0, sizeof *a);
  a->config = (tp_pool_config)TP_POOL_CONFIG_INIT;
  a->label = "tensorpool";
  a->opts.out = stdout;
  a->opts.device = "cpu";
  a->child_fd = -1;
  a->logs = calloc((size_t)argc, sizeof *a->logs);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(arg, "--full") == 0) {
      a->opts.full = true;
      continue;
    }
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      fprintf(stdout, "usage: tp_replay " REPLAY_USAGE "\n");
      exit(0);
    }
    if (strcmp(arg, "--child") == 0) {
      if (i + 3 >= argc)
        usage("--child wants a descriptor, an allocator and a log");
      a->child_fd = atoi(argv[i + 1]);
      a->child_impl = argv[i + 2];
      a->child_log = argv[i + 3];
      i += 3;
      continue;
    }
    if (arg[0] != '-') {
      a->logs[a->nlogs++] = argv[i];
      continue;
    }
    if (!val)
      usage("an option wants a value");
    i++;
    if (strcmp(arg, "--impl") == 0) {
      if (strcmp(val, "all") == 0) {
        for (int k = 0; k < HOST_PEER_COUNT; k++)
          a->impls[k] = host_peer_names[k];
        a->nimpls = HOST_PEER_COUNT;
      } else if (a->nimpls < HOST_PEER_COUNT) {
        a->impls[a->nimpls++] = val;
      }
    } else if (strcmp(arg, "--label") == 0) {
      a->label = val;
    } else if (strcmp(arg, "--divisions") == 0) {
      a->config.divisions = (unsigned)parse_size(val, "bad --divisions");
      /* Checked here, not only by the pool in each child. */
      if (a->config.divisions > 16 ||
          (a->config.divisions & (a->config.divisions - 1)) != 0)
        usage("bad --divisions (1, 2, 4, 8 or 16)");
    } else if (strcmp(arg, "--max-cached-bytes") == 0) {
      a->config.max_cached_bytes =
          parse_size_or_0(val, "bad --max-cached-bytes");
    } else if (strcmp(arg, "--max-buffers") == 0) {
      a->config.max_buffers_per_bucket =
          parse_size_or_0(val, "bad --max-buffers");
    } else if (strcmp(arg, "--limit") == 0) {
      a->config.limit = parse_size(val, "bad --limit");
    } else if (strcmp(arg, "--oversize") == 0) {
      a->config.oversize_threshold = parse_size(val, "bad --oversize");
    } else if (strcmp(arg, "--page-release") == 0) {
      a->config.page_release =
          strcmp(val, "never") == 0      ? TP_PAGE_RELEASE_NEVER
          : strcmp(val, "pressure") == 0 ? TP_PAGE_RELEASE_ON_PRESSURE
          : strcmp(val, "aged") == 0
              ? TP_PAGE_RELEASE_AGED
              : (usage("bad --page-release"), TP_PAGE_RELEASE_DEFAULT);
    } else if (strcmp(arg, "--thread-cache-bytes") == 0) {
      /* 0 turns the caches off. */
      a->config.thread_cache_bytes =
          parse_size_or_0(val, "bad --thread-cache-bytes");
    } else if (strcmp(arg, "--page-release-delay") == 0) {
      a->config.page_release_delay =
          parse_size(val, "bad --page-release-delay");
    } else if (strcmp(arg, "--reps") == 0) {
      a->opts.reps = (int)parse_size(val, "bad --reps");
    } else if (strcmp(arg, "--out") == 0) {
      a->out_path = val;
    } else if (strcmp(arg, "--timeline") == 0) {
      a->timeline_dir = val;
    } else {
      usage("unknown option");
    }
  }
  if (a->nlogs == 0 && a->child_fd < 0)
    usage("no log given");
  if (a->nimpls == 0) {
    for (int k = 0; k < HOST_PEER_COUNT; k++)
      a->impls[k] = host_peer_names[k];
    a->nimpls = HOST_PEER_COUNT;
  }
  if (a->opts.reps == 0)
    a->opts.reps = a->opts.full ? 15 : 7;
  if (a->opts.reps > 1000)
    a->opts.reps = 1000;
  /* First-touch passes fault in fresh pages for most allocators (a pass of
   * the batches log takes about a minute for glibc on 2 cores): one timed
   * pass in quick mode, after the memory pass (also with first touch). */
  a->touch_reps = a->opts.full ? 5 : 1;
  if (a->touch_reps > a->opts.reps)
    a->touch_reps = a->opts.reps;
}

/* "bench/traces/transformer.csv" -> "transformer". */
static void case_name(const char *path, char *buf, size_t len) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  snprintf(buf, len, "%s", base);
  char *dot = strrchr(buf, '.');
  if (dot)
    *dot = '\0';
}

/* ---- the measuring child ---- */

static double ratio(size_t num, size_t den) {
  return den ? (double)num / (double)den : -1.0;
}

static void fmt_double(char *buf, size_t len, double v) {
  if (v < 0)
    snprintf(buf, len, "null");
  else
    snprintf(buf, len, "%.4f", v);
}

/* Time per event over `reps` passes of one kind. */
static int timed_passes(const replay_log *log, replay_target *target,
                        bool touch, int reps, bench_timing *out) {
  double samples[1000];
  replay_options o = {touch, false, NULL};
  for (int r = 0; r < reps; r++) {
    replay_result timed;
    if (replay_run(log, target, &o, &timed) != 0)
      return -1;
    samples[r] = (double)timed.ns / (double)(timed.events ? timed.events : 1);
  }
  bench_summarize(samples, reps, out);
  return 0;
}

/* Columns of a timeline file, in MiB; NaN where unknown. Downsampled to at
 * most `points` rows, each the maximum over its events (peaks survive). */
/* False (with a message) when the file cannot be written. */
static bool write_timeline(const char *dir, const char *name, const char *impl,
                           const replay_sample *t, size_t count) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.%s.timeline.dat", dir, name, impl);
  for (char *c = path + strlen(dir) + 1; *c; c++)
    if (*c == ':' || *c == '/')
      *c = '_';
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "tp_replay: %s: %s\n", path, strerror(errno));
    return false;
  }
  fprintf(f, "event requested live reserved largest_free resident\n");
  const size_t points = 1500;
  size_t step = count > points ? (count + points - 1) / points : 1;
  for (size_t start = 0; start < count; start += step) {
    uint64_t max[5] = {0};
    bool known[5] = {false};
    size_t end = start + step < count ? start + step : count;
    for (size_t i = start; i < end; i++) {
      const uint64_t v[5] = {t[i].requested, t[i].live, t[i].reserved,
                             t[i].largest_free, t[i].rss};
      for (int k = 0; k < 5; k++)
        if (v[k] != REPLAY_UNKNOWN) {
          known[k] = true;
          max[k] = v[k] > max[k] ? v[k] : max[k];
        }
    }
    fprintf(f, "%zu", end);
    for (int k = 0; k < 5; k++) {
      if (known[k])
        fprintf(f, " %.3f", (double)max[k] / (1024.0 * 1024.0));
      else
        fprintf(f, " NaN");
    }
    fprintf(f, "\n");
  }
  bool written = !ferror(f);
  if (fclose(f) != 0 || !written) {
    fprintf(stderr, "tp_replay: %s: write failed\n", path);
    return false;
  }
  return true;
}

static int child_main(replay_args *a) {
  replay_log log;
  if (replay_shared_map(a->child_fd, &log) != 0)
    return 1;
  const char *impl = a->child_impl;
  bool is_pool = strcmp(impl, "tensorpool") == 0;
  replay_bound bound = {-1, -1, -1};
  if (replay_bound_compute(&log, &bound) != 0)
    bound = (replay_bound){-1, -1, -1};
  replay_sample *timeline = NULL;
  size_t timeline_bytes = log.count * sizeof *timeline;
  if (a->timeline_dir)
    timeline = replay_mem_alloc(timeline_bytes);

  replay_target target;
  if (replay_target_open(&log, impl, is_pool ? &a->config : NULL, &target) != 0)
    return 1;
  /* The first pass, on a fresh allocator, measures memory, with each block
   * written once; the timed passes follow on the same, now warm, one. */
  replay_result mem;
  replay_options track = {true, true, timeline};
  int rc = replay_run(&log, &target, &track, &mem);
  tp_pool_stats stats = TP_POOL_STATS_INIT;
  bool have_stats = replay_target_pool_stats(&target, &stats);
  bench_timing plain, touched;
  if (rc == 0)
    rc = timed_passes(&log, &target, false, a->opts.reps, &plain);
  if (rc == 0)
    rc = timed_passes(&log, &target, true, a->touch_reps, &touched);
  replay_target_close(&target);
  if (rc != 0)
    return 1;

  /* Output only now: stdio's buffers come from the heap under test. */
  if (a->out_path && !(a->opts.out = fopen(a->out_path, "a"))) {
    fprintf(stderr, "tp_replay: cannot open %s: %s\n", a->out_path,
            strerror(errno));
    return 1;
  }
  char name[256], extra[2048], phys[32], addr[32], b_arena[32], b_pages[32],
      b_gran[32], pool_extra[512] = "";
  case_name(a->child_log, name, sizeof name);
  fmt_double(phys, sizeof phys,
             mem.rss_known ? ratio(mem.peak_rss, mem.peak_requested) : -1);
  fmt_double(addr, sizeof addr,
             mem.reserved_known ? ratio(mem.peak_reserved, mem.peak_requested)
                                : -1);
  fmt_double(b_arena, sizeof b_arena, bound.arena);
  fmt_double(b_pages, sizeof b_pages, bound.pages);
  fmt_double(b_gran, sizeof b_gran, bound.granules);
  if (have_stats)
    snprintf(pool_extra, sizeof pool_extra,
             ",\"upstream_gets\":%llu,\"upstream_puts\":%llu,"
             "\"segments_peak_bytes\":%llu,\"segment_grows\":%llu,"
             "\"page_releases\":%llu,\"page_release_bytes\":%llu,"
             "\"page_reuse_bytes\":%llu,\"page_release_ms\":%.3f,"
             "\"committed_peak\":%llu",
             (unsigned long long)stats.upstream_gets,
             (unsigned long long)stats.upstream_puts,
             (unsigned long long)stats.reserved_bytes_peak,
             (unsigned long long)stats.segment_grows,
             (unsigned long long)stats.page_releases,
             (unsigned long long)stats.page_release_bytes,
             (unsigned long long)stats.page_reuse_bytes,
             (double)stats.page_release_ns / 1e6,
             (unsigned long long)stats.committed_bytes_peak);
  const char *label = is_pool ? a->label : impl;
  for (int pass = 0; pass < 2; pass++) {
    snprintf(extra, sizeof extra,
             "\"events\":%zu,\"skipped\":%zu,\"zero_byte\":%zu,"
             "\"efficiency\":%s,\"efficiency_address\":%s,"
             "\"peak_resident\":%zu,\"peak_reserved\":%zu,"
             "\"peak_requested\":%zu,\"bound_arena\":%s,\"bound_pages\":%s,"
             "\"bound_granules\":%s,"
             "\"recorded_failures\":%zu,\"failures_again\":%zu,"
             "\"new_failures\":%zu,\"orphan_frees\":%zu,"
             "\"divisions\":%u,\"limit\":%s%s,"
             "\"note\":\"replayed in one thread in recorded order%s\"",
             mem.events, mem.skipped, mem.zero_byte, phys, addr, mem.peak_rss,
             mem.peak_reserved, mem.peak_requested, b_arena, b_pages, b_gran,
             mem.recorded_failures, mem.failures_again, mem.new_failures,
             log.orphan_frees, is_pool ? a->config.divisions : 0,
             is_pool && a->config.limit != TP_UNLIMITED ? "\"set\"" : "null",
             pool_extra, pass ? ", each block written once" : "");
    bench_emit(&a->opts,
               &(bench_record){pass ? "replay_touch" : "replay", name, label,
                               mem.peak_requested, (int)log.threads,
                               (int)log.stream_count, mem.peak_live_blocks,
                               pass ? touched : plain, -1.0, extra});
  }
  if (a->opts.out != stdout)
    fclose(a->opts.out);
  if (timeline)
    if (!write_timeline(a->timeline_dir, name, label, timeline, log.count))
      return 1;
  return 0;
}

/* ---- the parent ---- */

/* Runs one measurement in a new process: this program again, told by
 * --child which shared log and allocator to measure. */
static int run_child(int argc, char **argv, int fd, const char *impl,
                     const char *log_path) {
  char fd_text[16];
  snprintf(fd_text, sizeof fd_text, "%d", fd);
  char **child_argv = calloc((size_t)argc + 5, sizeof *child_argv);
  if (!child_argv)
    return -1;
  memcpy(child_argv, argv, (size_t)argc * sizeof *argv);
  child_argv[argc] = "--child";
  child_argv[argc + 1] = fd_text;
  child_argv[argc + 2] = (char *)impl;
  child_argv[argc + 3] = (char *)log_path;
  fflush(NULL);
  pid_t child = fork();
  if (child < 0) {
    perror("tp_replay: fork");
    free(child_argv);
    return -1;
  }
  if (child == 0) {
    execv("/proc/self/exe", child_argv);
    perror("tp_replay: exec");
    _exit(127);
  }
  free(child_argv);
  int status = 0;
  if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0)
    return -1;
  return 0;
}

int main(int argc, char **argv) {
  /* The replay's own pools must not log into the file being replayed. */
  unsetenv("TP_EVENT_LOG");
  host_peers_prepare(argv);
  replay_args a;
  parse_args(argc, argv, &a);
  if (a.child_fd >= 0)
    return child_main(&a);
  int failures = 0;
  for (int l = 0; l < a.nlogs; l++) {
    replay_log log;
    char err[512];
    if (replay_log_read(a.logs[l], &log, err, sizeof err) != 0) {
      fprintf(stderr, "tp_replay: %s\n", err);
      failures++;
      continue;
    }
    if (log.reused_live_ptr)
      fprintf(stderr,
              "tp_replay: %s: %zu allocs of a pointer still live in the log "
              "(events out of order?)\n",
              a.logs[l], log.reused_live_ptr);
    int fd = replay_shared_write(&log);
    replay_log_free(&log);
    if (fd < 0) {
      failures++;
      continue;
    }
    for (int k = 0; k < a.nimpls; k++) {
      if (run_child(argc, argv, fd, a.impls[k], a.logs[l]) != 0) {
        fprintf(stderr, "tp_replay: %s on %s failed\n", a.impls[k], a.logs[l]);
        failures++;
      }
    }
    close(fd);
  }
  free(a.logs);
  return failures ? 1 : 0;
}
