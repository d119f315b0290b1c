/* DLPack: zero-copy exchange of tensors with NumPy, PyTorch, CuPy, JAX and
 * any other library that speaks DLPack.
 *
 * The structs below have the memory layout of DLPack 1.x's C ABI (DLPack
 * promises to keep it: the version comes first, and a consumer that sees a
 * major version it does not know must not read past the deleter). They are
 * written here from the published specification under tensorpool's own
 * names, so this header never clashes with a <dlpack/dlpack.h> in the same
 * program: cast a tp_dlpack_managed_tensor_versioned * to
 * DLManagedTensorVersioned * (and the legacy struct to DLManagedTensor *)
 * when handing it to another library.
 *
 * What a buffer maps to:
 *   host memory      kDLCPU (1), device_id 0
 *   pinned memory    kDLCUDAHost (3), device_id 0
 *   device memory    kDLCUDA (2), device_id = the CUDA device
 *   f16, f32, f64    kDLFloat (2), 16 / 32 / 64 bits
 *   bf16             kDLBfloat (4), 16 bits
 *   c64, c128        kDLComplex (5), 64 / 128 bits
 *   i8, i32, i64     kDLInt (0), 8 / 32 / 64 bits
 *   u8               kDLUInt (1), 8 bits
 *   bool             kDLBool (6), 8 bits
 * (one lane each; imports of other types, or of vector lanes, are refused).
 * Local and replicated buffers export the whole tensor of this rank; a
 * distributed buffer exports this rank's tile (its shape is the tile's
 * extents). Shapes and strides are in elements; exported strides are always
 * given (row-major, compact).
 *
 * Thread safety: every function may be called from any thread on different
 * buffers; a buffer must not be used by two threads at once (the exports
 * consume it). None of them is collective; none blocks the host except
 * where it says so (the destroy of a GPU import). */
#ifndef TENSORPOOL_DLPACK_H
#define TENSORPOOL_DLPACK_H

#include <stdint.h>

#include "tensorpool/buffer.h"
#include "tensorpool/runtime.h"
#include "tensorpool/status.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

/* The DLPack version tensorpool's exports carry. */
#define TP_DLPACK_MAJOR_VERSION 1u
#define TP_DLPACK_MINOR_VERSION 0u

/* DLPack's device types (DLDeviceType) that tensorpool maps. */
#define TP_DLPACK_DEVICE_CPU 1
#define TP_DLPACK_DEVICE_CUDA 2
#define TP_DLPACK_DEVICE_CUDA_HOST 3
#define TP_DLPACK_DEVICE_CUDA_MANAGED 13

/* DLPack's type codes (DLDataTypeCode). */
#define TP_DLPACK_CODE_INT 0
#define TP_DLPACK_CODE_UINT 1
#define TP_DLPACK_CODE_FLOAT 2
#define TP_DLPACK_CODE_BFLOAT 4
#define TP_DLPACK_CODE_COMPLEX 5
#define TP_DLPACK_CODE_BOOL 6

/* Bits of tp_dlpack_managed_tensor_versioned.flags. */
#define TP_DLPACK_FLAG_READ_ONLY ((uint64_t)1 << 0)
#define TP_DLPACK_FLAG_IS_COPIED ((uint64_t)1 << 1)

/* DLPackVersion. */
typedef struct tp_dlpack_version {
  uint32_t major;
  uint32_t minor;
} tp_dlpack_version;

/* DLDevice (device_type is a C enum in DLPack: 32 bits). */
typedef struct tp_dlpack_device {
  int32_t device_type;
  int32_t device_id;
} tp_dlpack_device;

/* DLDataType. */
typedef struct tp_dlpack_dtype {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} tp_dlpack_dtype;

/* DLTensor. */
typedef struct tp_dlpack_tensor {
  void *data;
  tp_dlpack_device device;
  int32_t ndim;
  tp_dlpack_dtype dtype;
  int64_t *shape;
  int64_t *strides; /* in elements; NULL: compact row-major */
  uint64_t byte_offset;
} tp_dlpack_tensor;

/* DLManagedTensorVersioned (DLPack 1.x). */
typedef struct tp_dlpack_managed_tensor_versioned {
  tp_dlpack_version version;
  void *manager_ctx;
  void (*deleter)(struct tp_dlpack_managed_tensor_versioned *self);
  uint64_t flags;
  tp_dlpack_tensor dl_tensor;
} tp_dlpack_managed_tensor_versioned;

