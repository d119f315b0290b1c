#!/usr/bin/env python3
"""Checks that docs/api.md keeps up with the public headers: every function
a header in include/tensorpool/ declares has exactly one row, in the table
of its own header, with every column filled; and no row names a function
that no header declares (one removed or renamed since).

Usage: check_api_doc.py [--include DIR] [--doc FILE] [--self-test]

The declared functions are the tp_* names followed by '(' in the headers
with comments and preprocessor lines removed (so every header counts,
tensorpool/mpi.h included, whatever the build has; function-pointer
typedefs read '(*name)' and do not match). scripts/check_exports.py checks
the same names against the shared library.

A table belongs to the header named in the heading above it
("## tensorpool/pool.h"). A row is a Markdown table line whose first cell
is one function name in backticks; its cells are: name | stream |
collective | may block the host | thread safety | notes.

--self-test damages the real inputs in each way the check must catch (a row
dropped, a function added, a stale row, an empty cell, a row under the
wrong header, a row twice) and fails unless every damage is reported.
"""
import argparse
import os
import re
import sys

COLUMNS = 6
HEADING = re.compile(r"^#{1,6}\s.*?tensorpool/(\w+\.h)")
ROW_NAME = re.compile(r"^`(tp_\w+)`$")


def strip_c(text):
    """The header without comments and preprocessor lines."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    lines, skipping = [], False
    for line in text.splitlines():
        if skipping or line.lstrip().startswith("#"):
            skipping = line.rstrip().endswith("\\")
            continue
        lines.append(line)
    return "\n".join(lines)


def declared(include_dir):
    """{function name: header file name} for every public header."""
    names = {}
    for entry in sorted(os.listdir(include_dir)):
        if not entry.endswith(".h"):
            continue
        with open(os.path.join(include_dir, entry), encoding="utf-8") as f:
            code = strip_c(f.read())
        for name in re.findall(r"\b(tp_\w+)\s*\((?!\s*\*)", code):
            names.setdefault(name, entry)
    return names


def rows(doc_lines):
    """[(line number, header or None, name, cells)] of the function rows."""
    found, header = [], None
    for number, line in enumerate(doc_lines, 1):
        heading = HEADING.match(line)
        if heading:
            header = heading.group(1)
            continue
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = ROW_NAME.match(cells[0]) if cells else None
        if match:
            found.append((number, header, match.group(1), cells))
    return found


def problems(names, doc_lines):
    """What is wrong, one sentence each (empty: the doc is complete)."""
    out, seen = [], {}
    for number, header, name, cells in rows(doc_lines):
        where = f"docs/api.md:{number}"
        if name not in names:
            out.append(f"{where}: `{name}` is declared by no public header "
                       f"(removed or renamed?)")
            continue
        if name in seen:
            out.append(f"{where}: `{name}` has a second row (first at line "
                       f"{seen[name]})")
            continue
        seen[name] = number
        if header != names[name]:
            out.append(f"{where}: `{name}` is declared in tensorpool/"
                       f"{names[name]} but its row is under "
                       f"{'tensorpool/' + header if header else 'no header'}")
        if len(cells) != COLUMNS:
            out.append(f"{where}: `{name}` has {len(cells)} cells, not "
                       f"{COLUMNS} (name | stream | collective | may block "
                       f"the host | thread safety | notes)")
        elif any(not c for c in cells):
            out.append(f"{where}: `{name}` leaves a cell empty")
    for name in sorted(set(names) - set(seen)):
        out.append(f"tensorpool/{names[name]} declares `{name}`, which has "
                   f"no row in docs/api.md")
    return out


def self_test(names, doc_lines):
    """0 when every kind of damage is reported, 1 otherwise."""
    table = rows(doc_lines)
    if len(table) < 2:
        print("check_api_doc --self-test: the doc has fewer than two rows")
        return 1
    first_line, first_header, first_name, _ = table[0]
    other = next((r for r in table if r[1] != first_header), None)
    if other is None:
        print("check_api_doc --self-test: the doc has one header section")
        return 1

    def without(line_number):
        return [l for i, l in enumerate(doc_lines, 1) if i != line_number]

    def replaced(line_number, text):
        return [text if i == line_number else l
                for i, l in enumerate(doc_lines, 1)]

    def inserted_after(line_number, text):
        out = []
        for i, l in enumerate(doc_lines, 1):
            out.append(l)
            if i == line_number:
                out.append(text)
        return out

    row = doc_lines[first_line - 1]
    # The first row moved (not copied) next to a row of another header.
    moved = list(doc_lines)
    moved.insert(other[0], row)
    del moved[first_line - 1 if first_line < other[0] else first_line]
    cases = [
        ("a dropped row", names, without(first_line), first_name),
        ("a new function", {**names, "tp_not_yet_documented": "pool.h"},
         doc_lines, "tp_not_yet_documented"),
        ("a stale row", names,
         inserted_after(first_line, "| `tp_long_gone` | a | b | c | d | e |"),
         "tp_long_gone"),
        ("an empty cell", names,
         replaced(first_line, f"| `{first_name}` |  | b | c | d | e |"),
         "leaves a cell empty"),
        ("a missing cell", names,
         replaced(first_line, f"| `{first_name}` | a | b | c | d |"),
         "has 5 cells"),
        ("a row twice", names, inserted_after(first_line, row),
         "second row"),
        ("a row in the wrong section", names, moved,
         f"its row is under tensorpool/{other[1]}"),
    ]
    baseline = set(problems(names, doc_lines))
    failed = 0
    for what, damaged_names, damaged_doc, expected in cases:
        new = [p for p in problems(damaged_names, damaged_doc)
               if p not in baseline]
        if not any(expected in p for p in new):
            print(f"check_api_doc --self-test: {what} went unreported "
                  f"(expected '{expected}'; got {new})")
            failed = 1
    print(f"check_api_doc --self-test: {len(cases)} kinds of damage, "
          f"{'some missed' if failed else 'all reported'}")
    return failed


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser()
    p.add_argument("--include",
                   default=os.path.join(root, "include", "tensorpool"))
    p.add_argument("--doc", default=os.path.join(root, "docs", "api.md"))
    p.add_argument("--self-test", action="store_true")
    args = p.parse_args()
    names = declared(args.include)
    if not names:
        sys.exit(f"check_api_doc: no declarations in {args.include}")
    with open(args.doc, encoding="utf-8") as f:
        doc_lines = f.read().splitlines()
    if args.self_test:
        return self_test(names, doc_lines)
    found = problems(names, doc_lines)
    for line in found:
        print(line)
    print(f"check_api_doc: {len(names)} declared functions, "
          f"{len(rows(doc_lines))} rows, {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
