#!/usr/bin/env python3
"""DLPack on a GPU: tensorpool device buffers to PyTorch and CuPy and back,
through ctypes against the shared library. For a machine with a GPU (and
PyTorch and/or CuPy); not part of the CPU CI.

  PYTHONPATH=tests/python python3 tests/python/gpu_dlpack_torch_cupy.py \\
      build/libtensorpool.so [--out bench/results/<date>-gpu-dlpack.json]

For each framework: a device buffer filled by a tensorpool generator is read
by torch.from_dlpack / cupy.from_dlpack on the same device without a copy
(same address) with the expected values, and goes back to the pool when the
framework drops it; a framework's tensor is viewed by tensorpool (same
address), tensorpool computes 2 x on the device into a new buffer that the
framework reads back, and destroying the view releases the framework's
tensor. Exit status: 0 passed, 1 failed, 77 no GPU.
"""
import argparse
import ctypes
import gc
import json
import sys
import traceback

import tensorpool_ctypes as tp

DEVICE = tp.TP_SPACE_DEVICE


def run_framework(name, lib, rt, results):
    if name == "torch":
        import torch
        fw = torch
        from_dlpack = torch.from_dlpack
        def arange(n, dtype):
            return torch.arange(n, dtype=getattr(torch, dtype), device="cuda")
        def address(x):
            return x.data_ptr()
        def sync():
            torch.cuda.synchronize()
        def to_numpy(x):
            return x.cpu().numpy()
    else:
        import cupy
        fw = cupy
        from_dlpack = cupy.from_dlpack
        def arange(n, dtype):
            return cupy.arange(n, dtype=getattr(cupy, dtype))
        def address(x):
            return x.data.ptr
        def sync():
            cupy.cuda.runtime.deviceSynchronize()
        def to_numpy(x):
            return cupy.asnumpy(x)
    import numpy as np
    dev = lib.tp_runtime_device(rt.handle)
    checks = []

    def expect(cond, what):
        checks.append({"check": what, "passed": bool(cond)})
        if not cond:
            raise AssertionError(what)

    # tensorpool -> framework.
    for dtype, tp_dtype in (("float32", "f32"), ("float64", "f64"),
                            ("int64", "i64")):
        buf = rt.arange(DEVICE, tp_dtype, (64, 33), start=0.0, step=1.0)
        data = lib.tp_buffer_data(buf)
        exported = tp.Exported(lib, buf)
        expect(exported.__dlpack_device__() == (tp.KDLCUDA, dev),
               f"{name} {dtype}: kDLCUDA on device {dev}")
        x = from_dlpack(exported)
        expect(address(x) == data, f"{name} {dtype}: no copy")
        expect(tuple(x.shape) == (64, 33), f"{name} {dtype}: shape")
        want = np.arange(64 * 33).astype(dtype).reshape(64, 33)
        expect(np.array_equal(to_numpy(x), want), f"{name} {dtype}: values")
        del x
        sync()
        gc.collect()
        expect(rt.live_blocks(DEVICE) == 0,
               f"{name} {dtype}: back in the pool once dropped")

    # framework -> tensorpool -> framework.
    for dtype in ("float32", "float64", "int32"):
        a = arange(1000, dtype).reshape(10, 100)
        refs = sys.getrefcount(a)
        try:
            capsule = a.__dlpack__(max_version=(1, 0))
        except TypeError:  # a framework without DLPack 1.x
            capsule = a.__dlpack__()
        view = tp.import_capsule(lib, rt.handle, capsule)
        del capsule
        expect(lib.tp_buffer_data(view) == address(a),
               f"{name} {dtype}: tensorpool views the same memory")
        doubled = ctypes.c_void_p()
        tp.check(lib, lib.tp_axpby(lib.tp_scalar_real(2.0), view,
                                   lib.tp_scalar_real(0.0), view, None,
                                   ctypes.byref(doubled)), "tp_axpby")
        back = from_dlpack(tp.Exported(lib, doubled.value))
        expect(np.array_equal(to_numpy(back), 2 * to_numpy(a)),
               f"{name} {dtype}: 2 x computed by tensorpool on the device")
        del back
        tp.check(lib, lib.tp_buffer_destroy(view), "tp_buffer_destroy")
        gc.collect()
        expect(sys.getrefcount(a) == refs,
               f"{name} {dtype}: the view released the tensor")
    sync()
    gc.collect()
    expect(rt.live_blocks(DEVICE) == 0, f"{name}: nothing left in the pool")
    results[name] = {"version": fw.__version__, "checks": checks}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("lib")
    p.add_argument("--out")
    args = p.parse_args()
    lib = tp.load(args.lib)
    rt = tp.Runtime(lib)
    if not lib.tp_runtime_has_backend(rt.handle, DEVICE):
        print("skip: no CUDA device for the runtime")
        rt.destroy()
        return 77
    results, failed = {}, 0
    for name in ("torch", "cupy"):
        try:
            __import__(name)
        except ImportError:
            print(f"skip {name}: not installed")
            results[name] = {"skipped": "not installed"}
            continue
        try:
            run_framework(name, lib, rt, results)
            print(f"ok   {name}")
        except Exception:
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
            results.setdefault(name, {})["error"] = traceback.format_exc()
    gc.collect()
    rt.destroy()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
        print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
