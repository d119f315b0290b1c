/* bench_summary: reads the JSON lines of a run and prints, per suite, a
 * markdown table of tensorpool against each peer as ratios (peer time /
 * tensorpool time: above 1 means tensorpool is faster). With --plots DIR it
 * also writes, for every size sweep, a gnuplot data file (latency and, where
 * measured, bandwidth against size) and a list of them for scripts/bench.sh.
 *
 *   bench_summary [--plots DIR] FILE.jsonl */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct row {
  char suite[48], case_name[48], impl[48];
  double bytes, threads, streams, live, median_ns, gbps, efficiency;
  double new_failures, failures_again, recorded_failures;
  /* Replay only: the address-space efficiency, the idealised bounds, the
   * zero-byte requests left out. */
  double efficiency_address, bound_arena, bound_pages, zero_byte;
} row;

/* Finds "key": in a flat JSON object written by bench_emit and copies a
 * string value, or parses a number (null gives -1). Returns 0 if found. */
static int json_field(const char *line, const char *key, char *str, size_t len,
                      double *num) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char *at = strstr(line, pattern);
  if (!at)
    return -1;
  at += strlen(pattern);
  if (*at == '"') {
    if (!str)
      return -1;
    size_t n = 0;
    for (at++; *at && *at != '"' && n + 1 < len; at++) {
      if (*at == '\\' && at[1])
        at++;
      str[n++] = *at;
    }
    str[n] = '\0';
    return 0;
  }
  if (!num)
    return -1;
  if (strncmp(at, "null", 4) == 0) {
    *num = -1;
    return 0;
  }
  char *end = NULL;
  *num = strtod(at, &end);
  return end == at ? -1 : 0;
}

static int parse_row(const char *line, row *r) {
  memset(r, 0, sizeof *r);
  r->gbps = r->efficiency = r->efficiency_address = -1;
  r->bound_arena = r->bound_pages = -1;
  if (json_field(line, "suite", r->suite, sizeof r->suite, NULL) ||
      json_field(line, "case", r->case_name, sizeof r->case_name, NULL) ||
      json_field(line, "impl", r->impl, sizeof r->impl, NULL) ||
      json_field(line, "bytes", NULL, 0, &r->bytes) ||
      json_field(line, "threads", NULL, 0, &r->threads) ||
      json_field(line, "streams", NULL, 0, &r->streams) ||
      json_field(line, "live", NULL, 0, &r->live) ||
      json_field(line, "median_ns", NULL, 0, &r->median_ns))
    return -1;
  json_field(line, "gbps", NULL, 0, &r->gbps);
  json_field(line, "efficiency", NULL, 0, &r->efficiency);
  json_field(line, "new_failures", NULL, 0, &r->new_failures);
  json_field(line, "failures_again", NULL, 0, &r->failures_again);
  json_field(line, "recorded_failures", NULL, 0, &r->recorded_failures);
  json_field(line, "efficiency_address", NULL, 0, &r->efficiency_address);
  json_field(line, "bound_arena", NULL, 0, &r->bound_arena);
  json_field(line, "bound_pages", NULL, 0, &r->bound_pages);
  json_field(line, "zero_byte", NULL, 0, &r->zero_byte);
  return 0;
}

static bool same_case(const row *a, const row *b) {
  /* A replay is one case per log: its peak bytes and live blocks depend on
   * the allocator (a failed allocation is not counted). */
  if (strncmp(a->suite, "replay", 6) == 0)
    return strcmp(a->suite, b->suite) == 0 &&
           strcmp(a->case_name, b->case_name) == 0;
  return strcmp(a->suite, b->suite) == 0 &&
         strcmp(a->case_name, b->case_name) == 0 && a->bytes == b->bytes &&
         a->threads == b->threads && a->streams == b->streams &&
         a->live == b->live;
}

/* The reference a suite's ratios are taken against: "tensorpool", or for
 * suites that compare pool configurations, the first impl seen. */
static const char *reference = "tensorpool";

typedef struct table {
  row *rows;
  size_t count;
} table;

static size_t impls_of_suite(const table *t, const char *suite,
                             const char **impls, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < t->count; i++) {
    const row *r = &t->rows[i];
    if (strcmp(r->suite, suite) != 0 || strcmp(r->impl, reference) == 0)
      continue;
    size_t k = 0;
    while (k < n && strcmp(impls[k], r->impl) != 0)
      k++;
    if (k == n && n < max)
      impls[n++] = r->impl;
  }
  return n;
}

