/* The README's and docs' examples, as a user copies them: they compile, run
 * and print what the documentation says they print (addresses aside; the
 * expected text is read from README.md itself, so the two cannot drift
 * apart unnoticed). */
#include <ctype.h>
#include <stdio.h>

#include "contract.h"

/* The text of `path` under the source tree (malloc'd). */
static char *slurp(const char *path) {
  char full[1024];
  snprintf(full, sizeof full, "%s/%s", TP_CONTRACT_SOURCE_DIR, path);
  FILE *f = fopen(full, "r");
  cr_assert_not_null(f, "cannot open %s", full);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  size_t got = fread(s, 1, (size_t)n, f);
  s[got] = '\0';
  fclose(f);
  return s;
}

/* The first ``` block after `heading`, then after the line `marker`. */
static char *block_after(const char *text, const char *heading,
                         const char *marker) {
  const char *h = strstr(text, heading);
  cr_assert_not_null(h, "no \"%s\" in the document", heading);
  const char *m = strstr(h, marker);
  cr_assert_not_null(m, "no \"%s\" after \"%s\"", marker, heading);
  const char *open = strstr(m, "```");
  cr_assert_not_null(open);
  open = strchr(open, '\n') + 1;
  const char *close = strstr(open, "```");
  cr_assert_not_null(close);
  size_t n = (size_t)(close - open);
  char *b = malloc(n + 1);
  memcpy(b, open, n);
  b[n] = '\0';
  return b;
}

/* Every 0x... address becomes "ADDR" (they differ from run to run). */
static void mask_addresses(char *s) {
  char *w = s;
  for (const char *r = s; *r;) {
    if (r[0] == '0' && r[1] == 'x' && isxdigit((unsigned char)r[2])) {
      r += 2;
      while (isxdigit((unsigned char)*r))
        r++;
      memcpy(w, "ADDR", 4);
      w += 4;
    } else {
      *w++ = *r++;
    }
  }
  *w = '\0';
}

static void print_line(void *user, const char *line) {
  fprintf((FILE *)user, "%s\n", line);
}

/* README, "A pool in twenty lines": the program and what it prints. */
Test(readme, the_pool_in_twenty_lines_prints_what_the_readme_shows) {
  char *out_text = NULL;
  size_t out_len = 0;
  FILE *out = open_memstream(&out_text, &out_len);
  void *first_block = NULL;

  /* ---- The README's program (printf to `out` instead of stdout) ---- */
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.name = "scratch";
  config.limit = (size_t)64 << 20; /* at most 64 MiB held from upstream */
  tp_pool *pool;
  if (tp_pool_create(tp_host_space(), &config, &pool) != TP_SUCCESS) {
    cr_assert_fail("%s", tp_last_error());
  }
  void *a, *b;
  tp_pool_alloc(pool, 1 << 20, NULL, &a); /* a miss: goes upstream */
  first_block = a;
  tp_pool_free(pool, a, NULL);
  tp_pool_alloc(pool, 1 << 20, NULL, &b); /* a hit: the same block */
  fprintf(out, "reused the freed block: %s\n", a == b ? "yes" : "no");

  tp_status st = tp_pool_alloc(pool, (size_t)100 << 20, NULL, &a);
  fprintf(out, "%s: %s\n", tp_status_name(st), tp_last_error());
  st = tp_pool_free(pool, (char *)b + 64, NULL);
  fprintf(out, "%s: %s\n", tp_status_name(st), tp_last_error());

  tp_pool_free(pool, b, NULL);
  tp_pool_print_stats(pool, print_line, out);
  tp_pool_destroy(pool);
  /* ---- end of the README's program ---- */
  fclose(out);

  /* The interior pointer's message names b + 64 and b. */
  char ptrs[128];
  snprintf(ptrs, sizeof ptrs,
           "%p is an interior pointer, 64 bytes into the "
           "block at %p",
           (void *)((char *)first_block + 64), first_block);
  cr_expect(strstr(out_text, ptrs) != NULL, "%s lacks %s", out_text, ptrs);

  char *readme = slurp("README.md");
  char *want = block_after(readme, "## A pool in twenty lines", "prints");
  mask_addresses(want);
  mask_addresses(out_text);
  cr_expect_str_eq(out_text, want);

  /* The README's program is the one shown (the lines the test prints are
   * there). */
  char *code = block_after(readme, "## A pool in twenty lines", "examples/");
  cr_expect(strstr(code, "reused the freed block") != NULL,
            "the README's code does not print its first line");
  free(code);
  free(want);
  free(readme);
  free(out_text);
}

