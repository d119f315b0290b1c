/* tp_replay: replays pool event logs against tensorpool (any pool
 * configuration) and the host peers, and writes one JSON line per (log,
 * allocator) with the time per event, the memory efficiency (peak reserved
 * bytes / peak requested bytes) and the failures.
 *
 *   tp_replay [--impl NAME]... [--label NAME] [--divisions N]
 *             [--max-pool-size BYTES] [--max-buffers N] [--limit BYTES]
 *             [--reps N] [--full] [--out FILE.jsonl] LOG.csv...
 *
 * NAME is tensorpool, glibc, jemalloc, mimalloc or all (the default). Each
 * (log, allocator) runs in a child process of its own, so no allocator
 * starts with another one's leftovers in the process heap. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "event_log.h"
#include "harness.h"
#include "replay_run.h"

typedef struct replay_args {
  const char *impls[HOST_PEER_COUNT];
  int nimpls;
  const char *label; /* impl name written for tensorpool */
  tp_pool_config config;
  bool configured;
  bench_opts opts;
  const char *out_path;
  char **logs;
  int nlogs;
} replay_args;

static void usage(const char *why) {
  fprintf(stderr,
          "tp_replay: %s\nusage: tp_replay [--impl NAME]... [--label NAME] "
          "[--divisions N] [--max-pool-size BYTES] [--max-buffers N] "
          "[--limit BYTES] [--reps N] [--full] [--out FILE] LOG.csv...\n",
          why);
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

static void parse_args(int argc, char **argv, replay_args *a) {
  memset(a, 0, sizeof *a);
  a->config = (tp_pool_config)TP_POOL_CONFIG_INIT;
  a->label = "tensorpool";
  a->opts.out = stdout;
  a->opts.device = "cpu";
  a->logs = calloc((size_t)argc, sizeof *a->logs);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(arg, "--full") == 0) {
      a->opts.full = true;
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
      a->configured = true;
    } else if (strcmp(arg, "--max-pool-size") == 0) {
      a->config.max_pool_size = parse_size(val, "bad --max-pool-size");
      a->configured = true;
    } else if (strcmp(arg, "--max-buffers") == 0) {
      a->config.max_buffers_per_bucket = parse_size(val, "bad --max-buffers");
      a->configured = true;
    } else if (strcmp(arg, "--limit") == 0) {
      a->config.limit = parse_size(val, "bad --limit");
      a->configured = true;
    } else if (strcmp(arg, "--reps") == 0) {
      a->opts.reps = (int)parse_size(val, "bad --reps");
    } else if (strcmp(arg, "--out") == 0) {
      a->out_path = val;
    } else {
      usage("unknown option");
    }
  }
  if (a->nlogs == 0)
    usage("no log given");
  if (a->nimpls == 0) {
    for (int k = 0; k < HOST_PEER_COUNT; k++)
      a->impls[k] = host_peer_names[k];
    a->nimpls = HOST_PEER_COUNT;
  }
  if (a->opts.reps == 0)
    a->opts.reps = a->opts.full ? 15 : 7;
  if (a->out_path && !(a->opts.out = fopen(a->out_path, "a"))) {
    fprintf(stderr, "tp_replay: cannot open %s: %s\n", a->out_path,
            strerror(errno));
    exit(2);
  }
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

/* Runs in the child: one memory-tracking pass, then the timed passes. */
static int replay_one(const replay_args *a, const replay_log *log,
                      const char *log_path, const char *impl) {
  bool is_pool = strcmp(impl, "tensorpool") == 0;
  const tp_pool_config *config = is_pool ? &a->config : NULL;
  /* The parent's freed parse buffers would otherwise be reused by glibc
   * without growing its heap, and glibc would look better than exact. */
  malloc_trim(0);
  replay_target target;
  if (replay_target_open(log, impl, config, &target) != 0)
    return 1;
  /* The first run, from a fresh allocator, measures memory; the timed runs
   * follow on the same, now warm, allocator. */
  replay_result mem, timed;
  int rc = replay_run(log, &target, true, &mem);
  double samples[1000];
  int reps = a->opts.reps > 1000 ? 1000 : a->opts.reps;
  for (int r = 0; rc == 0 && r < reps; r++) {
    rc = replay_run(log, &target, false, &timed);
    samples[r] = (double)timed.ns / (double)(timed.events ? timed.events : 1);
  }
  replay_target_close(&target);
  if (rc != 0)
    return 1;
  bench_timing t;
  bench_summarize(samples, reps, &t);

  char name[256], extra[1024], efficiency[32] = "null";
  case_name(log_path, name, sizeof name);
  if (mem.reserved_known && mem.peak_requested)
    snprintf(efficiency, sizeof efficiency, "%.4f",
             (double)mem.peak_reserved / (double)mem.peak_requested);
  snprintf(extra, sizeof extra,
           "\"events\":%zu,\"skipped\":%zu,\"efficiency\":%s,"
           "\"peak_reserved\":%zu,\"peak_requested\":%zu,"
           "\"recorded_failures\":%zu,\"failures_again\":%zu,"
           "\"new_failures\":%zu,\"orphan_frees\":%zu,"
           "\"divisions\":%u,\"limit\":%s,"
           "\"note\":\"replayed in one thread in recorded order\"",
           mem.events, mem.skipped, efficiency, mem.peak_reserved,
           mem.peak_requested, mem.recorded_failures, mem.failures_again,
           mem.new_failures, log->orphan_frees,
           is_pool ? a->config.divisions : 0,
           is_pool && a->config.limit != TP_UNLIMITED ? "\"set\"" : "null");
  bench_emit(&a->opts,
             &(bench_record){"replay", name, is_pool ? a->label : impl,
                             mem.peak_requested, (int)log->threads,
                             (int)log->stream_count, mem.peak_live_blocks, t,
                             -1.0, extra});
  return 0;
}

int main(int argc, char **argv) {
  /* The replay's own pools must not log into the file being replayed. */
  unsetenv("TP_EVENT_LOG");
  host_peers_prepare(argv);
  replay_args a;
  parse_args(argc, argv, &a);
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
    for (int k = 0; k < a.nimpls; k++) {
      fflush(NULL);
      pid_t child = fork();
      if (child < 0) {
        perror("tp_replay: fork");
        return 1;
      }
      if (child == 0)
        _exit(replay_one(&a, &log, a.logs[l], a.impls[k]));
      int status = 0;
      if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) ||
          WEXITSTATUS(status) != 0) {
        fprintf(stderr, "tp_replay: %s on %s failed\n", a.impls[k], a.logs[l]);
        failures++;
      }
    }
    replay_log_free(&log);
  }
  if (a.opts.out != stdout)
    fclose(a.opts.out);
  free(a.logs);
  return failures ? 1 : 0;
}