static const row *find_impl(const table *t, const row *like, const char *impl) {
  for (size_t i = 0; i < t->count; i++)
    if (same_case(&t->rows[i], like) && strcmp(t->rows[i].impl, impl) == 0)
      return &t->rows[i];
  return NULL;
}

static void print_efficiency(double v) {
  if (v >= 0)
    printf(" %.3f |", v);
  else
    printf(" - |");
}

/* The replay's memory: per log, the idealised bounds, then for each
 * allocator the physical efficiency (peak resident above the start / peak
 * requested, blocks written once) and the address-space one (its own count
 * of reserved bytes / peak requested), then tensorpool's failures and the
 * zero-byte requests left out of every replay. */
static void print_replay_memory(const table *t, const char *suite) {
  const char *impls[16];
  size_t n = 0;
  impls[n++] = reference;
  n += impls_of_suite(t, suite, impls + 1, 15);
  printf("\n### replay memory\n\n| case | one-arena bound | 4 KiB-page "
         "bound |");
  for (size_t k = 0; k < n; k++)
    printf(" %s phys. | %s addr. |", impls[k], impls[k]);
  printf(
      " failures (recorded/again/new) | zero-byte requests |\n|---|---:|---:|");
  for (size_t k = 0; k < 2 * n + 2; k++)
    printf("---:|");
  printf("\n");
  for (size_t i = 0; i < t->count; i++) {
    const row *ref = &t->rows[i];
    if (strcmp(ref->suite, suite) != 0 || strcmp(ref->impl, reference) != 0)
      continue;
    printf("| %s |", ref->case_name);
    print_efficiency(ref->bound_arena);
    print_efficiency(ref->bound_pages);
    for (size_t k = 0; k < n; k++) {
      const row *r = find_impl(t, ref, impls[k]);
      print_efficiency(r ? r->efficiency : -1);
      print_efficiency(r ? r->efficiency_address : -1);
    }
    printf(" %.0f/%.0f/%.0f | %.0f |\n", ref->recorded_failures,
           ref->failures_again, ref->new_failures, ref->zero_byte);
  }
}

static void print_suite(const table *t, const char *suite) {
  const char *impls[16];
  size_t n = impls_of_suite(t, suite, impls, 16);
  printf("\n### %s\n\n| case | size | threads | streams | live | "
         "tensorpool ns |",
         suite);
  for (size_t k = 0; k < n; k++)
    printf(" %s |", impls[k]);
  printf("\n|---|---:|---:|---:|---:|---:|");
  for (size_t k = 0; k < n; k++)
    printf("---:|");
  printf("\n");
  for (size_t i = 0; i < t->count; i++) {
    const row *ref = &t->rows[i];
    if (strcmp(ref->suite, suite) != 0 || strcmp(ref->impl, reference) != 0)
      continue;
    char size[32];
    printf("| %s | %s | %.0f | %.0f | %.0f | %.1f |", ref->case_name,
           bench_size_name((size_t)ref->bytes, size, sizeof size), ref->threads,
           ref->streams, ref->live, ref->median_ns);
    for (size_t k = 0; k < n; k++) {
      const row *peer = find_impl(t, ref, impls[k]);
      if (peer && ref->median_ns > 0)
        printf(" %.2f |", peer->median_ns / ref->median_ns);
      else
        printf(" - |");
    }
    printf("\n");
  }
  if (strcmp(suite, "replay") == 0)
    print_replay_memory(t, suite);
}

/* A size sweep: one thread, one stream, nothing else live. Writes
 * DIR/<suite>.<case>.dat with "bytes" then each impl's median ns, then each
 * impl's GB/s (when the suite measures bandwidth), and appends
 * "<file> <impls> <has_gbps> <suite> <case>" to DIR/plots.txt. */
