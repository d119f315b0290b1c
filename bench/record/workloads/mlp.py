"""A small MLP (784-256-128-10, ReLU, softmax cross-entropy) trained with
plain SGD in NumPy on synthetic data, the batch size changing from step to
step as a data loader's last batches and a schedule would change it."""
import os

# One BLAS thread: steadier run times on a shared 2-core machine. OpenBLAS
# takes its work buffers from mmap, not malloc, so the trace is the same.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 (after the thread count is set)

rng = np.random.default_rng(3)
sizes = (784, 256, 128, 10)
weights = [rng.standard_normal((a, b)) * np.sqrt(2.0 / a)
           for a, b in zip(sizes, sizes[1:])]
biases = [np.zeros(b) for b in sizes[1:]]
data = rng.standard_normal((4096, sizes[0]))
labels = rng.integers(0, sizes[-1], 4096)


def step(x, y, lr):
    acts = [x]
    for i, (w, b) in enumerate(zip(weights, biases)):
        z = acts[-1] @ w + b
        acts.append(np.maximum(z, 0) if i < len(weights) - 1 else z)
    logits = acts[-1]
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y] + 1e-12).mean()
    grad = p
    grad[np.arange(len(y)), y] -= 1.0
    grad /= len(y)
    for i in range(len(weights) - 1, -1, -1):
        gw = acts[i].T @ grad
        gb = grad.sum(axis=0)
        if i > 0:
            grad = (grad @ weights[i].T) * (acts[i] > 0)
        weights[i] -= lr * gw
        biases[i] -= lr * gb
    return float(loss)


loss = 0.0
for it in range(120):
    batch = int(rng.choice((16, 32, 64, 100, 128, 256, 512)))
    idx = rng.integers(0, len(data), batch)
    loss = step(data[idx], labels[idx], 0.05)
print("mlp", round(loss, 4))
