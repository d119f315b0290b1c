/* Reading a fuzzer's input as a stream of small decisions. Past the end
 * every read gives 0, so any input, however short, is a complete program
 * (libFuzzer shrinks inputs by cutting them). */
#ifndef TP_FUZZ_INPUT_H
#define TP_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct fuzz_input {
  const uint8_t *data;
  size_t size, at;
} fuzz_input;

static inline fuzz_input fuzz_input_make(const uint8_t *data, size_t size) {
  fuzz_input in = {data, size, 0};
  return in;
}

static inline int fuzz_more(const fuzz_input *in) {
  return in->at < in->size;
}

static inline uint8_t fuzz_u8(fuzz_input *in) {
  return in->at < in->size ? in->data[in->at++] : 0;
}

static inline uint16_t fuzz_u16(fuzz_input *in) {
  uint16_t lo = fuzz_u8(in);
  return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(fuzz_input *in) {
  uint32_t lo = fuzz_u16(in);
  return lo | (uint32_t)fuzz_u16(in) << 16;
}

static inline uint64_t fuzz_u64(fuzz_input *in) {
  uint64_t lo = fuzz_u32(in);
  return lo | (uint64_t)fuzz_u32(in) << 32;
}

/* One of `n` choices (n > 0). */
static inline unsigned fuzz_pick(fuzz_input *in, unsigned n) {
  return fuzz_u8(in) % n;
}

#endif
