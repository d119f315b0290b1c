/* Internal: checking a (layout, tile) pair and turning it into the geometry
 * the fill kernels take. Compiled in every build. */
#ifndef TP_DEVICE_TILE_GEOMETRY_H
#define TP_DEVICE_TILE_GEOMETRY_H

#include <stddef.h>

#include "fill_geometry.h"
#include "tensorpool/status.h"

/* TP_ERR_INVALID_ARGUMENT (naming `caller`) unless `layout` is a valid
 * layout and `tile` a block inside it whose count matches its extents. */
tp_status tp_fill_geometry_make(const char *caller, const tp_layout *layout,
                                const tp_tile *tile, tp_fill_geometry *out,
                                size_t *count);

#endif
