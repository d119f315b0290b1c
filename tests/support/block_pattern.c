#include "block_pattern.h"

/* Byte i of block `id`: a byte of a per-block 64-bit mix, chosen by i mod 8
 * and offset by i / 8, so neighbouring blocks, neighbouring words and
 * blocks with nearby ids all differ. */
static uint64_t pattern_mix(uint64_t id) {
  uint64_t z = id * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 29)) * 0xBF58476D1CE4E5B9ull;
  return z ^ (z >> 32);
}

static unsigned char pattern_byte(uint64_t mix, size_t i) {
  return (unsigned char)((mix >> ((i & 7u) * 8u)) + (i >> 3));
}

void tp_pattern_fill(void *ptr, size_t bytes, uint64_t id) {
  unsigned char *p = ptr;
  uint64_t mix = pattern_mix(id);
  for (size_t i = 0; i < bytes; ++i)
    p[i] = pattern_byte(mix, i);
}

size_t tp_pattern_check(const void *ptr, size_t bytes, uint64_t id) {
  const unsigned char *p = ptr;
  uint64_t mix = pattern_mix(id);
  for (size_t i = 0; i < bytes; ++i)
    if (p[i] != pattern_byte(mix, i))
      return i;
  return bytes;
}
