/* Layouts and tilings: what a tensor is (element type, number of
 * dimensions, extents) and which rank holds which block of it.
 *
 * Words: `ndim` is the number of dimensions (axes) of a tensor; "rank" is
 * always a process of the runtime (an MPI rank).
 *
 * Tensors are stored row-major (the last axis varies fastest). A tiling
 * splits a tensor into contiguous blocks of the slowest axis (axis 0), one
 * block per part (rank); blocks may be uneven and a part may own nothing. So
 * every tile is one contiguous range of global linear indices, which keeps
 * gathers and redistributions free of packing on every backend.
 *
 * Everything here is host computation on values the caller passes: no
 * stream, never collective, never blocks. Thread safety: any thread; a
 * tiling is immutable after creation, so several threads may read one (only
 * tp_tiling_destroy needs it to be unused). Accessors given NULL return 0
 * (tp_tiling_parts) or NULL (tp_tiling_layout); tp_dtype_size gives 0 and
 * tp_dtype_name "invalid" for a value that is not a tp_dtype. */
#ifndef TENSORPOOL_LAYOUT_H
#define TENSORPOOL_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/status.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

/* The most dimensions a tensor may have (fixed for the 1.x ABI). */
#define TP_MAX_NDIM 8

typedef enum tp_dtype {
  TP_DTYPE_F32 = 0,  /* float */
  TP_DTYPE_F64 = 1,  /* double */
  TP_DTYPE_C64 = 2,  /* complex float: two floats, real then imaginary */
  TP_DTYPE_C128 = 3, /* complex double: two doubles, real then imaginary */
  TP_DTYPE_I32 = 4,  /* int32_t */
  TP_DTYPE_I64 = 5,  /* int64_t */
  TP_DTYPE_F16 = 6,  /* IEEE 754 binary16, stored as its 16 bits */
  TP_DTYPE_BF16 = 7, /* bfloat16: the upper 16 bits of a binary32 */
  TP_DTYPE_I8 = 8,   /* int8_t */
  TP_DTYPE_U8 = 9,   /* uint8_t */
  TP_DTYPE_BOOL = 10 /* one byte holding 0 or 1 */
} tp_dtype;

/* Conversions into the newer types, the same on every backend (the host's
 * and the device's code is the same integer arithmetic):
 *   f16, bf16: from a double, rounded once to nearest, ties to even;
 *     overflow gives infinity, tiny values gradual underflow, NaN the
 *     quiet NaN (f16 0x7E00, bf16 0x7FC0) with its sign.
 *   i8, u8: integers (wrapping modulo 2^8 where an operation wraps).
 *   bool: 1 for any nonzero value (NaN included), 0 for zero.
 * tp_axpby on them: f16 and bf16 compute alpha x + beta y in double from
 * the exact values of x, y and of alpha and beta as stored in the type
 * (tp_scalar_store: alpha = 1 + 2^-11 becomes 1 in f16), with no fused
 * multiply-add, and round once; i8 and u8 wrap
 * modulo 2^8; bool gives (alpha and x) or (beta and y). */

#define TP_DTYPE_COUNT 11

/* A value type: copy it freely. Build it with tp_layout_make, which checks
 * it; extents of 0 are allowed (an empty tensor holds no memory). */
typedef struct tp_layout {
  tp_dtype dtype;
  int ndim;                     /* number of axes, 0 to TP_MAX_NDIM */
  int64_t extents[TP_MAX_NDIM]; /* entries past `ndim` are 0 */
} tp_layout;

/* The block of a tensor one part holds, in global coordinates. Indices
 * (offsets, extents, first) are int64_t like a layout's extents; counts of
 * elements and bytes are size_t. */
typedef struct tp_tile {
  int part;                     /* the rank that holds it */
  int64_t offsets[TP_MAX_NDIM]; /* global index of the tile's first element */
  int64_t extents[TP_MAX_NDIM];
  int64_t first; /* global linear index of its first element */
  size_t count;  /* elements in the tile (may be 0) */
} tp_tile;

/* One value of any element type: a constant to fill with, or the alpha and
 * beta of tp_axpby. Make it with the helpers below. */
