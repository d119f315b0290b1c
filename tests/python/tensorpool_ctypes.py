"""ctypes bindings of the parts of libtensorpool.so that the DLPack tests
use, and the Python side of the DLPack protocol (capsules, __dlpack__).

Only public API is called, through the shared library, as any binding
would. Opaque handles are c_void_p; structs are declared as the headers
declare them (tp_layout is fixed for the 1.x ABI; tp_generator is only ever
received and passed by pointer, so a generous opaque block holds it).
"""
import ctypes
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_double,
                    c_int, c_int32, c_int64, c_size_t, c_uint8, c_uint16,
                    c_uint32, c_uint64, c_void_p, py_object)

TP_SUCCESS = 0
TP_ERR_INVALID_ARGUMENT = 1
TP_ERR_NO_DEVICE = 5
TP_ERR_NOT_SUPPORTED = 6
TP_ERR_MISMATCH = 10

TP_SPACE_HOST, TP_SPACE_PINNED, TP_SPACE_DEVICE = 0, 1, 2
TP_BUFFER_LOCAL = 0
DTYPES = {"f32": 0, "f64": 1, "c64": 2, "c128": 3, "i32": 4, "i64": 5,
          "f16": 6, "bf16": 7, "i8": 8, "u8": 9, "bool": 10}
TP_MAX_NDIM = 8
KDLCPU, KDLCUDA, KDLCUDAHOST = 1, 2, 3


class Layout(Structure):
    _fields_ = [("dtype", c_int), ("ndim", c_int),
                ("extents", c_int64 * TP_MAX_NDIM)]


class Generator(Structure):
    # Larger than tp_generator: returned by value through a hidden pointer
    # (a struct this size is never returned in registers), so the library
    # writes its own size into it and the rest stays unused.
    _fields_ = [("opaque", c_double * 32)]


class Scalar(Structure):
    _fields_ = [("re", c_double), ("im", c_double), ("i", c_int64),
                ("integral", c_int)]


class PoolStats(Structure):
    _fields_ = [("struct_size", c_size_t)] + [
        (name, c_uint64) for name in (
            "allocations", "deallocations", "bytes_allocated", "bytes_freed",
            "hits", "misses")] + [("hit_rate", c_double)] + [
        (name, c_uint64) for name in (
            "live_blocks", "live_bytes", "live_bytes_peak", "requested_bytes",
            "requested_bytes_peak", "cached_blocks", "cached_bytes",
            "reserved_bytes", "reserved_bytes_peak", "upstream_gets",
            "upstream_puts", "cross_stream_takes", "releases", "failures",
            "streams_forgotten")]


class DLPackVersion(Structure):
    _fields_ = [("major", c_uint32), ("minor", c_uint32)]


class DLDevice(Structure):
    _fields_ = [("device_type", c_int32), ("device_id", c_int32)]


class DLDataType(Structure):
    _fields_ = [("code", c_uint8), ("bits", c_uint8), ("lanes", c_uint16)]


class DLTensor(Structure):
    _fields_ = [("data", c_void_p), ("device", DLDevice), ("ndim", c_int32),
                ("dtype", DLDataType), ("shape", POINTER(c_int64)),
                ("strides", POINTER(c_int64)), ("byte_offset", c_uint64)]


class DLManagedTensorVersioned(Structure):
    pass


DLManagedTensorVersioned._fields_ = [
    ("version", DLPackVersion), ("manager_ctx", c_void_p),
    ("deleter", CFUNCTYPE(None, POINTER(DLManagedTensorVersioned))),
    ("flags", c_uint64), ("dl_tensor", DLTensor)]


class DLManagedTensor(Structure):
    pass


DLManagedTensor._fields_ = [
    ("dl_tensor", DLTensor), ("manager_ctx", c_void_p),
    ("deleter", CFUNCTYPE(None, POINTER(DLManagedTensor)))]


class Error(Exception):
    def __init__(self, lib, status, call):
        self.status = status
        self.message = lib.tp_last_error().decode()
        super().__init__(f"{call}: status {status}: {self.message}")


