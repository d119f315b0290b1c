#!/usr/bin/env python3
"""Checks that a shared library exports exactly the functions its public
headers declare: nothing internal leaks out (hidden visibility), nothing
declared is missing (a declaration without a definition, or one left out
of TP_BEGIN_DECLS).

Usage: check_exports.py --lib libtensorpool.so --cc cc [--header h]...
                        [-- compiler flags (-I..., -D...)]
The headers are run through the C preprocessor; the declared functions are
the tp_* names followed by '(' in the lines that come from tensorpool's own
headers (function-pointer typedefs read '(*name)' and do not match).
"""
import argparse
import re
import subprocess
import sys


def declared(cc, headers, flags):
    source = "".join(f'#include "{h}"\n' for h in headers)
    out = subprocess.run([cc, "-E", "-x", "c", "-", *flags], input=source,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"check_exports: the preprocessor failed:\n{out.stderr}")
    names, ours = set(), False
    for line in out.stdout.splitlines():
        marker = re.match(r'# \d+ "([^"]+)"', line)
        if marker:
            ours = "/tensorpool/" in marker.group(1)
            continue
        if ours:
            names.update(re.findall(r"\b(tp_\w+)\s*\((?!\s*\*)", line))
    return names


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib],
                         capture_output=True, text=True, check=True)
    names = set()
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TtWiV":
            names.add(parts[2])
    return names


def main():
    argv = sys.argv[1:]
    flags = []
    if "--" in argv:
        flags = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    p = argparse.ArgumentParser()
    p.add_argument("--lib", required=True)
    p.add_argument("--cc", default="cc")
    p.add_argument("--header", action="append", required=True)
    args = p.parse_args(argv)
    want = declared(args.cc, args.header, flags)
    have = exported(args.lib)
    if not want:
        sys.exit("check_exports: no declarations found (wrong flags?)")
    extra = sorted(have - want)
    missing = sorted(want - have)
    for name in extra:
        print(f"exported but not declared in a public header: {name}")
    for name in missing:
        print(f"declared in a public header but not exported: {name}")
    print(f"check_exports: {len(want)} declared, {len(have)} exported, "
          f"{len(extra)} extra, {len(missing)} missing")
    return 1 if extra or missing else 0


if __name__ == "__main__":
    sys.exit(main())
