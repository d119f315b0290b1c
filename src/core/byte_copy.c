/* Why not plain memmove: glibc (2.36, x86-64) copies 2 KiB up to 1 MiB
 * with `rep movsb` on this project's machine (AMD EPYC), and `rep movsb`
 * runs 3-14 times slower when the destination is 1 to 63 bytes past the
 * source modulo 4 KiB (4K aliasing: every load seems to depend on a store
 * just made). Measured there, 512 KiB with warm caches: 10.3 us at
 * distance 0, 149.6 us at 1-15, 32.8 us at 17-25, 12.6-13.5 us at 26-63.
 * Copied in pieces of 2 KiB (below glibc's `rep movsb` threshold, 2112
 * bytes there, so glibc copies each with vector loads and stores) the same
 * copy takes 10.3-11.3 us at distances 0 to 40. glibc's own short-distance
 * check looks at the distance itself, not modulo 4 KiB. From 1 MiB glibc
 * uses vector loops there and pieces would only cost calls, so they are
 * kept to the range where `rep movsb` runs. */
#include "core/byte_copy.h"

#include <stdint.h>
#include <string.h>

#define IN_4K ((uintptr_t)4095)       /* keeps an address's offset in 4 KiB */
#define ALIASED_BELOW ((uintptr_t)64) /* distances 1..63 modulo 4 KiB */
#define PIECE ((size_t)2048)
#define PIECES_BELOW ((size_t)1 << 20) /* glibc's vector loops from here */

/* memcpy through a pointer the compiler cannot see through: with a
 * constant size it would inline the piece as `rep movsq`, the string
 * instruction this file exists to avoid. */
static void *(*volatile copy_piece)(void *, const void *, size_t) = memcpy;

void tp_copy_bytes(void *dst, const void *src, size_t bytes) {
  uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
  uintptr_t ahead = (d - s) & IN_4K;
  uintptr_t apart = d > s ? d - s : s - d;
  if (ahead == 0 || ahead >= ALIASED_BELOW || bytes <= PIECE ||
      bytes >= PIECES_BELOW || apart < bytes) {
    /* Overlapping ranges keep memmove's order. */
    memmove(dst, src, bytes);
    return;
  }
  void *(*copy)(void *, const void *, size_t) = copy_piece;
  char *to = dst;
  const char *from = src;
  for (; bytes > PIECE; bytes -= PIECE, to += PIECE, from += PIECE)
    copy(to, from, PIECE);
  copy(to, from, bytes);
}
