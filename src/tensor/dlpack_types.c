/* tensorpool's element types as DLPack names them (code, bits, lanes 1). */
#include "tensor/dlpack_internal.h"

static const struct {
  tp_dtype dtype;
  uint8_t code, bits;
} dtype_table[] = {
    {TP_DTYPE_F32, TP_DLPACK_CODE_FLOAT, 32},
    {TP_DTYPE_F64, TP_DLPACK_CODE_FLOAT, 64},
    {TP_DTYPE_C64, TP_DLPACK_CODE_COMPLEX, 64},
    {TP_DTYPE_C128, TP_DLPACK_CODE_COMPLEX, 128},
    {TP_DTYPE_I32, TP_DLPACK_CODE_INT, 32},
    {TP_DTYPE_I64, TP_DLPACK_CODE_INT, 64},
    {TP_DTYPE_F16, TP_DLPACK_CODE_FLOAT, 16},
    {TP_DTYPE_BF16, TP_DLPACK_CODE_BFLOAT, 16},
    {TP_DTYPE_I8, TP_DLPACK_CODE_INT, 8},
    {TP_DTYPE_U8, TP_DLPACK_CODE_UINT, 8},
    {TP_DTYPE_BOOL, TP_DLPACK_CODE_BOOL, 8},
};

#define DTYPE_TABLE_SIZE (sizeof dtype_table / sizeof dtype_table[0])

int tp_dlpack_dtype_of(tp_dtype dtype, tp_dlpack_dtype *out) {
  for (size_t i = 0; i < DTYPE_TABLE_SIZE; ++i)
    if (dtype_table[i].dtype == dtype) {
      out->code = dtype_table[i].code;
      out->bits = dtype_table[i].bits;
      out->lanes = 1;
      return 1;
    }
  return 0;
}

int tp_dtype_of_dlpack(tp_dlpack_dtype type, tp_dtype *out) {
  if (type.lanes != 1)
    return 0;
  for (size_t i = 0; i < DTYPE_TABLE_SIZE; ++i)
    if (dtype_table[i].code == type.code && dtype_table[i].bits == type.bits) {
      *out = dtype_table[i].dtype;
      return 1;
    }
  return 0;
}

/* The C ABI DLPack fixes, as laid out on 64-bit targets: a change here
 * would break every consumer. */
#include <stddef.h>
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(tp_dlpack_tensor) == 48, "DLTensor is 48 bytes");
_Static_assert(offsetof(tp_dlpack_tensor, ndim) == 16, "DLTensor.ndim");
_Static_assert(offsetof(tp_dlpack_tensor, dtype) == 20, "DLTensor.dtype");
_Static_assert(offsetof(tp_dlpack_tensor, shape) == 24, "DLTensor.shape");
_Static_assert(offsetof(tp_dlpack_tensor, byte_offset) == 40,
               "DLTensor.byte_offset");
_Static_assert(offsetof(tp_dlpack_managed_tensor_versioned, deleter) == 16,
               "DLManagedTensorVersioned.deleter");
_Static_assert(offsetof(tp_dlpack_managed_tensor_versioned, dl_tensor) == 32,
               "DLManagedTensorVersioned.dl_tensor");
_Static_assert(offsetof(tp_dlpack_managed_tensor, deleter) == 56,
               "DLManagedTensor.deleter");
#endif
