/* Internal: how tensorpool's types and spaces map onto DLPack's. */
#ifndef TP_TENSOR_DLPACK_INTERNAL_H
#define TP_TENSOR_DLPACK_INTERNAL_H

#include "tensorpool/dlpack.h"

/* The DLPack type of `dtype` (lanes 1): 1, or 0 when there is none. */
int tp_dlpack_dtype_of(tp_dtype dtype, tp_dlpack_dtype *out);
/* The tp_dtype of a DLPack type: 1, or 0 when tensorpool lacks it (vector
 * lanes included). */
int tp_dtype_of_dlpack(tp_dlpack_dtype type, tp_dtype *out);

#endif
