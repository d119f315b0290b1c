/* Where a tile sits in its tensor, as src/device/tile_geometry.c checks it;
 * the launchers turn it into the walk of kernels/fill_walk.h. */
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
