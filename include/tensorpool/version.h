/* The version of the library at run time (tensorpool/config.h has the one
 * the program was compiled with, and what the build has). */
#ifndef TENSORPOOL_VERSION_H
#define TENSORPOOL_VERSION_H

#include "tensorpool/config.h"
#include "tensorpool/status.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

/* The running library's version. Every pointer must be non-NULL.
 * Thread-safe; not collective; never blocks. */
tp_status tp_get_version(int *major, int *minor, int *patch);

TP_END_DECLS

#endif
