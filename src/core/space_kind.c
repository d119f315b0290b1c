/* Names of the kinds of memory space. */
#include "tensorpool/space.h"

const char *tp_space_kind_name(tp_space_kind kind) {
  switch (kind) {
  case TP_SPACE_HOST: return "host";
  case TP_SPACE_PINNED: return "pinned";
  case TP_SPACE_DEVICE: return "device";
  case TP_SPACE_OTHER: return "other";
  case TP_SPACE_INVALID: break;
  }
  return "invalid";
}
