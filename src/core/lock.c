/* The contended paths of tp_lock (lock.h): a short spin, then a futex
 * wait; elsewhere than Linux, yielding the processor instead. */
#define _GNU_SOURCE
#include "core/lock.h"

#include <sched.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* Spins before sleeping: about the length of one pool call. */
#define TP_LOCK_SPINS 64

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void sleep_while_held(tp_lock *lock) {
#if defined(__linux__)
  /* Returns at once if the state is no longer 2 (let go meanwhile). */
  syscall(SYS_futex, &lock->state, FUTEX_WAIT_PRIVATE, 2u, NULL, NULL, 0);
#else
  (void)lock;
  sched_yield();
#endif
}

void tp_lock_wait(tp_lock *lock) {
  for (int i = 0; i < TP_LOCK_SPINS; i++) {
    cpu_relax();
    unsigned expected = 0;
    if (atomic_load_explicit(&lock->state, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_weak_explicit(&lock->state, &expected, 1u,
                                              memory_order_acquire,
                                              memory_order_relaxed))
      return;
  }
  /* Marked 2 from here on: whoever lets go wakes a sleeper. Taken with 2
   * (not 1) as other sleepers may remain. */
  while (atomic_exchange_explicit(&lock->state, 2u, memory_order_acquire) != 0)
    sleep_while_held(lock);
}

void tp_lock_wake(tp_lock *lock) {
#if defined(__linux__)
  syscall(SYS_futex, &lock->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
#else
  (void)lock;
#endif
}
