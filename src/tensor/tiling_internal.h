/* Internal: the representation of a tiling and row helpers. */
#ifndef TP_CORE_TILING_INTERNAL_H
#define TP_CORE_TILING_INTERNAL_H

#include "tensorpool/layout.h"

struct tp_tiling {
  tp_layout layout;
  int parts;
  int64_t first[]; /* parts + 1 prefix sums: part p holds rows
                      [first[p], first[p+1]) of axis 0 */
};

/* Rows of axis 0 (1 for a 0-d tensor) and elements per row, for a
 * layout already checked by tp_layout_make. */
int64_t tp_layout_rows(const tp_layout *layout);
size_t tp_layout_row_size(const tp_layout *layout);

/* The tile holding rows [first_row, first_row + rows). */
void tp_tile_of_rows(const tp_layout *layout, int part, int64_t first_row,
                     int64_t rows, tp_tile *out);

#endif