typedef struct tp_scalar {
  double re, im; /* floating value (im: imaginary part) */
  int64_t i;     /* integer value, when `integral` */
  int integral;  /* 1: made by tp_scalar_int, exact in 64 bits */
} tp_scalar;

tp_scalar tp_scalar_real(double value);
tp_scalar tp_scalar_complex(double re, double im);
tp_scalar tp_scalar_int(int64_t value);

/* Writes `value` as one element of `dtype` at `dst` (host memory).
 * Floating types take re (and im for complex; an integer scalar converts
 * to double first); f32 rounds re to nearest even, f16 and bf16 too (in one
 * step from the double, see above); a real type (bool included) refuses a
 * non-zero imaginary part; integer types take i, or re when it is integral,
 * and refuse what is outside their range (i8: -128..127, u8: 0..255);
 * bool stores 1 for a nonzero value and 0 for zero.
 * TP_ERR_INVALID_ARGUMENT otherwise. */
tp_status tp_scalar_store(tp_scalar value, tp_dtype dtype, void *dst);

/* Bytes of one element; 0 for a value that is not a tp_dtype. */
size_t tp_dtype_size(tp_dtype dtype);
/* "f32", "f64", "c64", "c128", "i32", "i64", "f16", "bf16", "i8", "u8",
 * "bool"; "invalid" otherwise. */
const char *tp_dtype_name(tp_dtype dtype);

/* Checks the arguments (dtype known, 0 <= ndim <= TP_MAX_NDIM, extents >= 0,
 * element count and byte size representable in size_t and int64_t:
 * TP_ERR_OVERFLOW otherwise) and fills *out. `extents` may be NULL for
 * ndim 0. A zero extent makes an empty tensor (0 elements) whatever the
 * other extents are. */
tp_status tp_layout_make(tp_dtype dtype, int ndim, const int64_t *extents,
                         tp_layout *out);
/* Elements and bytes, overflow-checked (a layout not made by
 * tp_layout_make may overflow: TP_ERR_OVERFLOW). */
tp_status tp_layout_count(const tp_layout *layout, size_t *out);
tp_status tp_layout_bytes(const tp_layout *layout, size_t *out);
/* *out = 1 if both describe the same tensor (dtype, ndim, extents). */
tp_status tp_layout_equal(const tp_layout *a, const tp_layout *b, int *out);

/* The whole tensor as one tile (part 0). */
tp_status tp_layout_whole_tile(const tp_layout *layout, tp_tile *out);

typedef struct tp_tiling tp_tiling;

/* The most parts (ranks) a tiling may have: 2^20, over a million ranks. A
 * tiling keeps 8 bytes per part, so the bound stops a wrong count (INT_MAX
 * parts would take 16 GiB) with TP_ERR_INVALID_ARGUMENT. Parts may
 * outnumber the rows of axis 0: the extra parts own nothing. */
#define TP_MAX_PARTS (1 << 20)

/* Block split of axis 0 over `parts` parts: the first (extent % parts) parts
 * get one more row. A 0-d tensor (one element) goes to part 0. */
tp_status tp_tiling_create_block(const tp_layout *layout, int parts,
                                 tp_tiling **out);
/* Uneven split: part p gets `rows[p]` rows of axis 0 (>= 0, summing to the
 * extent of axis 0; for a 0-d tensor, to 1). */
tp_status tp_tiling_create(const tp_layout *layout, int parts,
                           const int64_t *rows, tp_tiling **out);
tp_status tp_tiling_clone(const tp_tiling *tiling, tp_tiling **out);
tp_status tp_tiling_destroy(tp_tiling *tiling); /* NULL: does nothing */

/* Accessors (pure; 0 and NULL for a NULL tiling). */
int tp_tiling_parts(const tp_tiling *tiling);
const tp_layout *tp_tiling_layout(const tp_tiling *tiling);

/* The tile of part `part`. */
tp_status tp_tiling_tile(const tp_tiling *tiling, int part, tp_tile *out);
/* Rows of axis 0 held by `part` and the first of them. */
tp_status tp_tiling_rows(const tp_tiling *tiling, int part, int64_t *first,
                         int64_t *rows);
/* *out = 1 if both split the same layout the same way. */
tp_status tp_tiling_equal(const tp_tiling *a, const tp_tiling *b, int *out);

TP_END_DECLS

#endif
