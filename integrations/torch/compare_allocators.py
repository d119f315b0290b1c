#!/usr/bin/env python3
"""PyTorch's caching allocator against tensorpool's (libtensorpool_torch.so)
on real training steps: step time, peak reserved and peak allocated memory,
number of device allocations. For a machine with a GPU and PyTorch.

  python3 integrations/torch/compare_allocators.py \\
      --lib build/integrations/torch/libtensorpool_torch.so \\
      --steps 300 --out bench/results/<date>-torch-allocator

Each allocator runs in its own process (PyTorch takes a pluggable allocator
only before its first CUDA allocation). The model is torchvision's ResNet-50
when torchvision is installed, else a ResNet-style network built here; the
batch size varies from step to step (a fixed pseudo-random sequence, the
same for both allocators), so the allocator sees many different sizes.
Writes <out>.jsonl (one JSON object per allocator) and <out>.md (a table).
TP_TORCH_ALLOC_CONF configures tensorpool's pools (see torch_conf.h).

Figures, per allocator:
  step time      median / mean / p90 over the steps after --warmup, each
                 step timed between torch.cuda.synchronize() calls
  peak reserved  PyTorch: torch.cuda.max_memory_reserved();
                 tensorpool: the pool's reserved_bytes_peak
  peak allocated PyTorch: torch.cuda.max_memory_allocated() (block sizes);
                 tensorpool: live_bytes_peak (its class sizes) and
                 requested_bytes_peak (the bytes asked for)
  device allocations  PyTorch: memory_stats()["num_device_alloc"]
                 (cudaMalloc calls); tensorpool: upstream_gets
"""
import argparse
import ctypes
import json
import os
import random
import statistics
import subprocess
import sys
import time

BATCHES = (8, 16, 24, 32, 48, 64)


def pool_stats_type():
    fields = [("struct_size", ctypes.c_size_t)]
    fields += [(n, ctypes.c_uint64) for n in (
        "allocations", "deallocations", "bytes_allocated", "bytes_freed",
        "hits", "misses")]
    fields += [("hit_rate", ctypes.c_double)]
    fields += [(n, ctypes.c_uint64) for n in (
        "live_blocks", "live_bytes", "live_bytes_peak", "requested_bytes",
        "requested_bytes_peak", "cached_blocks", "cached_bytes",
        "reserved_bytes", "reserved_bytes_peak", "upstream_gets",
        "upstream_puts", "cross_stream_takes", "releases", "failures",
        "streams_forgotten")]
    return type("PoolStats", (ctypes.Structure,), {"_fields_": fields})


def build_model(torch, name):
    if name == "resnet50":
        try:
            import torchvision
            return torchvision.models.resnet50(weights=None), "resnet50"
        except ImportError:
            pass
    nn = torch.nn

    class Bottleneck(nn.Module):
        def __init__(self, cin, mid, stride):
            super().__init__()
            cout = mid * 4
            self.body = nn.Sequential(
                nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid),
                nn.ReLU(inplace=True),
                nn.Conv2d(mid, mid, 3, stride, 1, bias=False),
                nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.skip = (nn.Identity() if cin == cout and stride == 1 else
                         nn.Sequential(nn.Conv2d(cin, cout, 1, stride,
                                                 bias=False),
                                       nn.BatchNorm2d(cout)))

        def forward(self, x):
            return torch.relu(self.body(x) + self.skip(x))

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
              nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for mid, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2),
                                (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(cin, mid, stride if i == 0 else 1))
            cin = mid * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1000)]
    return nn.Sequential(*layers), "resnet50-like (built in-script)"


