/* The version the library was built as (tensorpool/config.h). */
#include "tensorpool/version.h"
#include "core/error.h"

tp_status tp_get_version(int *major, int *minor, int *patch) {
  if (!major || !minor || !patch)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_get_version: NULL %s",
                   !major   ? "major"
                   : !minor ? "minor"
                            : "patch");
  *major = TP_VERSION_MAJOR;
  *minor = TP_VERSION_MINOR;
  *patch = TP_VERSION_PATCH;
  return TP_SUCCESS;
}
