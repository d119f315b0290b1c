/* The checks of the bench's plain self-test programs: a failed check prints
 * where and what, is counted in `failures`, and the program goes on, so one
 * run reports every broken check; main returns failures != 0. */
#ifndef TP_BENCH_SELFTEST_CHECK_H
#define TP_BENCH_SELFTEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                              \
    }                                                                          \
  } while (0)

#endif