def run_one(args):
    """One allocator, in this process."""
    import torch
    lib = None
    if args.run == "tensorpool":
        alloc = torch.cuda.memory.CUDAPluggableAllocator(
            args.lib, "tp_torch_alloc", "tp_torch_free")
        torch.cuda.memory.change_current_allocator(alloc)
        lib = ctypes.CDLL(args.lib)  # the same loaded library: its figures
    torch.manual_seed(0)
    device = torch.device("cuda", 0)
    model, model_name = build_model(torch, args.model)
    model = model.to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    order = random.Random(args.seed)
    batches = [order.choice(BATCHES) for _ in range(args.steps)]
    times = []
    for step, batch in enumerate(batches):
        x = torch.randn(batch, 3, args.image, args.image, device=device)
        y = torch.randint(0, 1000, (batch,), device=device)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)
    result = {
        "allocator": args.run, "model": model_name, "steps": args.steps,
        "warmup": args.warmup, "image": args.image,
        "batches": sorted(set(batches)), "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0),
        "step_ms_median": 1e3 * statistics.median(times),
        "step_ms_mean": 1e3 * statistics.fmean(times),
        "step_ms_p90": 1e3 * sorted(times)[int(0.9 * (len(times) - 1))],
        "final_loss": float(loss.item()),
    }
    if lib is None:
        stats = torch.cuda.memory_stats()
        result.update({
            "peak_reserved_bytes": torch.cuda.max_memory_reserved(),
            "peak_allocated_bytes": torch.cuda.max_memory_allocated(),
            "device_allocations": stats.get("num_device_alloc"),
            "device_frees": stats.get("num_device_free"),
        })
    else:
        PoolStats = pool_stats_type()
        s = PoolStats()
        s.struct_size = ctypes.sizeof(PoolStats)
        lib.tp_torch_pool_stats.argtypes = [ctypes.c_int,
                                            ctypes.POINTER(PoolStats)]
        status = lib.tp_torch_pool_stats(0, ctypes.byref(s))
        if status != 0:
            raise RuntimeError(f"tp_torch_pool_stats: status {status}")
        result.update({
            "peak_reserved_bytes": s.reserved_bytes_peak,
            "peak_allocated_bytes": s.live_bytes_peak,
            "peak_requested_bytes": s.requested_bytes_peak,
            "device_allocations": s.upstream_gets,
            "device_frees": s.upstream_puts,
            "pool_hit_rate": s.hit_rate,
            "conf": os.environ.get("TP_TORCH_ALLOC_CONF", ""),
        })
    print(json.dumps(result))


def table(results):
    gib = 1 << 30
    lines = ["| allocator | step ms (median / mean / p90) | peak reserved "
             "GiB | peak allocated GiB | device allocations |",
             "|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['allocator']} | {r['step_ms_median']:.2f} / "
            f"{r['step_ms_mean']:.2f} / {r['step_ms_p90']:.2f} | "
            f"{r['peak_reserved_bytes'] / gib:.2f} | "
            f"{r['peak_allocated_bytes'] / gib:.2f} | "
            f"{r['device_allocations']} |")
    first = results[0]
    return (f"# PyTorch allocators: {first['model']}, {first['steps']} steps "
            f"(first {first['warmup']} untimed), batch sizes "
            f"{first['batches']}, {first['image']}px, {first['gpu']}, "
            f"torch {first['torch']}\n\n" + "\n".join(lines) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lib", required=True, help="libtensorpool_torch.so")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--image", type=int, default=224)
    p.add_argument("--model", default="resnet50")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="torch-allocator")
    p.add_argument("--run", choices=("torch", "tensorpool"),
                   help="(internal) run one allocator in this process")
    args = p.parse_args()
    args.lib = os.path.abspath(args.lib)
    if args.run:
        run_one(args)
        return 0
    results = []
    for allocator in ("torch", "tensorpool"):
        cmd = [sys.executable, __file__, "--run", allocator, "--lib",
               args.lib, "--steps", str(args.steps), "--warmup",
               str(args.warmup), "--image", str(args.image), "--model",
               args.model, "--seed", str(args.seed)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        sys.stderr.write(out.stderr)
        if out.returncode != 0:
            print(f"{allocator}: failed (exit {out.returncode})")
            return 1
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"{allocator}: {results[-1]['step_ms_median']:.2f} ms/step")
    with open(args.out + ".jsonl", "w") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    with open(args.out + ".md", "w") as f:
        f.write(table(results))
    print(f"wrote {args.out}.jsonl and {args.out}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
