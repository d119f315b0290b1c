#!/usr/bin/env python3
"""The like-with-like table of bench_convert_mpi: for every conversion case,
tensorpool's min and median time per conversion against the fastest bare way
doing the same data movement (the `best_bare` field of its line), as ratios
(tensorpool / bare: 1.00 is parity, above 1 tensorpool is slower), and the
phases of --phases runs. Usage: bench/convert_table.py FILE.jsonl...

Several files holding the same case (repeated runs on a shared machine) give
one row per case with the run count, the median over the runs of each
ratio, and the range of the median ratio; the table of single runs and the
phases are not printed then."""
import json
import sys


def size(b):
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if b >= 1 << shift:
            return "%g %s" % (round(b / (1 << shift), 2), unit)
    return "%d B" % b


def us(ns):
    return "%.1f" % (ns / 1e3) if ns < 1e7 else "%.0f" % (ns / 1e3)


rows, phases = [], {}
for path in sys.argv[1:]:
    lines = [json.loads(l) for l in open(path) if l.strip()]
    by = {(d["case"], d["bytes"], d["impl"]): d for d in lines}
    for d in lines:
        if d["case"].startswith("dist_to_repl_phases"):
            phases.setdefault((d["ranks"], d["bytes"]), {})[d["impl"]] = d
        elif d["impl"] == "tensorpool" and "best_bare" in d:
            bare = by[(d["case"], d["bytes"], d["best_bare"])]
            rows.append((d["case"].rsplit("_np", 1)[0], d["ranks"], d["bytes"],
                         d, bare))

def middle(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


runs = {}
for case, ranks, b, d, bare in rows:
    runs.setdefault((case, ranks, b), []).append((d, bare))
if any(len(r) > 1 for r in runs.values()):
    print("| conversion | ranks | bytes | runs | tensorpool / fastest bare "
          "median (us, median of runs) | ratio median (median of runs) "
          "| ratio median (range) | ratio min (median of runs) "
          "| fastest bare way (runs) |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---|")
    for (case, ranks, b), r in sorted(runs.items()):
        med = [d["ratio_median"] for d, _ in r]
        mins = [d["ratio_min"] for d, _ in r]
        ways = {}
        for _, bare in r:
            ways[bare["impl"]] = ways.get(bare["impl"], 0) + 1
        print("| %s | %d | %s | %d | %s / %s | %.2f | %.2f-%.2f | %.2f | %s |" % (
            case, ranks, size(b), len(r),
            us(middle([d["median_ns"] for d, _ in r])),
            us(middle([bare["median_ns"] for _, bare in r])),
            middle(med), min(med), max(med),
            middle(mins), ", ".join("%s (%d)" % w for w in sorted(
                ways.items(), key=lambda w: -w[1]))))
    sys.exit(0)

print("| conversion | ranks | bytes | tensorpool min / median (us) "
      "| fastest bare way | bare min / median (us) | ratio min | ratio median |")
print("|---|---:|---:|---:|---|---:|---:|---:|")
for case, ranks, b, d, bare in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
    print("| %s | %d | %s | %s / %s | %s | %s / %s | %.2f | %.2f |" % (
        case, ranks, size(b), us(d["min_ns"]), us(d["median_ns"]),
        bare["impl"], us(bare["min_ns"]), us(bare["median_ns"]),
        d["ratio_min"], d["ratio_median"]))

if phases:
    names = ["phase:agree_allreduce", "phase:alloc_free", "phase:copy_own_tile",
             "phase:copy_own_tile_tp", "phase:allgatherv_in_place"]
    print()
    print("| ranks | bytes | " + " | ".join(n.split(":")[1] for n in names)
          + " (us, min / median) |")
    print("|---:|---:|" + "---:|" * len(names))
    for (ranks, b), p in sorted(phases.items()):
        print("| %d | %s | " % (ranks, size(b)) + " | ".join(
            "%s / %s" % (us(p[n]["min_ns"]), us(p[n]["median_ns"]))
            if n in p else "-" for n in names) + " |")
