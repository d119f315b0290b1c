/* The bench harness: a monotonic clock, repeated timed batches summarised by
 * their median, and the JSON line every benchmark writes (one object per
 * measurement, the fields docs/bench.md lists). */
#ifndef TP_BENCH_HARNESS_H
#define TP_BENCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* How a suite runs: quick (default) or full, and where its lines go. */
typedef struct bench_opts {
  bool full;
  FILE *out;          /* JSON lines; stdout when no --out was given */
  const char *device; /* "cpu" or the GPU's name */
  int reps;           /* timed batches per case (median over them) */
  uint64_t batch_ns;  /* a batch is sized to take about this long */
  const char *only;   /* --only NAME: that suite alone (NULL: every suite) */
} bench_opts;

/* Reads --full, --out FILE, --reps N, --only SUITE from argv; exits with a
 * message on a bad argument. The caller closes opts->out with bench_opts_close.
 */
void bench_opts_parse(int argc, char **argv, bench_opts *opts);
void bench_opts_close(bench_opts *opts);
/* Whether suite `name` runs (every one unless --only named another). */
bool bench_suite_selected(const bench_opts *opts, const char *name);

/* Per-operation statistics over the repetitions. */
typedef struct bench_timing {
  double median_ns, min_ns, max_ns;
} bench_timing;

/* Sorts `samples` (count > 0) and fills `out`. */
void bench_summarize(double *samples, int count, bench_timing *out);

/* One measured operation: `op(ctx, iters)` runs the operation `iters` times
 * and returns the nanoseconds it took (so set-up can stay outside the
 * timed region); returns 0 on success, nonzero if the operation failed. */
typedef int (*bench_batch_fn)(void *ctx, uint64_t iters, uint64_t *ns);

/* Warms up, sizes a batch to about opts->batch_ns (at least `min_iters`,
 * at most `max_iters` operations), then times opts->reps batches. Returns
 * nonzero if the operation failed (its message has been printed).
 * `min_iters` keeps fixed costs (starting threads, a scheduler tick) from
 * dominating a batch of operations that are cheap one by one. */
int bench_measure(const bench_opts *opts, bench_batch_fn op, void *ctx,
                  uint64_t min_iters, uint64_t max_iters, bench_timing *out);

/* One JSON line. gbps < 0 writes null. `extra`, if not NULL, is appended
 * verbatim inside the object (e.g. "\"ratio\":0.93"). */
typedef struct bench_record {
  const char *suite;
  const char *case_name;
  const char *impl;
  size_t bytes;
  int threads;
  int streams;
  size_t live;
  bench_timing timing;
  double gbps;
  const char *extra;
} bench_record;

void bench_emit(const bench_opts *opts, const bench_record *rec);

/* Bytes per nanosecond is GB/s (10^9 bytes per second). */
double bench_gbps(size_t bytes, double ns_per_op);

/* "64 B", "4 KiB", "64 MiB": for messages. */
const char *bench_size_name(size_t bytes, char *buf, size_t len);

#endif
