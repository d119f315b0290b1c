/* Where a tile sits in its tensor, in the form the fill kernels use (shared
 * by the generator kernel and the NVRTC expression kernels, whose source
 * declares the same struct). */
#ifndef TP_KERNELS_FILL_GEOMETRY_H
#define TP_KERNELS_FILL_GEOMETRY_H

#include <stdint.h>

#include "tensorpool/layout.h"

typedef struct tp_fill_geometry {
  int ndim;
  int64_t offsets[TP_MAX_NDIM]; /* global index of the tile's first element */
  int64_t extents[TP_MAX_NDIM]; /* the tile's extents */
  int64_t strides[TP_MAX_NDIM]; /* row-major strides of the whole tensor */
} tp_fill_geometry;

#endif
