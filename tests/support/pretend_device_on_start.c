/* Linked into the "as if a device were present" builds of the examples
 * (examples/CMakeLists.txt), which know nothing of tests: installs the
 * pretend device before main when TP_TEST_PRETEND_DEVICE asks for it, and
 * with TP_TEST_PRETEND_DEVICE=used fails the process at exit if the
 * pretend device never handed out memory (the example then did not run
 * "as if a device were present" at all, and passing would prove nothing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pretend_device.h"

static void check_used(void) {
  if (tp_pretend_device_blocks_served() > 0)
    return;
  fprintf(stderr, "pretend device: installed but never used: nothing was "
                  "placed on the device\n");
  fflush(stderr);
  _exit(1);
}

__attribute__((constructor)) static void pretend_device_on_start(void) {
  if (!tp_pretend_device_from_env())
    return;
  const char *on = getenv("TP_TEST_PRETEND_DEVICE");
  if (strcmp(on, "used") == 0)
    atexit(check_used);
}
