/* A small seeded random generator for tests (splitmix64): every run of a
 * test with the same seed makes the same choices, so a failure replays. */
#ifndef TP_TEST_RNG_H
#define TP_TEST_RNG_H

#include <stdint.h>

typedef struct tp_rng {
  uint64_t state;
} tp_rng;

static inline tp_rng tp_rng_make(uint64_t seed) {
  tp_rng rng = {seed};
  return rng;
}

static inline uint64_t tp_rng_next(tp_rng *rng) {
  uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [0, bound) for bound > 0 (the modulo bias is irrelevant here). */
static inline uint64_t tp_rng_below(tp_rng *rng, uint64_t bound) {
  return tp_rng_next(rng) % bound;
}

/* Uniform in [lo, hi]. */
static inline uint64_t tp_rng_range(tp_rng *rng, uint64_t lo, uint64_t hi) {
  return lo + tp_rng_below(rng, hi - lo + 1);
}

/* True with probability percent/100. */
static inline int tp_rng_percent(tp_rng *rng, unsigned percent) {
  return tp_rng_below(rng, 100) < percent;
}

#endif
