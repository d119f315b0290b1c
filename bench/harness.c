/* Timing, repetition and JSON output shared by every bench program. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage_exit(const char *prog, const char *why) {
  fprintf(stderr,
          "%s: %s\nusage: %s [--full] [--out FILE.jsonl] [--reps N] [--only "
          "SUITE]\n",
          prog, why, prog);
  exit(2);
}

void bench_opts_parse(int argc, char **argv, bench_opts *opts) {
  opts->full = false;
  opts->out = stdout;
  opts->device = "cpu";
  opts->reps = 0;
  opts->only = NULL;
  const char *out_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--full") == 0) {
      opts->full = true;
    } else if (strcmp(argv[i], "--quick") == 0) {
      opts->full = false;
    } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out_path = argv[++i];
    } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      opts->only = argv[++i];
    } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      char *end = NULL;
      long reps = strtol(argv[++i], &end, 10);
      if (*end != '\0' || reps < 1 || reps > 1000)
        usage_exit(argv[0], "--reps wants 1 to 1000");
      opts->reps = (int)reps;
    } else {
      usage_exit(argv[0], "unknown argument");
    }
  }
  if (opts->reps == 0)
    opts->reps = opts->full ? 15 : 9;
  /* Quick batches are short so that every suite together stays within the
   * main job's budget; full batches smooth out more noise. */
  opts->batch_ns = opts->full ? 20000000u : 4000000u;
  if (out_path) {
    /* Appended: the main job collects every program's lines in one file. */
    opts->out = fopen(out_path, "a");
    if (!opts->out) {
      fprintf(stderr, "%s: cannot open %s: %s\n", argv[0], out_path,
              strerror(errno));
      exit(2);
    }
  }
}

bool bench_suite_selected(const bench_opts *opts, const char *name) {
  return !opts->only || strcmp(opts->only, name) == 0;
}

void bench_opts_close(bench_opts *opts) {
  if (opts->out && opts->out != stdout)
    fclose(opts->out);
  opts->out = NULL;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void bench_summarize(double *samples, int count, bench_timing *out) {
  qsort(samples, (size_t)count, sizeof *samples, compare_double);
  out->min_ns = samples[0];
  out->max_ns = samples[count - 1];
  out->median_ns = (count % 2)
                       ? samples[count / 2]
                       : 0.5 * (samples[count / 2 - 1] + samples[count / 2]);
}

int bench_measure(const bench_opts *opts, bench_batch_fn op, void *ctx,
                  uint64_t min_iters, uint64_t max_iters, bench_timing *out) {
  if (min_iters < 1)
    min_iters = 1;
  if (max_iters < min_iters)
    max_iters = min_iters;
  /* Warm-up doubles as calibration: grow the batch until it takes a
   * measurable time, then scale it to the target batch length. */
  uint64_t iters = min_iters, ns = 0;
  for (;;) {
    if (op(ctx, iters, &ns) != 0)
      return 1;
    if (ns >= opts->batch_ns / 8 || iters >= max_iters)
      break;
    iters *= 4;
    if (iters > max_iters)
      iters = max_iters;
  }
  double per_op = (double)ns / (double)iters;
  uint64_t batch =
      per_op > 0 ? (uint64_t)((double)opts->batch_ns / per_op) : max_iters;
  if (batch < min_iters)
    batch = min_iters;
  if (batch > max_iters)
    batch = max_iters;

  double samples[1000];
  int reps = opts->reps > 1000 ? 1000 : opts->reps;
  for (int r = 0; r < reps; r++) {
    if (op(ctx, batch, &ns) != 0)
      return 1;
    samples[r] = (double)ns / (double)batch;
  }
  bench_summarize(samples, reps, out);
  return 0;
}

double bench_gbps(size_t bytes, double ns_per_op) {
  return ns_per_op > 0 ? (double)bytes / ns_per_op : -1.0;
}

const char *bench_size_name(size_t bytes, char *buf, size_t len) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  size_t v = bytes;
  while (v >= 1024 && v % 1024 == 0 && u < 4) {
    v /= 1024;
    u++;
  }
  snprintf(buf, len, "%zu %s", v, units[u]);
  return buf;
}

/* JSON string body: our names are plain ASCII, but escape anyway so that a
 * GPU name with a quote cannot break a line. */
static void put_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void put_number(FILE *f, double v) {
  if (isfinite(v) && v >= 0)
    fprintf(f, "%.6g", v);
  else
    fputs("null", f);
}

void bench_emit(const bench_opts *opts, const bench_record *rec) {
  FILE *f = opts->out;
  fputs("{\"suite\":", f);
  put_json_string(f, rec->suite);
  fputs(",\"case\":", f);
  put_json_string(f, rec->case_name);
  fputs(",\"impl\":", f);
  put_json_string(f, rec->impl);
  fprintf(f, ",\"bytes\":%zu,\"threads\":%d,\"streams\":%d,\"live\":%zu",
          rec->bytes, rec->threads, rec->streams, rec->live);
  fputs(",\"median_ns\":", f);
  put_number(f, rec->timing.median_ns);
  fputs(",\"min_ns\":", f);
  put_number(f, rec->timing.min_ns);
  fputs(",\"max_ns\":", f);
  put_number(f, rec->timing.max_ns);
  fputs(",\"gbps\":", f);
  put_number(f, rec->gbps);
  fputs(",\"device\":", f);
  put_json_string(f, opts->device);
  fprintf(f, ",\"mode\":\"%s\"", opts->full ? "full" : "quick");
  if (rec->extra && rec->extra[0])
    fprintf(f, ",%s", rec->extra);
  fputs("}\n", f);
  fflush(f);

  /* A readable line on stderr so a run shows progress. */
  char size[32];
  fprintf(stderr, "  %-16s %-20s %-10s %9s t=%d s=%d live=%-6zu %12.1f ns",
          rec->suite, rec->case_name, rec->impl,
          bench_size_name(rec->bytes, size, sizeof size), rec->threads,
          rec->streams, rec->live, rec->timing.median_ns);
  if (rec->gbps >= 0)
    fprintf(stderr, " %7.2f GB/s", rec->gbps);
  fputc('\n', stderr);
}
