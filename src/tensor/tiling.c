/* Tilings: contiguous blocks of axis 0, one per part. Stored as prefix sums
 * of rows so a part's block and a row's owner are O(1) and O(log parts). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tensor/tiling_internal.h"

int64_t tp_layout_rows(const tp_layout *layout) {
  return layout->ndim == 0 ? 1 : layout->extents[0];
}

size_t tp_layout_row_size(const tp_layout *layout) {
  /* An empty tensor's other extents may multiply past size_t (tp_layout_make
   * allows that: it has 0 elements); its rows hold nothing either way. */
  for (int k = 0; k < layout->ndim; ++k)
    if (layout->extents[k] == 0)
      return 0;
  size_t n = 1;
  for (int k = 1; k < layout->ndim; ++k)
    n *= (size_t)layout->extents[k];
  return n;
}

/* `caller_out` is the public function's out-pointer, checked here so that
 * every entry refuses a NULL one before allocating. */
static tp_status tiling_new(const char *fn, const tp_layout *layout, int parts,
                            tp_tiling **caller_out, tp_tiling **out) {
  if (!layout || !caller_out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn,
                   !layout ? "layout" : "out-pointer");
  if (parts < 1 || parts > TP_MAX_PARTS)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: %d parts; a tiling has 1 to TP_MAX_PARTS (%d) parts",
                   fn, parts, TP_MAX_PARTS);
  size_t count;
  tp_status st = tp_layout_count(layout, &count);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s", fn);
  /* One block for the struct and its prefix sums, from malloc: a
   * conversion makes a tiling per call, and glibc's calloc skips the
   * per-thread cache that malloc takes such blocks from. */
  size_t sums = ((size_t)parts + 1) * sizeof(int64_t);
  tp_tiling *t = malloc(sizeof *t + sums);
  if (!t)
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "%s: no host memory for a tiling of %d parts", fn, parts);
  t->layout = *layout;
  t->parts = parts;
  memset(t->first, 0, sums);
  *out = t;
  return TP_SUCCESS;
}

tp_status tp_tiling_create_block(const tp_layout *layout, int parts,
                                 tp_tiling **out) {
  tp_tiling *t = NULL;
  tp_status st = tiling_new("tp_tiling_create_block", layout, parts, out, &t);
  if (st != TP_SUCCESS)
    return st;
  int64_t rows = tp_layout_rows(layout);
  int64_t base = rows / parts, extra = rows % parts;
  for (int p = 0; p < parts; ++p)
    t->first[p + 1] = t->first[p] + base + (p < extra ? 1 : 0);
  *out = t;
  return TP_SUCCESS;
}

tp_status tp_tiling_create(const tp_layout *layout, int parts,
                           const int64_t *rows, tp_tiling **out) {
  if (!rows)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_tiling_create: NULL rows");
  tp_tiling *t = NULL;
  tp_status st = tiling_new("tp_tiling_create", layout, parts, out, &t);
  if (st != TP_SUCCESS)
    return st;
  int64_t total = tp_layout_rows(layout);
  for (int p = 0; p < parts; ++p) {
    if (rows[p] < 0 || rows[p] > total - t->first[p]) {
      tp_tiling_destroy(t);
      return tp_fail(TP_ERR_INVALID_ARGUMENT,
                     "tp_tiling_create: rows[%d] = %lld is negative or goes "
                     "past the %lld rows of axis 0",
                     p, (long long)rows[p], (long long)total);
    }
    t->first[p + 1] = t->first[p] + rows[p];
  }
  if (t->first[parts] != total) {
    long long sum = (long long)t->first[parts];
    tp_tiling_destroy(t);
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_tiling_create: the rows sum to %lld, axis 0 has %lld",
                   sum, (long long)total);
  }
  *out = t;
  return TP_SUCCESS;
}

tp_status tp_tiling_clone(const tp_tiling *tiling, tp_tiling **out) {
  if (!tiling)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_tiling_clone: NULL tiling");
  tp_tiling *t = NULL;
  tp_status st =
      tiling_new("tp_tiling_clone", &tiling->layout, tiling->parts, out, &t);
  if (st != TP_SUCCESS)
    return st;
  memcpy(t->first, tiling->first,
         ((size_t)tiling->parts + 1) * sizeof *t->first);
  *out = t;
  return TP_SUCCESS;
}

tp_status tp_tiling_destroy(tp_tiling *tiling) {
  free(tiling); /* its prefix sums are part of the block */
  return TP_SUCCESS;
}

int tp_tiling_parts(const tp_tiling *tiling) {
  return tiling ? tiling->parts : 0;
}

const tp_layout *tp_tiling_layout(const tp_tiling *tiling) {
  return tiling ? &tiling->layout : NULL;
}

tp_status tp_tiling_rows(const tp_tiling *tiling, int part, int64_t *first,
                         int64_t *rows) {
  if (!tiling || !first || !rows)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_tiling_rows: NULL tiling or out-pointer");
  if (part < 0 || part >= tiling->parts)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_tiling_rows: part %d outside 0..%d", part,
                   tiling->parts - 1);
  *first = tiling->first[part];
  *rows = tiling->first[part + 1] - tiling->first[part];
  return TP_SUCCESS;
}

void tp_tile_of_rows(const tp_layout *layout, int part, int64_t first_row,
                     int64_t rows, tp_tile *out) {
  memset(out, 0, sizeof *out);
  out->part = part;
  size_t row_size = tp_layout_row_size(layout);
  if (layout->ndim > 0) {
    out->offsets[0] = first_row;
    out->extents[0] = rows;
    for (int k = 1; k < layout->ndim; ++k)
      out->extents[k] = layout->extents[k];
  }
  out->first = first_row * (int64_t)row_size;
  out->count = (size_t)rows * row_size;
}

tp_status tp_tiling_tile(const tp_tiling *tiling, int part, tp_tile *out) {
  if (!tiling || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_tiling_tile: NULL %s",
                   !tiling ? "tiling" : "out-pointer");
  int64_t first = 0, rows = 0; /* set by tp_tiling_rows on success */
  tp_status st = tp_tiling_rows(tiling, part, &first, &rows);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_tiling_tile");
  tp_tile_of_rows(&tiling->layout, part, first, rows, out);
  return TP_SUCCESS;
}

tp_status tp_tiling_equal(const tp_tiling *a, const tp_tiling *b, int *out) {
  if (!a || !b || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_tiling_equal: NULL tiling or out");
  int same;
  tp_layout_equal(&a->layout, &b->layout, &same);
  same = same && a->parts == b->parts;
  for (int p = 0; same && p <= a->parts; ++p)
    same = a->first[p] == b->first[p];
  *out = same;
  return TP_SUCCESS;
}
