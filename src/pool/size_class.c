#include "pool/size_class.h"

bool tp_size_classes_init(tp_size_classes *sc, unsigned divisions) {
  if (divisions == 0 || divisions > 16 || (divisions & (divisions - 1)))
    return false;
  sc->divisions = divisions;
  sc->division_shift = (unsigned)__builtin_ctz(divisions);
  /* Largest request: the class whose size still fits in size_t. Units go up
   * to 2^(64-8-1) so that shifting a class size back to bytes cannot wrap. */
  size_t max_units = (SIZE_MAX >> TP_ALIGNMENT_SHIFT) >> 1;
  size_t max_request = max_units << TP_ALIGNMENT_SHIFT;
  sc->count = tp_size_class_of(sc, max_request) + 1;
  sc->max_bytes = tp_size_class_bytes(sc, sc->count - 1);
  return true;
}
