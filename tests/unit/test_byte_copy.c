/* tp_copy_bytes copies exactly what memmove copies: at the distances
 * modulo 4 KiB that its pieces path takes (1..63; every one for the
 * smaller sizes, every 7th for the larger) with the destination after or
 * before the source, at the sizes around its bounds (one piece, just over,
 * the last size in pieces, 1 MiB: the first not), and for ranges that
 * touch or overlap by a few bytes. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/byte_copy.h"

#define ARENA ((size_t)3 << 20)

static unsigned char *arena_a, *arena_b;

/* Distinct bytes everywhere, so a byte copied from the wrong place or
 * left uncopied shows. */
static void fill(unsigned char *p, size_t n) {
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = (unsigned char)x;
  }
}

static void setup(void) {
  arena_a = aligned_alloc(4096, ARENA);
  arena_b = aligned_alloc(4096, ARENA);
  cr_assert(arena_a && arena_b);
}

static void teardown(void) {
  free(arena_a);
  free(arena_b);
}

/* Copies `bytes` from offset `from` to offset `to` in arena_a with
 * tp_copy_bytes, and in arena_b (the same contents) with memmove; the two
 * must then agree on both ranges and a margin around them. */
static void check(size_t from, size_t to, size_t bytes) {
  size_t low = (from < to ? from : to), high = (from > to ? from : to) + bytes;
  size_t first = low > 64 ? low - 64 : 0;
  size_t span = (high + 64 < ARENA ? high + 64 : ARENA) - first;
  fill(arena_a + first, span);
  memcpy(arena_b + first, arena_a + first, span);
  tp_copy_bytes(arena_a + to, arena_a + from, bytes);
  memmove(arena_b + to, arena_b + from, bytes);
  cr_assert(memcmp(arena_a + first, arena_b + first, span) == 0,
            "%zu bytes from offset %zu to %zu differ from memmove", bytes, from,
            to);
}

static const size_t sizes[] = {0,
                               1,
                               63,
                               2047,
                               2048,
                               2049,
                               4096,
                               4099,
                               65536 + 24,
                               ((size_t)1 << 20) - 1,
                               (size_t)1 << 20};

Test(byte_copy, matches_memmove_at_aliased_distances, .init = setup,
     .fini = teardown) {
  /* Source at a page start and one byte into a page; the destination
   * 1 MiB + 1 page away plus the distance. */
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; ++s)
    for (size_t from = 0; from <= 1; ++from)
      for (size_t d = 0; d <= 70; d += s < 6 ? 1 : 7)
        check(from, from + ((size_t)1 << 20) + 4096 + d, sizes[s]);
}

Test(byte_copy, matches_memmove_with_the_destination_before_the_source,
     .init = setup, .fini = teardown) {
  /* 1 MiB and a page less the distance before, so that no size here
   * overlaps: still 1..63 past it modulo 4 KiB (pieces); and 1..63 before
   * it (4033..4095 modulo 4 KiB: memmove). */
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; ++s)
    for (size_t d = 1; d <= 63; d += 31) {
      size_t from = ((size_t)1 << 20) + 8192;
      check(from, from - ((size_t)1 << 20) - 4096 + d, sizes[s]);
      check(from, 4096 - d, sizes[s]);
    }
}

Test(byte_copy, ranges_that_touch_or_just_overlap, .init = setup,
     .fini = teardown) {
  /* 16 bytes past a page multiple. Touching, with the destination after:
   * 16 apart modulo 4 KiB (pieces); with it before: 4080 (memmove).
   * Overlapping by 8 bytes: memmove, which keeps the order overlap needs,
   * in both directions. */
  const size_t sizes_near[] = {4096 + 16, 65536 + 16};
  for (size_t k = 0; k < 2; ++k) {
    size_t n = sizes_near[k], base = 8192;
    check(base, base + n, n);
    check(base + n, base, n);
    check(base, base + n - 8, n);
    check(base + n - 8, base, n);
  }
}

Test(byte_copy, overlapping_ranges_copy_as_memmove_does, .init = setup,
     .fini = teardown) {
  /* Forward and backward by less than the size, inside the aliased
   * window (8, 40) and outside it (4096 + 8). */
  const size_t shifts[] = {8, 40, 4096 + 8};
  for (size_t k = 0; k < 3; ++k) {
    check(4096, 4096 + shifts[k], 65536);
    check(4096 + shifts[k], 4096, 65536);
  }
}
