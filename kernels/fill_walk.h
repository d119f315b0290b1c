/* How the fill kernels walk a tile without dividing per element: thread t
 * starts at element t of the tile (decomposed into a multi-index once),
 * then moves by the grid's thread count, whose multi-index `step` (in the
 * tile's extents) the launcher computes once; each move adds step axis by
 * axis with a carry (an axis wraps at most once, since step[k] <
 * extent[k]), so an element costs a few additions and compares per axis.
 * The linear index, where a kind needs it, is first + local for a tile
 * that is one contiguous range (every tiling's tiles are), else it moves
 * by lstep plus wrap[k] for each axis that wrapped.
 *
 * The struct is portable code (src/tensor/portable_code.h): the NVRTC
 * expression kernels declare it from TP_FILL_WALK_TEXT. C and CUDA. */
#ifndef TP_KERNELS_FILL_WALK_H
#define TP_KERNELS_FILL_WALK_H

#include <stdint.h>
#include <string.h>

#include "fill_geometry.h"
#include "tensor/portable_code.h"

#define TP_FILL_WALK_CODE(EMIT)                                                \
  EMIT(typedef struct tp_fill_walk {                                           \
    int32_t ndim;                                                              \
    int32_t narrow;     /* every index, count and linear index < 2^31 */       \
    int32_t contiguous; /* the tile is a range of linear indices */            \
    int32_t unused;                                                            \
    uint64_t count;     /* elements of the tile */                             \
    uint64_t threads;   /* threads in the grid: the stride */                  \
    int64_t first;      /* linear index of the tile's first element */         \
    int64_t lstep;      /* linear move per stride, before wraps */             \
    int64_t begin[8];   /* global index of the tile's first element */         \
    int64_t end[8];     /* begin + extent */                                   \
    int64_t extent[8];  /* the tile's extents */                               \
    int64_t step[8];    /* the stride in the tile's extents */                 \
    int64_t wrap[8];    /* linear move when axis k wraps */                    \
    int64_t strides[8]; /* row-major strides of the tensor */                  \
  } tp_fill_walk;)

TP_FILL_WALK_CODE(TP_PORTABLE_EMIT)

#define TP_FILL_WALK_TEXT TP_FILL_WALK_CODE(TP_PORTABLE_TEXT)

/* The walk of `count` elements placed by `g` with `threads` threads. */
static inline void tp_fill_walk_make(const tp_fill_geometry *g, uint64_t count,
                                     uint64_t threads, tp_fill_walk *w) {
  int n = g->ndim;
  uint64_t rest = threads;
  int64_t linear_max = 0;
  memset(w, 0, sizeof *w);
  w->ndim = n;
  w->count = count;
  w->threads = threads;
  for (int k = n - 1; k >= 0; --k) {
    int64_t e = g->extents[k];
    w->begin[k] = g->offsets[k];
    w->end[k] = g->offsets[k] + e;
    w->extent[k] = e;
    w->strides[k] = g->strides[k];
    w->first += g->offsets[k] * g->strides[k];
    if (e > 0)
      linear_max += (w->end[k] - 1) * g->strides[k];
    /* The stride's digit on axis k; axis 0 takes what is left. */
    if (k > 0 && e > 0) {
      w->step[k] = (int64_t)(rest % (uint64_t)e);
      rest /= (uint64_t)e;
    } else if (k == 0) {
      w->step[k] = (int64_t)rest;
    }
    w->lstep += w->step[k] * g->strides[k];
    if (k > 0)
      w->wrap[k] = g->strides[k - 1] - e * g->strides[k];
  }
  /* A range of linear indices: after the first axis with more than one
   * index, every axis is whole (its extent times its stride is the stride
   * of the axis before). */
  int first_wide = n;
  for (int k = 0; k < n && first_wide == n; ++k)
    if (g->extents[k] > 1)
      first_wide = k;
  w->contiguous = 1;
  for (int k = first_wide + 1; k < n; ++k)
    if (g->strides[k - 1] != g->extents[k] * g->strides[k])
      w->contiguous = 0;
  int narrow = count < ((uint64_t)1 << 31) && threads < ((uint64_t)1 << 31) &&
               linear_max < ((int64_t)1 << 31);
  for (int k = 0; k < n; ++k)
    narrow = narrow && w->end[k] < ((int64_t)1 << 31);
  w->narrow = narrow;
}

#endif