/* README, "Buffers, allocators, conversions" (also docs/buffers.md): the
 * example runs, every call succeeds, the reason gives the figures, and the
 * value read back is a normal draw. */
Test(readme, the_buffers_example_runs) {
  char *out_text = NULL;
  size_t out_len = 0;
  FILE *out = open_memstream(&out_text, &out_len);
  tp_status st;

  tp_runtime *rt;
  ct_ok(tp_runtime_create(NULL, &rt));

  tp_layout layout; /* 1000 x 64 doubles */
  int64_t extents[2] = {1000, 64};
  ct_ok(tp_layout_make(TP_DTYPE_F64, 2, extents, &layout));

  tp_allocator_choice choice = TP_ALLOCATOR_CHOICE_INIT;
  ct_ok(tp_allocator_choose(rt, &layout, TP_BUFFER_DISTRIBUTED, TP_ACCESS_ANY,
                            &choice));
  fprintf(out, "%s\n", choice.reason);

  tp_buffer *noise;
  tp_generator normal = tp_generator_normal(2024, 0.0, 1.0);
  ct_ok(tp_allocator_construct_generator(choice.allocator, &layout, NULL,
                                         &normal, NULL, &noise));

  tp_allocator *repl;
  ct_ok(tp_allocator_rebind(choice.allocator, TP_BUFFER_REPLICATED, &repl));
  tp_buffer *whole;
  ct_ok(tp_allocator_construct_copy(repl, noise, NULL, NULL, &whole));

  double last;
  ct_ok(
      tp_buffer_read(whole, (1000 * 64 - 1) * sizeof last, sizeof last, &last));

  tp_pool *pool;
  ct_ok(tp_runtime_pool(rt, TP_SPACE_HOST, &pool));
  st = tp_pool_print_stats(pool, print_line, out);
  cr_expect_eq(st, TP_SUCCESS);

  int device = tp_runtime_device(rt);
  ct_ok(tp_buffer_destroy(whole));
  ct_ok(tp_buffer_destroy(noise));
  ct_ok(tp_runtime_destroy(rt));
  fclose(out);

  cr_expect(last > -10 && last < 10, "last = %g", last);
  if (device < 0) /* no device backend: the host, with its figures */
    cr_expect(strstr(out_text, "512000 bytes per rank") != NULL, "%s",
              out_text);
  cr_expect(strstr(out_text, "pool '") != NULL, "no statistics: %s", out_text);
  free(out_text);
}

/* docs/expressions.md's first example. */
Test(readme, the_expressions_example) {
  tp_runtime *rt = ct_runtime();
  tp_allocator *allocator = ct_allocator(rt, TP_BUFFER_LOCAL);
  tp_layout layout = ct_layout(TP_DTYPE_F32, 2, (int64_t)8, (int64_t)8);
  tp_stream stream = NULL;

  tp_status st = tp_expression_check("sin(0.1*i0) + i1", 2); /* parse only */
  cr_expect_eq(st, TP_SUCCESS, "%s", tp_last_error());
  tp_buffer *b;
  st = tp_allocator_construct_expression(allocator, &layout, NULL,
                                         "sin(0.1*i0) + i1", stream, &b);
  cr_expect_eq(st, TP_SUCCESS, "%s", tp_last_error());
  float v[64];
  ct_ok(tp_buffer_read(b, 0, sizeof v, v));
  cr_expect_eq(v[9], (float)(0.09983341664682815 + 1.0));
  ct_ok(tp_buffer_destroy(b));
  ct_ok(tp_runtime_destroy(rt));
}

/* README, "Use it in your project": tensorpool.h is everything but
 * tensorpool/mpi.h, and config.h says what the build has (1 or 0, usable
 * in #if). */
_Static_assert(TP_HAVE_CUDA == 0 || TP_HAVE_CUDA == 1, "TP_HAVE_CUDA");
_Static_assert(TP_HAVE_NCCL == 0 || TP_HAVE_NCCL == 1, "TP_HAVE_NCCL");
_Static_assert(TP_HAVE_MPI == 0 || TP_HAVE_MPI == 1, "TP_HAVE_MPI");

Test(readme, a_build_without_cuda_has_no_devices) {
  int devices = -1;
  ct_ok(tp_device_count(&devices));
  cr_expect_geq(devices, 0);
  if (!TP_HAVE_CUDA)
    cr_expect_eq(devices, 0, "a build without CUDA has no devices");
}
