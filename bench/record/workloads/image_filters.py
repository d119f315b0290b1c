"""Image filters on images of several sizes: 3x3 and 5x5 stencils written
as sums of shifted slices (box blur, Laplacian, Sobel gradient magnitude),
a separable Gaussian blur with np.convolve on rows and columns, and a
5x5 convolution through a strided window view."""
import os

# One BLAS thread: steadier run times on a shared 2-core machine. OpenBLAS
# takes its work buffers from mmap, not malloc, so the trace is the same.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 (after the thread count is set)
from numpy.lib.stride_tricks import sliding_window_view

rng = np.random.default_rng(2)


def box3(img):
    p = np.pad(img, 1, mode="edge")
    h, w = img.shape
    out = np.zeros_like(img)
    for dy in range(3):
        for dx in range(3):
            out += p[dy:dy + h, dx:dx + w]
    return out / 9.0


def laplacian(img):
    p = np.pad(img, 1, mode="reflect")
    return (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]
            - 4.0 * img)


def sobel(img):
    p = np.pad(img, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]
          - p[:-2, :-2] - 2 * p[1:-1, :-2] - p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]
          - p[:-2, :-2] - 2 * p[:-2, 1:-1] - p[:-2, 2:])
    return np.hypot(gx, gy)


def gaussian(img, sigma):
    r = int(3 * sigma)
    x = np.arange(-r, r + 1)
    k = np.exp(-x * x / (2.0 * sigma * sigma))
    k /= k.sum()
    rows = np.stack([np.convolve(row, k, mode="same") for row in img])
    return np.stack([np.convolve(col, k, mode="same") for col in rows.T]).T


def conv5(img, kernel):
    p = np.pad(img, 2, mode="edge")
    win = sliding_window_view(p, (5, 5))
    return np.einsum("ijkl,kl->ij", win, kernel)


kernel = rng.standard_normal((5, 5))
total = 0.0
for size in (96, 192, 256, 384, 512, 768):
    img = rng.random((size, size))
    total += float(box3(img).mean() + laplacian(img).std())
    total += float(sobel(img).mean())
    total += float(gaussian(img, 1.0 + size / 256).mean())
    total += float(conv5(img, kernel).mean())
print("image_filters", round(total, 3))