def load(path):
    """The library with the prototypes of what the tests call."""
    lib = ctypes.CDLL(path)
    vp, st = c_void_p, c_int
    protos = {
        "tp_last_error": (c_char_p, []),
        "tp_status_name": (c_char_p, [c_int]),
        "tp_get_version": (st, [POINTER(c_int)] * 3),
        "tp_runtime_create": (st, [vp, POINTER(vp)]),
        "tp_runtime_destroy": (st, [vp]),
        "tp_runtime_device": (c_int, [vp]),
        "tp_runtime_has_backend": (c_int, [vp, c_int]),
        "tp_runtime_allocator": (st, [vp, c_int, c_int, POINTER(vp)]),
        "tp_runtime_pool": (st, [vp, c_int, POINTER(vp)]),
        "tp_pool_get_stats": (st, [vp, POINTER(PoolStats)]),
        "tp_layout_make": (st, [c_int, c_int, POINTER(c_int64),
                                POINTER(Layout)]),
        "tp_generator_arange": (Generator, [c_double, c_double]),
        "tp_allocator_construct_generator": (
            st, [vp, POINTER(Layout), vp, POINTER(Generator), vp,
                 POINTER(vp)]),
        "tp_scalar_real": (Scalar, [c_double]),
        "tp_axpby": (st, [Scalar, vp, Scalar, vp, vp, POINTER(vp)]),
        "tp_buffer_destroy": (st, [vp]),
        "tp_buffer_data": (vp, [vp]),
        "tp_buffer_bytes": (c_size_t, [vp]),
        "tp_buffer_stream": (vp, [vp]),
        "tp_buffer_dlpack_device": (st, [vp, POINTER(DLDevice)]),
        "tp_buffer_to_dlpack": (
            st, [POINTER(vp), vp, POINTER(POINTER(DLManagedTensorVersioned))]),
        "tp_buffer_to_dlpack_legacy": (
            st, [POINTER(vp), vp, POINTER(POINTER(DLManagedTensor))]),
        "tp_buffer_from_dlpack": (st, [vp, vp, vp, POINTER(vp)]),
        "tp_buffer_from_dlpack_legacy": (st, [vp, vp, vp, POINTER(vp)]),
        "tp_device_count": (st, [POINTER(c_int)]),
    }
    for name, (restype, argtypes) in protos.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def check(lib, status, call):
    if status != TP_SUCCESS:
        raise Error(lib, status, call)


# ---- The Python side of DLPack: capsules --------------------------------

_api = ctypes.pythonapi
_api.PyCapsule_New.restype = py_object
_api.PyCapsule_New.argtypes = [c_void_p, c_char_p, c_void_p]
_api.PyCapsule_IsValid.restype = c_int
_api.PyCapsule_IsValid.argtypes = [py_object, c_char_p]
_api.PyCapsule_GetPointer.restype = c_void_p
_api.PyCapsule_GetPointer.argtypes = [py_object, c_char_p]
_api.PyCapsule_SetName.restype = c_int
_api.PyCapsule_SetName.argtypes = [py_object, c_char_p]

# Capsule names must outlive the capsules: module-level buffers.
NAME_VERSIONED = ctypes.create_string_buffer(b"dltensor_versioned")
NAME_LEGACY = ctypes.create_string_buffer(b"dltensor")
USED_VERSIONED = ctypes.create_string_buffer(b"used_dltensor_versioned")
USED_LEGACY = ctypes.create_string_buffer(b"used_dltensor")

_destructor_type = CFUNCTYPE(None, c_void_p)


# The destructors get the dying capsule as a raw pointer: calls on it must
# not touch its reference count, so these prototypes take c_void_p.
_raw_is_valid = ctypes.PYFUNCTYPE(c_int, c_void_p, c_char_p)(
    ("PyCapsule_IsValid", _api))
_raw_get_pointer = ctypes.PYFUNCTYPE(c_void_p, c_void_p, c_char_p)(
    ("PyCapsule_GetPointer", _api))


def _unconsumed_deleter(capsule_ptr, name, struct):
    # A capsule nobody consumed still owns its tensor: run the deleter.
    if _raw_is_valid(capsule_ptr, name):
        ptr = _raw_get_pointer(capsule_ptr, name)
        managed = ctypes.cast(ptr, POINTER(struct))
        if managed.contents.deleter:
            managed.contents.deleter(managed)


@_destructor_type
def _destroy_versioned(capsule_ptr):
    _unconsumed_deleter(capsule_ptr, NAME_VERSIONED, DLManagedTensorVersioned)


@_destructor_type
def _destroy_legacy(capsule_ptr):
    _unconsumed_deleter(capsule_ptr, NAME_LEGACY, DLManagedTensor)


def stream_handle(stream):
    """A Python DLPack stream argument as a tp_stream (cudaStream_t)."""
    if stream is None or stream == 1:
        return None  # the legacy default stream
    if stream == 2:
        return c_void_p(2)  # cudaStreamPerThread
    return c_void_p(stream)


