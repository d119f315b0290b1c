#!/usr/bin/env python3
"""Turns CTest's JUnit file into the Markdown table of scripts/gpu_check.sh.

    gpu_check_tests.py JUNIT OUT_MD TITLE GPUS

One row per CTest test (result, seconds, why it skipped or failed), then,
for the Criterion programs under tests/device, one row per Criterion test
(their output has [PASS]/[FAIL]/[SKIP] lines when CRITERION_VERBOSITY_LEVEL=1).
A multi-rank NCCL test that skipped because the node has fewer GPUs than ranks
is reported as "not runnable" (NCCL needs one GPU per rank), not as a skip.
Prints one summary line; the exit status is 0 unless the file is unreadable.
"""
import re
import sys
import xml.etree.ElementTree as ET

NOTE_CHARS = 160


def short(text):
    text = " ".join(text.split())
    return text if len(text) <= NOTE_CHARS else text[: NOTE_CHARS - 3] + "..."


def cell(text):
    return short(text).replace("|", "\\|")


def first(lines, pattern):
    for line in lines:
        m = re.search(pattern, line)
        if m:
            return m.group(1) if m.groups() else line
    return ""


def criterion_tests(lines):
    """(name, PASS/FAIL/SKIP, reason) for each Criterion test in the output;
    a failure's reason is its first assertion message (or the crash)."""
    tests, since_run = [], []
    for line in lines:
        if line.startswith("[RUN ]"):
            since_run = []
            continue
        m = re.match(r"^\[(PASS|FAIL|SKIP)\] ([^:]+::[^:]+)(?:: (.*))?$", line)
        if not m:
            since_run.append(line)
            continue
        reason = ""
        if m.group(1) == "SKIP":
            reason = m.group(3) or ""
        elif m.group(1) == "FAIL":
            where = first(since_run, r"^\[----\] (\S+:\d+: .*)")
            message = ""
            for l in since_run:
                t = re.match(r"^\[----\]\s+(.*\S)\s*$", l)
                if t and not re.match(r"\S+:\d+: ", t.group(1)):
                    message = t.group(1)
                    break
            where = re.sub(r"^(\.\./)+", "", where).replace(": Assertion Failed", ":")
            reason = " ".join(x for x in (where, message) if x) or (m.group(3) or "")
        tests.append((m.group(2), m.group(1), reason))
    return tests


def main():
    junit, out_md, title, gpus = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    cases = ET.parse(junit).getroot().iter("testcase")
    rows, criterion_rows = [], []
    counts = {}
    for case in cases:
        name = case.get("name")
        seconds = float(case.get("time") or 0)
        out = case.findtext("system-out") or ""
        lines = out.splitlines()
        failure = case.find("failure")
        skipped = case.find("skipped") is not None or case.get("status") == "notrun"
        note = ""
        tests = criterion_tests(lines)
        failing = [t for t in tests if t[1] == "FAIL"]
        skipping = [t for t in tests if t[1] == "SKIP"]
        if failure is not None:
            result = "FAILED"
            if failing:
                note = f"{len(failing)} failing, first {failing[0][0]}: {failing[0][2]}"
            else:
                note = first(lines, r"(FAIL: .*)") or " / ".join(
                    l for l in lines[-3:] if l.strip()
                ) or (failure.get("message") or "")
        elif skipped:
            m = re.search(r"NCCL needs one GPU per rank: (\d+) rank\(s\) on this node, (\d+) GPU", out)
            if m and gpus >= 1 and int(m.group(1)) > int(m.group(2)):
                result = "not runnable"
                note = f"needs one GPU per rank: {m.group(1)} ranks, {m.group(2)} GPU(s) here"
            else:
                result = "skipped"
                note = first(lines, r"^skip: (.*)") or (
                    f"all {len(skipping)} skipped: {skipping[0][2]}" if skipping else ""
                )
        else:
            result = "passed"
        synthesis = first(lines, r"Synthesis: (Tested: .*)")
        if synthesis and not note:
            note = synthesis.strip()
        counts[result] = counts.get(result, 0) + 1
        rows.append((name, result, seconds, note))
        if name.startswith("device."):
            criterion_rows.extend(tests)

    summary = ", ".join(f"{n} {r}" for r, n in sorted(counts.items()))
    with open(out_md, "w") as f:
        f.write(f"# {title}\n\n{summary}\n\n")
        f.write("| test | result | seconds | note |\n|---|---|---:|---|\n")
        for name, result, seconds, note in rows:
            f.write(f"| {name} | {result} | {seconds:.2f} | {cell(note)} |\n")
        if criterion_rows:
            c = {}
            for _, r, _ in criterion_rows:
                c[r] = c.get(r, 0) + 1
            f.write("\n## Each Criterion test of the device programs\n\n")
            f.write(", ".join(f"{n} {r}" for r, n in sorted(c.items())) + "\n\n")
            f.write("| test | result | reason |\n|---|---|---|\n")
            for name, r, reason in criterion_rows:
                f.write(f"| {name} | {r} | {cell(reason)} |\n")
    print(f"{title}: {summary}")


if __name__ == "__main__":
    main()
