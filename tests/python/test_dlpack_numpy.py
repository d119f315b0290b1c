#!/usr/bin/env python3
"""DLPack with a real consumer and producer: NumPy, through ctypes against
the shared library, as a Python binding would do it.

  test_dlpack_numpy.py <path of libtensorpool.so>

Values are checked both ways, no copy is made (the same addresses), and
lifetimes hold: an exported buffer lives until NumPy drops the array, a
NumPy array lives until tensorpool destroys its view, an unconsumed capsule
gives its tensor back, nothing is left in the pools at the end. Run under
AddressSanitizer (the library built with it, libasan preloaded) the same
script catches a use after free or a leak on either side.
Exit status: 0 passed, 1 failed, 77 skipped (NumPy missing or too old).
"""
import ctypes
import gc
import os
import sys
import traceback

try:
    import numpy as np
except ImportError:
    print("skip: NumPy is not installed (scripts/setup.sh installs it)")
    sys.exit(77)
if tuple(int(x) for x in np.__version__.split(".")[:2]) < (2, 1):
    print(f"skip: NumPy {np.__version__} predates DLPack 1.0 (needs 2.1)")
    sys.exit(77)

import tensorpool_ctypes as tp

lib = tp.load(sys.argv[1])
rt = tp.Runtime(lib)
HOST = tp.TP_SPACE_HOST
NUMPY = {"f32": np.float32, "f64": np.float64, "c64": np.complex64,
         "c128": np.complex128, "i32": np.int32, "i64": np.int64,
         "f16": np.float16, "i8": np.int8, "u8": np.uint8}


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def test_numpy_reads_an_exported_buffer_without_a_copy():
    for name, dtype in NUMPY.items():
        buf = rt.arange(HOST, name, (3, 4), start=1.0, step=2.0)
        data = lib.tp_buffer_data(buf)
        exported = tp.Exported(lib, buf)
        expect(exported.__dlpack_device__() == (tp.KDLCPU, 0), "on the CPU")
        arr = np.from_dlpack(exported)
        expect(exported.versioned_requests == 1, "NumPy asked for DLPack 1.x")
        expect(arr.dtype == dtype, f"{name}: dtype {arr.dtype}")
        expect(arr.shape == (3, 4), f"{name}: shape {arr.shape}")
        expect(arr.ctypes.data == data, f"{name}: the buffer's own memory")
        want = (1 + 2 * np.arange(12)).astype(dtype).reshape(3, 4)
        expect(np.array_equal(arr, want), f"{name}: values {arr}")
        expect(rt.live_blocks(HOST) == 1, "alive while NumPy holds it")
        arr[2, 3] = 0  # writable: the consumer owns it now
        del arr
        gc.collect()
        expect(rt.live_blocks(HOST) == 0,
               f"{name}: freed when NumPy dropped the array")


def test_a_buffer_is_handed_over_once():
    exported = tp.Exported(lib, rt.arange(HOST, "f64", (2,)))
    arr = np.from_dlpack(exported)
    try:
        np.from_dlpack(exported)
        raise AssertionError("a second export of the same buffer")
    except BufferError:
        pass
    del arr
    gc.collect()
    expect(rt.live_blocks(HOST) == 0, "freed")


def test_an_unconsumed_capsule_gives_the_buffer_back():
    for max_version in ((1, 0), None):
        exported = tp.Exported(lib, rt.arange(HOST, "i64", (5, 5)))
        capsule = exported.__dlpack__(max_version=max_version)
        expect(rt.live_blocks(HOST) == 1, "the capsule holds it")
        del capsule
        gc.collect()
        expect(rt.live_blocks(HOST) == 0,
               f"the capsule's destructor ran the deleter ({max_version})")