class Exported:
    """A tp_buffer behind Python's DLPack protocol: __dlpack__ hands the
    buffer over (once) in a capsule; __dlpack_device__ says where it is."""

    def __init__(self, lib, buffer):
        self.lib, self.buffer = lib, buffer
        self.versioned_requests = 0

    def __dlpack_device__(self):
        device = DLDevice()
        check(self.lib, self.lib.tp_buffer_dlpack_device(
            self.buffer, byref(device)), "tp_buffer_dlpack_device")
        return (device.device_type, device.device_id)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None,
                   copy=None):
        if self.buffer is None:
            raise BufferError("already exported")
        if copy:
            raise BufferError("tensorpool exports without copying")
        handle = c_void_p(self.buffer)
        if stream == -1:  # the consumer asks for no ordering
            stream = self.lib.tp_buffer_stream(self.buffer)
        else:
            stream = stream_handle(stream)
        if max_version is not None and max_version[0] >= 1:
            self.versioned_requests += 1
            out = POINTER(DLManagedTensorVersioned)()
            check(self.lib, self.lib.tp_buffer_to_dlpack(
                byref(handle), stream, byref(out)), "tp_buffer_to_dlpack")
            capsule = _api.PyCapsule_New(
                ctypes.cast(out, c_void_p), NAME_VERSIONED,
                ctypes.cast(_destroy_versioned, c_void_p))
        else:
            out = POINTER(DLManagedTensor)()
            check(self.lib, self.lib.tp_buffer_to_dlpack_legacy(
                byref(handle), stream, byref(out)),
                "tp_buffer_to_dlpack_legacy")
            capsule = _api.PyCapsule_New(
                ctypes.cast(out, c_void_p), NAME_LEGACY,
                ctypes.cast(_destroy_legacy, c_void_p))
        assert handle.value is None, "the buffer was handed over"
        self.buffer = None
        return capsule


def import_capsule(lib, runtime, capsule, stream=None):
    """A tp_buffer viewing the tensor in `capsule` (from x.__dlpack__()).
    On success the capsule is marked used: the buffer owns the tensor and
    its destroy runs the producer's deleter. On failure the capsule keeps
    it (its own destructor will run the deleter) and Error is raised."""
    out = c_void_p()
    if _api.PyCapsule_IsValid(capsule, NAME_VERSIONED):
        ptr = _api.PyCapsule_GetPointer(capsule, NAME_VERSIONED)
        check(lib, lib.tp_buffer_from_dlpack(runtime, ptr, stream, byref(out)),
              "tp_buffer_from_dlpack")
        _api.PyCapsule_SetName(capsule, USED_VERSIONED)
    elif _api.PyCapsule_IsValid(capsule, NAME_LEGACY):
        ptr = _api.PyCapsule_GetPointer(capsule, NAME_LEGACY)
        check(lib, lib.tp_buffer_from_dlpack_legacy(runtime, ptr, stream,
                                                    byref(out)),
              "tp_buffer_from_dlpack_legacy")
        _api.PyCapsule_SetName(capsule, USED_LEGACY)
    else:
        raise ValueError("not an unused DLPack capsule")
    return out.value


class Runtime:
    """A tp_runtime with helpers for the tests."""

    def __init__(self, lib):
        self.lib = lib
        self.handle = c_void_p()
        check(lib, lib.tp_runtime_create(None, byref(self.handle)),
              "tp_runtime_create")

    def allocator(self, space):
        a = c_void_p()
        check(self.lib, self.lib.tp_runtime_allocator(
            self.handle, space, TP_BUFFER_LOCAL, byref(a)),
            "tp_runtime_allocator")
        return a

    def arange(self, space, dtype, shape, start=0.0, step=1.0, stream=None):
        extents = (c_int64 * max(1, len(shape)))(*shape)
        layout = Layout()
        check(self.lib, self.lib.tp_layout_make(
            DTYPES[dtype], len(shape), extents, byref(layout)),
            "tp_layout_make")
        gen = self.lib.tp_generator_arange(start, step)
        out = c_void_p()
        check(self.lib, self.lib.tp_allocator_construct_generator(
            self.allocator(space), byref(layout), None, byref(gen), stream,
            byref(out)), "tp_allocator_construct_generator")
        return out.value

    def live_blocks(self, space):
        pool = c_void_p()
        check(self.lib, self.lib.tp_runtime_pool(self.handle, space,
                                                 byref(pool)),
              "tp_runtime_pool")
        stats = PoolStats()
        stats.struct_size = ctypes.sizeof(PoolStats)
        check(self.lib, self.lib.tp_pool_get_stats(pool, byref(stats)),
              "tp_pool_get_stats")
        return stats.live_blocks

    def destroy(self):
        st = self.lib.tp_runtime_destroy(self.handle)
        self.handle = None
        check(self.lib, st, "tp_runtime_destroy")
