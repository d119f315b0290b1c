/* Geometric size classes over 256-byte units, computed with bit operations.
 *
 * With d = divisions (a power of two, 2^k), requests of 1..d units each get
 * their own class; above that, every power-of-two range of units is split
 * into d equal steps. Rounding a request up to its class therefore wastes
 * less than 1/d of the class. */
#ifndef TP_CORE_SIZE_CLASS_H
#define TP_CORE_SIZE_CLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_ALIGNMENT ((size_t)256)
#define TP_ALIGNMENT_SHIFT 8

typedef struct tp_size_classes {
  unsigned divisions;      /* d */
  unsigned division_shift; /* k = log2(d) */
  unsigned count;          /* number of classes */
  size_t max_bytes;        /* largest class size in bytes */
} tp_size_classes;

/* True if `divisions` is one of 1, 2, 4, 8, 16. */
bool tp_size_classes_init(tp_size_classes *sc, unsigned divisions);

/* Class of a request of `bytes` (1 <= bytes <= sc->max_bytes). */
static inline unsigned tp_size_class_of(const tp_size_classes *sc,
                                        size_t bytes) {
  /* With v = units - 1 and shift = max(floor(log2 v) - k, 0), the class is
   * d * shift + (v >> shift): v itself for the first d classes, one class
   * per 2^shift units above. No branch: mixed sizes on either side of d
   * units would mispredict one on every call. */
  size_t v = ((bytes + TP_ALIGNMENT - 1) >> TP_ALIGNMENT_SHIFT) - 1;
  int top = 63 - __builtin_clzll((unsigned long long)(v | 1u));
  int over = top - (int)sc->division_shift;
  unsigned shift = over > 0 ? (unsigned)over : 0u;
  return sc->divisions * shift + (unsigned)(v >> shift);
}

/* Bytes of class `cls`. */
static inline size_t tp_size_class_bytes(const tp_size_classes *sc,
                                         unsigned cls) {
  if (cls < sc->divisions)
    return ((size_t)cls + 1) << TP_ALIGNMENT_SHIFT;
  unsigned group = (cls - sc->divisions) >> sc->division_shift;
  unsigned within = (cls - sc->divisions) & (sc->divisions - 1);
  size_t units = ((size_t)sc->divisions + within + 1) << group;
  return units << TP_ALIGNMENT_SHIFT;
}

#endif