static void write_sweep(const table *t, const row *first, const char *dir,
                        FILE *list) {
  const char *impls[16];
  size_t n = 0;
  bool has_gbps = false;
  for (size_t i = 0; i < t->count; i++) {
    const row *r = &t->rows[i];
    if (strcmp(r->suite, first->suite) ||
        strcmp(r->case_name, first->case_name) || r->threads != 1 ||
        r->streams != 1 || r->live != 0)
      continue;
    has_gbps |= r->gbps >= 0;
    size_t k = 0;
    while (k < n && strcmp(impls[k], r->impl) != 0)
      k++;
    if (k == n && n < 16)
      impls[n++] = r->impl;
  }
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.%s.dat", dir, first->suite,
           first->case_name);
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "bench_summary: %s: %s\n", path, strerror(errno));
    return;
  }
  fprintf(f, "bytes");
  for (size_t k = 0; k < n; k++)
    fprintf(f, " %s", impls[k]);
  if (has_gbps)
    for (size_t k = 0; k < n; k++)
      fprintf(f, " %s", impls[k]);
  fprintf(f, "\n");
  /* Rows in order of size; each size once. */
  double last = -1;
  for (;;) {
    double next = -1;
    for (size_t i = 0; i < t->count; i++) {
      const row *r = &t->rows[i];
      if (strcmp(r->suite, first->suite) == 0 &&
          strcmp(r->case_name, first->case_name) == 0 && r->threads == 1 &&
          r->streams == 1 && r->live == 0 && r->bytes > last &&
          (next < 0 || r->bytes < next))
        next = r->bytes;
    }
    if (next < 0)
      break;
    row like = *first;
    like.bytes = next;
    like.threads = like.streams = 1;
    like.live = 0;
    fprintf(f, "%.0f", next);
    for (int pass = 0; pass < (has_gbps ? 2 : 1); pass++) {
      for (size_t k = 0; k < n; k++) {
        const row *r = find_impl(t, &like, impls[k]);
        double v = !r ? -1 : pass ? r->gbps : r->median_ns;
        if (v >= 0)
          fprintf(f, " %g", v);
        else
          fprintf(f, " NaN");
      }
    }
    fprintf(f, "\n");
    last = next;
  }
  fclose(f);
  fprintf(list, "%s %zu %d %s %s\n", path, n, has_gbps ? 1 : 0, first->suite,
          first->case_name);
}

static int read_table(const char *path, table *t) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "bench_summary: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 256;
  t->rows = malloc(cap * sizeof *t->rows);
  t->count = 0;
  char line[4096];
  size_t line_no = 0;
  while (t->rows && fgets(line, sizeof line, f)) {
    line_no++;
    if (line[0] != '{')
      continue;
    if (t->count == cap) {
      row *bigger = realloc(t->rows, 2 * cap * sizeof *bigger);
      if (!bigger)
        break;
      t->rows = bigger;
      cap *= 2;
    }
    if (parse_row(line, &t->rows[t->count]) == 0)
      t->count++;
    else
      fprintf(stderr, "bench_summary: %s:%zu: not a bench line\n", path,
              line_no);
  }
  fclose(f);
  return t->rows ? 0 : -1;
}

int main(int argc, char **argv) {
  const char *plots = NULL, *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--plots") == 0 && i + 1 < argc)
      plots = argv[++i];
    else
      path = argv[i];
  }
  if (!path) {
    fprintf(stderr, "usage: bench_summary [--plots DIR] FILE.jsonl\n");
    return 2;
  }
  table t;
  if (read_table(path, &t) != 0)
    return 1;
  if (t.count == 0) {
    fprintf(stderr, "bench_summary: %s has no bench lines\n", path);
    return 1;
  }

  printf("Ratios are peer time / tensorpool time: above 1, tensorpool is "
         "faster. \"ceiling\" is the warm-memory limit (below 1 is "
         "expected: its ratio is the fraction of the ceiling tensorpool "
         "reaches). In the replay memory table, phys. is the peak resident "
         "memory above the start / peak requested bytes with every block "
         "written once, addr. the allocator's own count of reserved bytes / "
         "peak requested (1 is ideal for both).\n");
  /* Suites in order of first appearance. */
  for (size_t i = 0; i < t.count; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = strcmp(t.rows[j].suite, t.rows[i].suite) == 0;
    if (!seen)
      print_suite(&t, t.rows[i].suite);
  }

  if (plots) {
    char list_path[1024];
    snprintf(list_path, sizeof list_path, "%s/plots.txt", plots);
    FILE *list = fopen(list_path, "w");
    if (!list) {
      fprintf(stderr, "bench_summary: %s: %s\n", list_path, strerror(errno));
      return 1;
    }
    for (size_t i = 0; i < t.count; i++) {
      const row *r = &t.rows[i];
      if (r->threads != 1 || r->streams != 1 || r->live != 0 ||
          strncmp(r->suite, "replay", 6) == 0)
        continue;
      bool seen = false;
      for (size_t j = 0; j < i && !seen; j++)
        seen = strcmp(t.rows[j].suite, r->suite) == 0 &&
               strcmp(t.rows[j].case_name, r->case_name) == 0 &&
               t.rows[j].threads == 1 && t.rows[j].streams == 1 &&
               t.rows[j].live == 0;
      if (!seen)
        write_sweep(&t, r, plots, list);
    }
    fclose(list);
  }
  free(t.rows);
  return 0;
}
