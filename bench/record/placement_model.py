#!/usr/bin/env python3
"""Address-space models of block placement on an event log (docs/bench.md,
"Recording traces from real programs"): how much one growable range must
hold for a log's blocks under a few placement rules, as a multiple of the
log's peak requested bytes (the replay's "addr." figure).

    bench/record/placement_model.py LOG.csv...

For each log it prints, with 256-byte granules and free neighbours merged
at once:
- one range for all sizes and two ranges (requests up to 1 MiB apart from
  larger ones, as the pool's small and large kinds), each placed by best
  fit (lowest address among equals) or by size classes (4 per power of two,
  the request rounded up to its class, the newest block of the class below
  tried first, else the newest of the lowest class that holds it);
- each with the range's free tail taken like any free block ("tail any")
  or only when no other free block fits ("tail last", as replay_bound.c's
  arena, whose top is used last).
"Best fit, one range, tail last" is the replay's one-arena bound.

A model, not the engine: one thread, no streams, no kept block, no page
give-back. It shows which rule moves the figure, not the engine's own
value."""
import bisect
import sys

GRANULE = 256
SMALL_MAX = 1 << 20
DIVISIONS = 4  # the pool's default


def class_of(units):
    """Smallest class whose size holds `units` (size_class.h)."""
    if units <= DIVISIONS:
        return units - 1
    v = units - 1
    shift = v.bit_length() - 1 - (DIVISIONS.bit_length() - 1)
    return DIVISIONS * (shift + 1) + ((v >> shift) - DIVISIONS)


def class_units(cls):
    if cls < DIVISIONS:
        return cls + 1
    group, within = divmod(cls - DIVISIONS, DIVISIONS)
    return (DIVISIONS + within + 1) << group


def filed_class(units):
    """Largest class whose size a free block of `units` holds."""
    cls = class_of(units)
    return cls if class_units(cls) == units else cls - 1


class Range:
    """One growable range of 256-byte units: blocks tile [0, top)."""

    def __init__(self, rule, tail_last):
        self.rule, self.tail_last = rule, tail_last
        self.starts = []  # block addresses, sorted
        self.blocks = {}  # address -> [units, free, when freed]
        self.top = self.high_water = 0

    def _tail(self):
        return self.starts[-1] if self.starts else None

    def _fits(self, units):
        tail = self._tail()
        free = [(at, b[0], b[2]) for at, b in self.blocks.items()
                if b[1] and b[0] >= units
                and not (self.tail_last and at == tail)]
        if free and self.rule == "best":
            return min(free, key=lambda f: (f[1], f[0]))[0]
        if free:
            want = class_of(units)
            below = [f for f in self.blocks.items()
                     if f[1][1] and filed_class(f[1][0]) == want - 1
                     and not (self.tail_last and f[0] == tail)]
            if below and class_units(want) != units:
                at, b = max(below, key=lambda f: f[1][2])
                if b[0] >= units:
                    return at
            held = [f for f in free if filed_class(f[1]) >= want]
            if held:
                lowest = min(filed_class(f[1]) for f in held)
                same = [f for f in held if filed_class(f[1]) == lowest]
                return max(same, key=lambda f: f[2])[0]
        if self.tail_last and tail is not None:
            b = self.blocks[tail]
            if b[1] and b[0] >= units:
                return tail
        return None

    def alloc(self, units, when):
        at = self._fits(units)
        if at is None:  # grow: extend a free tail, or add a block at the top
            tail = self._tail()
            if tail is not None and self.blocks[tail][1]:
                at = tail
            else:
                at = self.top
                bisect.insort(self.starts, at)
            self.blocks[at] = [units, True, 0]
            self.top = at + units
            self.high_water = max(self.high_water, self.top)
        have = self.blocks[at][0]
        self.blocks[at] = [units, False, 0]
        if have > units:  # split at the front: the rest stays free
            bisect.insort(self.starts, at + units)
            self.blocks[at + units] = [have - units, True, when]
        return at

    def free(self, at, when):
        block = self.blocks[at]
        block[1], block[2] = True, when
        i = bisect.bisect_left(self.starts, at)
        if i + 1 < len(self.starts) and self.blocks[self.starts[i + 1]][1]:
            block[0] += self.blocks.pop(self.starts.pop(i + 1))[0]
        if i > 0 and self.blocks[self.starts[i - 1]][1]:
            self.blocks[self.starts[i - 1]][0] += block[0]
            del self.blocks[at]
            self.starts.pop(i)


def read(path):
    """(op, pointer, size) in file order (the recorder writes time order)."""
    events = []
    with open(path) as f:
        for line in f:
            op, _, _, _, ptr, size = line.split(",")[:6]
            if op in ("alloc", "free"):
                events.append((op, ptr, int(size)))
    return events


def high_water(events, rule, tail_last, split):
    ranges, live = {}, {}
    requested = peak = 0
    for when, (op, ptr, size) in enumerate(events):
        if op == "alloc" and size > 0:
            kind = split and size > SMALL_MAX
            r = ranges.setdefault(kind, Range(rule, tail_last))
            live[ptr] = (r, r.alloc(-(-size // GRANULE), when), size)
            requested += size
            peak = max(peak, requested)
        elif op == "free" and ptr in live:
            r, at, size = live.pop(ptr)
            r.free(at, when)
            requested -= size
    total = sum(r.high_water for r in ranges.values()) * GRANULE
    return total / peak if peak else float("nan")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("log | ranges | rule | tail any | tail last")
    for path in sys.argv[1:]:
        events = read(path)
        for split in (False, True):
            for rule in ("best", "classes"):
                figures = [high_water(events, rule, last, split)
                           for last in (False, True)]
                print(f"{path} | {'two' if split else 'one'} | {rule} | "
                      f"{figures[0]:.3f} | {figures[1]:.3f}")


if __name__ == "__main__":
    main()
