/* A transformer's training steps, as a framework's caching allocator sees
 * them: parameters, their gradients and the optimizer's two moments are
 * allocated once and stay; each step allocates the forward activations
 * layer by layer (kept for backward), small temporaries that die at once,
 * then walks the layers in reverse, allocating input gradients and freeing
 * each layer's activations. The next batch's input is prefetched on a copy
 * stream and freed on the compute stream (a cross-stream reuse).
 *
 * Model: 8 layers, hidden 512, 8 heads, sequence 256, batch 4; fp16
 * activations, fp32 parameters, gradients and Adam moments. */
#include <stddef.h>

#include "trace_pool.h"

enum { LAYERS = 8, HIDDEN = 512, HEADS = 8, SEQ = 256, BATCH = 4, STEPS = 6 };

/* Activations one layer keeps for its backward pass. */
enum {
  ACT_LN1,
  ACT_QKV,
  ACT_SCORES,
  ACT_PROBS,
  ACT_DROPOUT_MASK,
  ACT_ATTN,
  ACT_PROJ,
  ACT_LN2,
  ACT_UP,
  ACT_GELU,
  ACT_DOWN,
  ACT_COUNT
};

static size_t activation_bytes(int which) {
  const size_t tokens = (size_t)BATCH * SEQ, half = 2;
  const size_t scores = (size_t)BATCH * HEADS * SEQ * SEQ;
  switch (which) {
  case ACT_QKV: return tokens * 3 * HIDDEN * half;
  case ACT_SCORES:
  case ACT_PROBS: return scores * half;
  case ACT_DROPOUT_MASK: return scores; /* one byte per element */
  case ACT_UP:
  case ACT_GELU: return tokens * 4 * HIDDEN * half;
  default: return tokens * HIDDEN * half;
  }
}

/* Weights of one layer: qkv, output projection, MLP up and down, with
 * biases and two layer norms. */
enum { PARAMS_PER_LAYER = 10 };
static size_t param_bytes(int which) {
  const size_t f32 = 4;
  static const size_t elements[PARAMS_PER_LAYER] = {
      3 * HIDDEN * HIDDEN, 3 * HIDDEN, HIDDEN * HIDDEN,     HIDDEN,
      4 * HIDDEN * HIDDEN, 4 * HIDDEN, 4 * HIDDEN * HIDDEN, HIDDEN,
      2 * HIDDEN,          2 * HIDDEN};
  return elements[which] * f32;
}

int main(int argc, char **argv) {
  const char *path = trace_path(argc, argv, "gen_transformer OUT.csv");
  tp_pool *pool = trace_pool_open(path, "train", TP_UNLIMITED, true);
  tp_stream compute = trace_stream(0), copy = trace_stream(1);
  const size_t input_bytes = (size_t)BATCH * SEQ * 8; /* token ids, int64 */

  void *params[LAYERS][PARAMS_PER_LAYER], *moments[LAYERS][PARAMS_PER_LAYER][2];
  void *grads[LAYERS][PARAMS_PER_LAYER] = {{0}};
  for (int l = 0; l < LAYERS; l++)
    for (int p = 0; p < PARAMS_PER_LAYER; p++)
      params[l][p] = trace_alloc_must(pool, param_bytes(p), compute);
  for (int l = 0; l < LAYERS; l++)
    for (int p = 0; p < PARAMS_PER_LAYER; p++)
      for (int m = 0; m < 2; m++)
        moments[l][p][m] = trace_alloc_must(pool, param_bytes(p), compute);

  void *input = trace_alloc_must(pool, input_bytes, copy);
  for (int step = 0; step < STEPS; step++) {
    /* Embedding output, then the layers in order. */
    void *acts[LAYERS][ACT_COUNT];
    void *hidden_in =
        trace_alloc_must(pool, activation_bytes(ACT_LN1), compute);
    void *next_input = trace_alloc_must(pool, input_bytes, copy);
    for (int l = 0; l < LAYERS; l++) {
      for (int a = 0; a < ACT_COUNT; a++) {
        acts[l][a] = trace_alloc_must(pool, activation_bytes(a), compute);
        if (a == ACT_PROBS || a == ACT_GELU) {
          /* A fused kernel's workspace: lives for one kernel. */
          void *ws = trace_alloc_must(pool, 64 * 1024, compute);
          trace_free(pool, ws, compute);
        }
      }
    }
    /* Loss: logits over a 32k vocabulary for the last positions only. */
    void *logits = trace_alloc_must(pool, (size_t)BATCH * 32000 * 4, compute);
    void *grad = trace_alloc_must(pool, activation_bytes(ACT_DOWN), compute);
    trace_free(pool, logits, compute);

    for (int l = LAYERS - 1; l >= 0; l--) {
      for (int p = 0; p < PARAMS_PER_LAYER; p++)
        if (!grads[l][p]) /* gradients stay from the first backward on */
          grads[l][p] = trace_alloc_must(pool, param_bytes(p), compute);
      for (int a = ACT_COUNT - 1; a >= 0; a--) {
        /* Gradient of this activation's input, then the activation dies. */
        void *g = trace_alloc_must(pool, activation_bytes(a), compute);
        trace_free(pool, grad, compute);
        grad = g;
        trace_free(pool, acts[l][a], compute);
      }
    }
    trace_free(pool, grad, compute);
    trace_free(pool, hidden_in, compute);

    /* Optimizer: a temporary per parameter for the update (unfused Adam). */
    for (int l = 0; l < LAYERS; l++) {
      for (int p = 0; p < PARAMS_PER_LAYER; p++) {
        void *tmp = trace_alloc_must(pool, param_bytes(p), compute);
        trace_free(pool, tmp, compute);
      }
    }
    /* The prefetched input becomes current; the old one is freed on the
     * compute stream that used it. */
    trace_free(pool, input, compute);
    input = next_input;
  }
  trace_free(pool, input, compute);
  for (int l = 0; l < LAYERS; l++) {
    for (int p = 0; p < PARAMS_PER_LAYER; p++) {
      trace_free(pool, grads[l][p], compute);
      trace_free(pool, moments[l][p][0], compute);
      trace_free(pool, moments[l][p][1], compute);
      trace_free(pool, params[l][p], compute);
    }
  }
  if (tp_pool_forget_stream(pool, copy) != TP_SUCCESS)
    return 1;
  trace_pool_close(pool);
  return 0;
}
