#!/usr/bin/env python3
"""Writes the hand-made seeds of tests/fuzz/corpus/ for fuzz_pool,
fuzz_layout (short programs in each target's input language, one per
scenario the fuzzer should start from) and fuzz_expression (an ndim byte,
a dtype byte, then the text). The event-log seeds are CSV files (trimmed
traces of bench/traces/ and a few hand-written lines).

Re-run after changing a target's input encoding:
    python3 tests/fuzz/make_seeds.py
Inputs that once found a bug are kept as they were (crash-*, regress-*)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- fuzz_pool: see fuzz_pool.c (setup, ops_table, draw_size) ----
HOST, SIM, FAIL, VM = 0, 1, 2, 3
ALLOC, FREE, BAD_FREE, TRIM, SET_LIMIT, FORGET = 0, 6, 11, 12, 13, 14
COMPLETE, INJECT, QUERY, STATS, RAW, CREATE = 16, 18, 20, 21, 22, 24
ATTR = 25
GET, PUT, EV_CREATE, EV_DESTROY, RECORD, WAIT, QUERY_EV, SYNC = range(8)
# tp_page_release
DEFAULT, NEVER, ON_PRESSURE, AGED = range(4)


def header(mode, divisions=2, log=False, max_pool=0, buffers=0, limit=0,
           oversize=0, page_release=DEFAULT, delay=0, commit=False):
    """divisions: index (1 << i); max_pool: config_size index; buffers:
    index into {unlimited, 0, 1, 2, 8}; limit: 0 none, 1..3 x 8 MiB;
    oversize: oversize_threshold index (0 none); delay: index into
    {1024, 0, 1, 16}; commit: VM pages of 64 KiB committed before use."""
    return bytes([mode | (0x80 if commit else 0),
                  divisions | (0x80 if log else 0),
                  max_pool | oversize << 3, buffers,
                  limit | page_release << 2 | delay << 4])


def small(n):  # a request of n bytes, 1 <= n <= 4096
    return bytes([0]) + struct.pack("<H", n - 1)


def sized(n):  # a request of n bytes, 1 <= n <= 16 MiB
    if n <= 4096:
        return small(n)
    return bytes([150 if n <= 256 << 10 else 210]) + struct.pack("<I", n - 1)


def alloc(n, stream=0):
    return bytes([ALLOC]) + sized(n) + bytes([stream])


def free(pick=0, stream=0):
    return bytes([FREE, pick, stream])


def pool_seeds():
    s = {}
    s["host_mixed"] = header(HOST) + b"".join(
        alloc(n, st) for n, st in [(100, 0), (256, 1), (257, 2), (4000, 3)]
    ) + free(1, 1) + free(0, 0) + alloc(200, 5) + bytes(
        [BAD_FREE, 0, 0, 0, 0, 0,  # double free
         BAD_FREE, 1, 0, 9, 0, 0,  # interior
         BAD_FREE, 2, 0, 3, 0, 0,  # foreign
         TRIM, 0, STATS, 0, STATS, 2, QUERY, 0, 0] ) + small(10) + small(
        20) + bytes([RAW, 0, 3]) + small(300) + bytes([0, 0, 7]) + bytes(
        [RAW, 1, 0, 0, 0, 1, 0, 3, 7]) + free(0, 2)
    s["sim_cross_stream"] = header(SIM) + alloc(1000, 1) + free(0, 1) + \
        alloc(1000, 2) + free(0, 2) + bytes([COMPLETE, 1, 255]) + \
        alloc(1000, 3) + bytes([FORGET, 1, FORGET, 2]) + alloc(1000, 1)
    many = b"".join(alloc(300, st) + free(0, st) for st in range(1, 72))
    s["sim_many_streams"] = header(SIM) + many + alloc(300, 70) + \
        bytes([TRIM, 0])
    s["fail_injection"] = header(FAIL) + bytes([INJECT, GET, 0, 0]) + \
        alloc(500, 1) + alloc(500, 1) + free(0, 1) + bytes(
        [INJECT, WAIT, 0, 0]) + alloc(500, 2) + bytes(
        [INJECT, PUT, 3, 0, TRIM, 0, INJECT, SYNC, 0, 0, FORGET, 1]) + \
        b"".join(alloc(300, st) + free(0, st) for st in range(3, 70)) + bytes(
        [INJECT, SYNC, 0, 0, INJECT, PUT, 0, 0]) + alloc(300, 80) + free(
        0, 81) + bytes([INJECT, EV_CREATE, 0, 1]) + alloc(300, 82)
    s["limits"] = header(HOST, limit=1, max_pool=2, buffers=2) + bytes(
        [ALLOC, 236, 0, ALLOC, 235, 0]) + alloc(4000) + bytes(
        [SET_LIMIT, 0, SET_LIMIT, 1, SET_LIMIT, 2, SET_LIMIT, 6]) + bytes(
        [ALLOC, 231, 0, ALLOC, 230, 0, ALLOC, 233, 0]) + free()
    s["create_and_log"] = header(HOST, log=True) + bytes(
        [CREATE, 7, 12]) + b'a,b"c\nd,' + bytes([CREATE, 0, 0, CREATE, 1, 0,
                                                 0, CREATE, 6, 0, 1]) + \
        alloc(77) + free()
    # Segments grown in place and shrunk, pages given back by trim and by
    # age and committed again, blocks of two streams side by side.
    s["vm_grow_and_give_back"] = header(VM, commit=True) + alloc(
        100 << 10, 1) + alloc(300 << 10, 2) + alloc(2 << 20, 1) + alloc(
        5000, 2) + free(0, 1) + free(0, 2) + bytes([TRIM, 0]) + alloc(
        200 << 10, 3) + bytes([COMPLETE, 0, 255, TRIM, 0]) + alloc(
        64 << 10, 1) + free(1, 3) + bytes([SET_LIMIT, 8, SET_LIMIT, 9]) + \
        alloc(3 << 20, 2) + bytes([FORGET, 1, FORGET, 2, TRIM, 0])
    s["vm_host_pages_aged"] = header(VM, page_release=AGED, delay=2) + \
        b"".join(alloc(n << 10, st) + free(0, st) for n, st in
                 [(80, 1), (300, 1), (1200, 2), (90, 2), (2048, 1)]) + \
        alloc(100 << 10, 1) + alloc(100 << 10, 1) + free(0, 1) + b"".join(
        alloc(256) + free() for _ in range(20)) + alloc(700 << 10, 2)
    # Oversize blocks (threshold 4096): reused only within 1/8 of their size.
    s["sim_oversize"] = header(SIM, oversize=2) + alloc(8000, 1) + free(
        0, 1) + alloc(7500, 1) + alloc(5000, 2) + free(0, 2) + free(0, 1) + \
        alloc(8192, 3) + alloc(1000, 3) + bytes([TRIM, 0])
    # Every attribute set and read back; limits between live and reserved.
    s["host_attributes"] = header(HOST, max_pool=3) + alloc(3000) + alloc(
        100 << 10) + free(0) + bytes(
        [ATTR, 0, 2, ATTR, 1, 1, ATTR, 2, 0, 8, ATTR, 2, 0, 9, ATTR, 3, 2,
         ATTR, 3, 4, ATTR, 4, 1, ATTR, 5, 2, ATTR, 6, 0, ATTR, 7, 0, ATTR, 7,
         3, ATTR, 8, 0, ATTR, 8, 1, ATTR, 9, 0]) + alloc(5000) + free(0)
    return s


# ---- fuzz_layout: see fuzz_layout.c (draw_extent, draw_double) ----
F32, F64, C64, C128, I32, I64 = range(6)
ARANGE, AFFINE, IDENTITY, UNIFORM, NORMAL = range(5)


def ext_small(n):  # 0..7
    return bytes([n])


def ext_u16(n):
    return bytes([9]) + struct.pack("<H", n)


def ext_pow2(k):
    return bytes([15, k])


INT64_MAX_EXT = bytes([11])
NEG = bytes([13, 0])


def layout(dtype, extents):
    """ndim = len(extents); the input always carries 10 extents."""
    body = b"".join(extents) + b"".join([ext_small(1)] * (10 - len(extents)))
    return bytes([dtype, len(extents) + 2]) + body


def parts_block(n):  # draw_parts case 3: 1 + n
    return bytes([3, n - 1])


def uneven_exact():  # one part holding every row
    return bytes([0, 1])


def d(index):  # a double from draw_double's table
    return bytes([index])


def layout_seeds():
    s = {}
    s["f64_matrix_arange"] = layout(F64, [ext_small(5), ext_small(3)]) + \
        parts_block(2) + uneven_exact() + bytes([ARANGE]) + d(2) + d(4) + \
        bytes([1])
    s["i64_far_rows_affine"] = layout(I64, [ext_pow2(40), ext_small(3)]) + \
        parts_block(7) + uneven_exact() + bytes([AFFINE]) + b"".join(
        d(i) for i in (2, 3, 6, 7, 0, 0, 0, 0)) + d(5) + bytes([1, 1])
    s["f32_uniform_edges"] = layout(F32, [ext_u16(1000)]) + \
        parts_block(33) + uneven_exact() + bytes([UNIFORM]) + d(21) + \
        d(20) + bytes(8) + bytes([2])
    s["c128_normal_8d"] = layout(C128, [ext_small(2)] * 8) + \
        parts_block(3) + uneven_exact() + bytes([NORMAL]) + d(8) + d(8) + \
        bytes(8) + bytes([0])
    s["i32_identity_0d"] = layout(I32, []) + parts_block(4) + \
        uneven_exact() + bytes([IDENTITY]) + d(6)
    s["overflow_and_empty"] = layout(F32, [INT64_MAX_EXT, ext_small(2)])
    s["empty_huge_inner"] = layout(C64, [ext_small(0), ext_pow2(40),
                                         ext_pow2(40)]) + parts_block(5)
    s["negative_extent"] = layout(I64, [ext_small(3), NEG])
    return s


# ---- fuzz_expression: ndim = byte % 11 - 1, dtype = byte % 11, text ----
def expression_seeds():
    texts = {
        "docs_examples": (3, 1, "sin(0.1*i0) + i1"),
        "conditional": (3, 4, "i0 == i1 ? 1 : 0"),
        "pow_mod": (2, 5, "pow(2, i0) % 7"),
        "every_function": (4, 1, "abs(-i0)+min(i0,i1)+max(1,2.5)+floor(0.5)"
                           "+ceil(i0)+trunc(-1.5)+round(2.5)+sqrt(i1)"
                           "+fma(i0,2,1)+fmod(i1,3)+exp(1)+exp2(i0)"
                           "+expm1(1e-9)+log(2)+log2(8)+log10(100)"
                           "+pow(2.0,i0)+sin(pi)+cos(i0)+tan(1)+asin(0.5)"
                           "+acos(0.5)+atan(1)+atan2(i0,1)+sinh(1)+cosh(1)"
                           "+tanh(i2)"),
        "integer_edges": (2, 5, "9223372036854775807 + 1 - "
                          "(-9223372036854775807 - 1) / -1 % -1 + i0 / 0 "
                          "+ i0 % 0"),
        "reals_edges": (2, 0, "1e308 * 10 + .5e-3 + 1.e5 - 4.9e-324 / 0.0 "
                        "+ 0.0 / 0.0"),
        "logic": (3, 10, "!(i0 < i1) && i1 <= 2 || i0 >= 3 && i0 != i1 "
                  "|| !!1"),
        "nested_conditionals": (2, 7, "i0 ? i1 ? 1 : 2.5 : i0 > 1 ? -i1 "
                                ": +3"),
        "attack_include": (2, 1, '#include "/etc/passwd"'),
        "attack_digraph": (2, 1, "<% tp_dst[-4096] = 1; %>"),
        "attack_names": (2, 1, "tp_count + blockIdx.x + sizeof(int) + i01"),
        "deep_parens": (1, 1, "(" * 70 + "i0" + ")" * 70),
        "long_chain": (1, 5, "+".join(["1"] * 500)),
        "index_out_of_range": (2, 1, "i2 + i1"),
        "zero_dim": (1, 0, "pi * 2"),
        "whitespace": (3, 3, " \t\n\r i0\t*\n2 \r"),
    }
    return {name: bytes([nd, dt]) + text.encode()
            for name, (nd, dt, text) in texts.items()}


def write(target, seeds):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(folder, "seed-" + name), "wb") as f:
            f.write(data)


write("fuzz_pool", pool_seeds())
write("fuzz_layout", layout_seeds())
write("fuzz_expression", expression_seeds())
