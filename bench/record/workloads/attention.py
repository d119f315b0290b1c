"""Multi-head self-attention, softmax(Q K^T / sqrt(d)) V over 8 heads of
width 64, on sequences whose lengths are drawn from 32 to 768 tokens, with
the input and output projections, as an inference loop over requests of
varying length would run it."""
import os

# One BLAS thread: steadier run times on a shared 2-core machine. OpenBLAS
# takes its work buffers from mmap, not malloc, so the trace is the same.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 (after the thread count is set)

rng = np.random.default_rng(4)
heads, width = 8, 64
model = heads * width
wq, wk, wv, wo = (rng.standard_normal((model, model)) / np.sqrt(model)
                  for _ in range(4))


def attention(x):
    n = x.shape[0]
    q = (x @ wq).reshape(n, heads, width).transpose(1, 0, 2)
    k = (x @ wk).reshape(n, heads, width).transpose(1, 0, 2)
    v = (x @ wv).reshape(n, heads, width).transpose(1, 0, 2)
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(width)
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    out = (scores @ v).transpose(1, 0, 2).reshape(n, model)
    return out @ wo


total = 0.0
for req in range(60):
    n = int(rng.integers(32, 769))
    x = rng.standard_normal((n, model))
    y = attention(x)
    total += float(np.abs(y).mean())
print("attention", round(total, 3))
