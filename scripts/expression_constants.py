#!/usr/bin/env python3
"""Prints the constants of src/tensor/expression_math.h, computed with
mpmath at 2000 bits, so that every digit there can be re-derived:
    python3 scripts/expression_constants.py
Each split names its rule: HI rounded to the given number of significant
bits (so that small integers times HI are exact), LO the rest rounded to
double."""
import mpmath

mpmath.mp.prec = 2000


def dbl(x):
    return float(mpmath.mpf(x))  # round to nearest double


def hi_bits(x, bits):
    """x rounded to `bits` significant bits (toward zero)."""
    m, e = mpmath.frexp(x)
    scaled = mpmath.floor(abs(m) * 2**bits)
    return float(mpmath.sign(x) * scaled * mpmath.mpf(2) ** (e - bits))


def show(name, value):
    print(f"#define {name} {value.hex()} /* {value!r} */")


def split(name, x, bits=53):
    h = hi_bits(x, bits) if bits < 53 else dbl(x)
    show(name + "_HI", h)
    show(name + "_LO", dbl(x - h))


ln2 = mpmath.log(2)
pi = mpmath.pi
print("/* natural log of 2 */")
split("TP_XM_LN2", ln2)
split("TP_XM_LN2_42", ln2, 42)
l1 = hi_bits(ln2, 42)
l2 = hi_bits(ln2 - l1, 42)
show("TP_XM_LN2_P1", l1)
show("TP_XM_LN2_P2", l2)
show("TP_XM_LN2_P3", dbl(ln2 - l1 - l2))
show("TP_XM_INV_LN2", dbl(1 / ln2))
split("TP_XM_INV_LN2", 1 / ln2)
split("TP_XM_INV_LN10", 1 / mpmath.log(10))
split("TP_XM_TWO_THIRDS", mpmath.mpf(2) / 3)
print("/* pi */")
split("TP_XM_PI", pi)
split("TP_XM_PIO2", pi / 2)
p1 = hi_bits(pi / 2, 33)
p2 = hi_bits(pi / 2 - p1, 33)
show("TP_XM_PIO2_P1", p1)
show("TP_XM_PIO2_P2", p2)
show("TP_XM_PIO2_P3", dbl(pi / 2 - p1 - p2))
show("TP_XM_TWO_OVER_PI", dbl(2 / pi))
print("/* atan(i/8), i = 0..8: hi, lo */")
for i in range(9):
    a = mpmath.atan(mpmath.mpf(i) / 8)
    h = dbl(a)
    print(f"  {h.hex()}, {dbl(a - h).hex()}, /* atan({i}/8) */")
print("/* 2/pi, 32 bits per word, most significant first */")
x = 2 / pi
words = []
for _ in range(48):
    x *= 2**32
    w = int(mpmath.floor(x))
    words.append(w)
    x -= w
for i in range(0, 48, 6):
    print("  " + ", ".join(f"0x{w:08X}u" for w in words[i:i + 6]) + ",")
print("/* 1/n!, n = 0..18 */")
for n in range(19):
    print(f"  {dbl(1 / mpmath.factorial(n)).hex()}, /* 1/{n}! */")
