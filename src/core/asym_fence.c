/* Heavy fences through membarrier(2), registered once per process. */
#define _GNU_SOURCE
#include "core/asym_fence.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__) && defined(__has_include)
#if __has_include(<linux/membarrier.h>)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#define TP_HAVE_MEMBARRIER 1
#endif
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool available;

static void probe(void) {
  /* Off by request: the tests run the full-fence path this way. */
  const char *want = getenv("TP_ASYM_FENCE");
  if (want && strcmp(want, "off") == 0)
    return;
#if TP_HAVE_MEMBARRIER
  long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
    return;
  available = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                      0, 0) == 0;
#endif
}

bool tp_asym_fence_available(void) {
  pthread_once(&once, probe);
  return available;
}

void tp_asym_fence_heavy(void) {
#if TP_HAVE_MEMBARRIER
  /* Registered, it can still fail for a moment: kernels that allocate the
   * CPU mask it needs answer ENOMEM when they cannot. The other side's
   * stores are unordered until it succeeds, so it is tried again; any
   * other failure means the registration is gone, and nothing can order
   * them any more. */
  while (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
    if (errno != ENOMEM && errno != EAGAIN && errno != EINTR) {
      fprintf(stderr,
              "tensorpool: membarrier failed after registration "
              "(%s): thread caches cannot be stopped safely\n",
              strerror(errno));
      abort();
    }
    sched_yield();
  }
#endif
}