def test_tensorpool_views_a_numpy_array_without_a_copy():
    for name, dtype in NUMPY.items():
        a = (np.arange(12) * 3).astype(dtype).reshape(3, 4)
        refs = sys.getrefcount(a)
        for max_version in ((1, 0), None):  # versioned, then legacy
            capsule = a.__dlpack__(max_version=max_version)
            view = tp.import_capsule(lib, rt.handle, capsule)
            del capsule
            expect(lib.tp_buffer_data(view) == a.ctypes.data,
                   f"{name}: a view of the array's memory")
            expect(lib.tp_buffer_bytes(view) == a.nbytes, f"{name}: bytes")
            expect(sys.getrefcount(a) == refs + 1,
                   f"{name}: the view keeps the array alive")
            # The library computes from the view: 2 * a, in a new buffer,
            # read back through NumPy again.
            doubled = ctypes.c_void_p()
            tp.check(lib, lib.tp_axpby(lib.tp_scalar_real(2.0), view,
                                       lib.tp_scalar_real(0.0), view, None,
                                       ctypes.byref(doubled)), "tp_axpby")
            result = np.from_dlpack(tp.Exported(lib, doubled.value))
            expect(np.array_equal(result, 2 * a),
                   f"{name}: 2 * a computed by tensorpool: {result}")
            del result
            # Writes through the view land in the array (element 5).
            seven = np.array([7], dtype=dtype)
            ctypes.memmove(lib.tp_buffer_data(view) + 5 * a.itemsize,
                           seven.ctypes.data, a.itemsize)
            expect(a[1, 1] == 7, f"{name}: a write through the view")
            a[1, 1] = 15
            tp.check(lib, lib.tp_buffer_destroy(view), "tp_buffer_destroy")
            gc.collect()
            expect(sys.getrefcount(a) == refs,
                   f"{name}: destroy ran NumPy's deleter ({max_version})")
    expect(rt.live_blocks(HOST) == 0, "every result was freed")


def test_odd_shapes_round_trip():
    for a in (np.array(2.5), np.zeros((0, 3)), np.ones((1, 1, 7))):
        view = tp.import_capsule(lib, rt.handle,
                                 a.__dlpack__(max_version=(1, 0)))
        copy = ctypes.c_void_p()
        tp.check(lib, lib.tp_axpby(lib.tp_scalar_real(1.0), view,
                                   lib.tp_scalar_real(1.0), view, None,
                                   ctypes.byref(copy)), "tp_axpby")
        back = np.from_dlpack(tp.Exported(lib, copy.value))
        expect(back.shape == a.shape and np.array_equal(back, 2 * a),
               f"shape {a.shape}: {back}")
        del back
        tp.check(lib, lib.tp_buffer_destroy(view), "tp_buffer_destroy")
    gc.collect()
    expect(rt.live_blocks(HOST) == 0, "freed")


def refused(array, status, words, **kwargs):
    refs = sys.getrefcount(array)
    capsule = array.__dlpack__(max_version=(1, 0), **kwargs)
    try:
        tp.import_capsule(lib, rt.handle, capsule)
        raise AssertionError(f"imported: expected '{words}'")
    except tp.Error as e:
        expect(e.status == status, f"status {e.status}: {e.message}")
        expect(words in e.message, f"'{words}' in '{e.message}'")
    del capsule  # still NumPy's: its destructor gives the array back
    gc.collect()
    expect(sys.getrefcount(array) == refs, "the refused tensor was released")


def test_what_a_buffer_cannot_be_is_refused_and_released():
    a = np.arange(24, dtype=np.float64).reshape(4, 6)
    refused(a[:, ::2], tp.TP_ERR_NOT_SUPPORTED, "stride 2")
    refused(a.T, tp.TP_ERR_NOT_SUPPORTED, "stride")
    readonly = a.copy()
    readonly.flags.writeable = False
    refused(readonly, tp.TP_ERR_NOT_SUPPORTED, "read-only")
    refused(np.arange(4, dtype=np.uint16), tp.TP_ERR_NOT_SUPPORTED,
            "type code 1, 16 bits")


def main():
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_")]
    failed = 0
    for name, fn in tests:
        try:
            fn()
            print(f"ok   {name}")
        except Exception:
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
    gc.collect()
    try:
        rt.destroy()
        print("ok   the runtime was destroyed with nothing live")
    except tp.Error as e:
        failed += 1
        print(f"FAIL runtime destroy: {e}")
    if os.environ.get("TP_TEST_LEAK_CHECK") == "1":
        # LeakSanitizer (preloaded with AddressSanitizer): blocks nothing
        # points to any more, from either side of the exchange.
        leak_check = ctypes.CDLL(None).__lsan_do_recoverable_leak_check
        if leak_check() != 0:
            failed += 1
            print("FAIL LeakSanitizer found leaks (above)")
        else:
            print("ok   LeakSanitizer: no leaks")
    print(f"{len(tests) - failed} of {len(tests)} tests passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
