/* An inference server with variable batch sizes: weights live in their own
 * pool for the whole run; each request batch (1 to 64 sequences of 64 to 512
 * tokens, skewed to small) allocates its input, a per-layer KV cache kept
 * until the batch is done, and activations that stream through the layers.
 * The activation pool has a hard limit, so the largest batches run out of
 * memory: the server then frees what that batch had, splits it in two and
 * runs the halves (the log records the failed allocations). Every 100
 * batches it trims the activation cache to 64 MiB. */
#include <stddef.h>

#include "trace_pool.h"

enum { LAYERS = 6, HIDDEN = 768, BATCHES = 300, WEIGHTS_PER_LAYER = 4 };

#define ACTIVATION_LIMIT ((size_t)384 << 20)

static uint64_t rng = 0x243f6a8885a308d3u;

/* Runs one batch; returns 0, or -1 if it ran out of memory (everything it
 * had is freed again). */
static int run_batch(tp_pool *pool, size_t batch, size_t seq) {
  tp_stream s = trace_stream(0);
  const size_t tokens = batch * seq, half = 2;
  void *kv[LAYERS] = {0};
  void *input = trace_alloc(pool, tokens * 4, s);
  void *x = input ? trace_alloc(pool, tokens * HIDDEN * half, s) : NULL;
  int ok = x != NULL;
  for (int l = 0; ok && l < LAYERS; l++) {
    kv[l] = trace_alloc(pool, 2 * tokens * HIDDEN * half, s);
    void *attn = kv[l] ? trace_alloc(pool, tokens * HIDDEN * half, s) : NULL;
    void *up = attn ? trace_alloc(pool, tokens * 4 * HIDDEN * half, s) : NULL;
    void *y = up ? trace_alloc(pool, tokens * HIDDEN * half, s) : NULL;
    ok = y != NULL;
    if (up)
      trace_free(pool, up, s);
    if (attn)
      trace_free(pool, attn, s);
    trace_free(pool, x, s);
    x = y;
  }
  if (ok) {
    void *logits = trace_alloc(pool, batch * 32000 * half, s);
    ok = logits != NULL;
    if (logits)
      trace_free(pool, logits, s);
  }
  for (int l = LAYERS - 1; l >= 0; l--)
    if (kv[l])
      trace_free(pool, kv[l], s);
  if (x)
    trace_free(pool, x, s);
  if (input)
    trace_free(pool, input, s);
  return ok ? 0 : -1;
}

static void serve(tp_pool *pool, size_t batch, size_t seq) {
  if (run_batch(pool, batch, seq) == 0)
    return;
  if (batch == 1) {
    fprintf(stderr, "gen_batches: one sequence of %zu does not fit\n", seq);
    exit(1);
  }
  serve(pool, batch / 2, seq);
  serve(pool, batch - batch / 2, seq);
}

int main(int argc, char **argv) {
  const char *path = trace_path(argc, argv, "gen_batches OUT.csv");
  tp_pool *weights = trace_pool_open(path, "weights", TP_UNLIMITED, true);
  tp_pool *acts = trace_pool_open(path, "activations", ACTIVATION_LIMIT, false);
  void *w[LAYERS][WEIGHTS_PER_LAYER];
  static const size_t weight_elems[WEIGHTS_PER_LAYER] = {
      3 * HIDDEN * HIDDEN, HIDDEN * HIDDEN, 4 * HIDDEN * HIDDEN,
      4 * HIDDEN * HIDDEN};
  for (int l = 0; l < LAYERS; l++)
    for (int k = 0; k < WEIGHTS_PER_LAYER; k++)
      w[l][k] = trace_alloc_must(weights, weight_elems[k] * 2, NULL);

  for (int b = 0; b < BATCHES; b++) {
    uint64_t r = trace_random(&rng);
    /* Small batches are common, large ones rare: the product of two
     * uniform picks skews toward 1. */
    size_t batch = 1 + (size_t)((r % 8) * ((r >> 8) % 8) + (r >> 16) % 2);
    size_t seq = 64 * (1 + (size_t)((r >> 24) % 8));
    serve(acts, batch, seq);
    if (b % 100 == 99 && tp_pool_trim(acts, (size_t)64 << 20) != TP_SUCCESS)
      return 1;
  }
  for (int l = 0; l < LAYERS; l++)
    for (int k = 0; k < WEIGHTS_PER_LAYER; k++)
      trace_free(weights, w[l][k], NULL);
  trace_pool_close(acts);
  trace_pool_close(weights);
  return 0;
}
