"""Dense linear algebra on a few sizes: matmul chains, solves, QR, SVD,
eigenvalues and least squares, as a numerical script would run them (new
arrays for every result, temporaries freed as they go)."""
import os

# One BLAS thread: steadier run times on a shared 2-core machine. OpenBLAS
# takes its work buffers from mmap, not malloc, so the trace is the same.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 (after the thread count is set)

rng = np.random.default_rng(1)


def chain(n, length):
    mats = [rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(length)]
    acc = np.eye(n)
    for m in mats:
        acc = acc @ m
    return float(np.abs(acc).sum())


def solves(n, rhs):
    a = rng.standard_normal((n, n)) + n * np.eye(n)
    b = rng.standard_normal((n, rhs))
    x = np.linalg.solve(a, b)
    r = a @ x - b
    return float(np.linalg.norm(r))


def factorizations(m, n):
    a = rng.standard_normal((m, n))
    q, r = np.linalg.qr(a)
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    back = (u * s) @ vt
    sym = a.T @ a
    w = np.linalg.eigvalsh(sym)
    x, *_ = np.linalg.lstsq(a, rng.standard_normal(m), rcond=None)
    return float(np.abs(q @ r - a).max() + np.abs(back - a).max() + w[-1]
                 + x[0])


total = 0.0
for rnd in range(3):
    for n in (64, 128, 256, 384, 512):
        total += chain(n, 6)
        total += solves(n, 1 + n // 8)
    for m, n in ((120, 40), (200, 50), (300, 120), (400, 100), (500, 200)):
        total += factorizations(m, n)
print("linalg", round(total, 3))