/* DLManagedTensor (the legacy, unversioned struct of DLPack before 1.0). */
typedef struct tp_dlpack_managed_tensor {
  tp_dlpack_tensor dl_tensor;
  void *manager_ctx;
  void (*deleter)(struct tp_dlpack_managed_tensor *self);
} tp_dlpack_managed_tensor;

/* Where an export of `buffer` would say its memory is (what Python's
 * __dlpack_device__ returns). TP_ERR_NOT_SUPPORTED for a user's own space
 * (TP_SPACE_OTHER), which DLPack cannot name. Pure: no stream, never
 * blocks. */
tp_status tp_buffer_dlpack_device(const tp_buffer *buffer,
                                  tp_dlpack_device *out);

/* Hands *buffer over to a DLPack tensor. On success *buffer is set to NULL
 * (as tp_allocator_construct_move does) and the buffer's memory stays valid
 * until the consumer calls (*out)->deleter(*out), which gives it back to its
 * pool, ordered after the work queued on `stream` by then. `stream` is the
 * consumer's stream: work already queued on the buffer's stream is ordered
 * before later work on `stream` (an event; the host does not wait). For
 * host buffers any value will do. On failure nothing changes.
 * Why a hand-over and not a share: a buffer has one owner; the consumer
 * becomes it. Clone first (tp_buffer_clone) to keep a copy. Never blocks;
 * the deleter gives the memory back as tp_buffer_destroy does (no host
 * wait, on the buffer's stream), on whichever thread calls it. A buffer
 * of no elements exports with NULL data (it has no memory). */
tp_status tp_buffer_to_dlpack(tp_buffer **buffer, tp_stream stream,
                              tp_dlpack_managed_tensor_versioned **out);
/* The same as the legacy struct, for consumers older than DLPack 1.0. */
tp_status tp_buffer_to_dlpack_legacy(tp_buffer **buffer, tp_stream stream,
                                     tp_dlpack_managed_tensor **out);

/* A local buffer of `runtime` that is a view of `tensor`'s memory (no copy),
 * with the runtime's allocator of the matching space (kDLCPU: host,
 * kDLCUDAHost: pinned, kDLCUDA: device, which must be the runtime's device),
 * so results computed from it are allocated there. `stream` is where the
 * tensor's data is ready (the producer ordered it there). On success the
 * buffer owns `tensor`: tp_buffer_destroy calls its deleter (after waiting
 * for the buffer's stream when the memory is a GPU's: the deleter is not
 * stream-ordered, so destroying a device view blocks the host). On failure
 * nothing changes and the caller still owns `tensor`.
 * Refused, before anything is done:
 *   TP_ERR_NOT_SUPPORTED  a major version other than 1, the read-only flag
 *                         (buffers are writable), a dtype tensorpool lacks,
 *                         vector lanes, more than TP_MAX_NDIM axes, strides
 *                         that are not compact row-major, a device type
 *                         other than the three above;
 *   TP_ERR_INVALID_ARGUMENT  NULL arguments, negative ndim or extents, NULL
 *                         data with elements, data not aligned to its type,
 *                         a byte_offset that with the tensor's bytes runs
 *                         past the end of the address space or past
 *                         PTRDIFF_MAX bytes;
 *   TP_ERR_OVERFLOW       a shape whose size in bytes overflows;
 *   TP_ERR_NO_DEVICE      a GPU tensor and a runtime without that backend
 *                         (the status tp_runtime_allocator gives for the
 *                         space: TP_ERR_NOT_SUPPORTED where the runtime's
 *                         configuration disabled it, status.h);
 *   TP_ERR_MISMATCH       a kDLCUDA tensor on another device than the
 *                         runtime's. */
tp_status tp_buffer_from_dlpack(tp_runtime *runtime,
                                tp_dlpack_managed_tensor_versioned *tensor,
                                tp_stream stream, tp_buffer **out);
/* The same from the legacy struct. */
tp_status tp_buffer_from_dlpack_legacy(tp_runtime *runtime,
                                       tp_dlpack_managed_tensor *tensor,
                                       tp_stream stream, tp_buffer **out);

TP_END_DECLS

#endif
