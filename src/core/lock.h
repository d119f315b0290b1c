/* The pools' lock: a mutex for critical sections of a few hundred
 * instructions, taken twice per allocation and free. The uncontended path
 * is one atomic compare-and-swap to take it and one atomic exchange to let
 * it go, inline (a pthread mutex spends about a hundred instructions more
 * per pair on its type and robustness checks: a fifth of a pool's alloc and
 * free). Contended, a waiter spins briefly (the holder is usually about to
 * let go), then sleeps on a futex (Linux) until woken, so that a holder
 * descheduled while threads outnumber cores is not fought for by spinners.
 * States: 0 free, 1 held, 2 held and someone may sleep on it (the one who
 * lets it go wakes one sleeper). Not recursive, no owner checks. */
#ifndef TP_CORE_LOCK_H
#define TP_CORE_LOCK_H

#include <stdatomic.h>

typedef struct tp_lock {
  atomic_uint state;
} tp_lock;

/* The contended paths (lock.c). */
void tp_lock_wait(tp_lock *lock);
void tp_lock_wake(tp_lock *lock);

static inline void tp_lock_init(tp_lock *lock) {
  atomic_init(&lock->state, 0u);
}

static inline void tp_lock_acquire(tp_lock *lock) {
  unsigned expected = 0;
  if (!atomic_compare_exchange_strong_explicit(&lock->state, &expected, 1u,
                                               memory_order_acquire,
                                               memory_order_relaxed))
    tp_lock_wait(lock);
}

static inline void tp_lock_release(tp_lock *lock) {
  if (atomic_exchange_explicit(&lock->state, 0u, memory_order_release) == 2u)
    tp_lock_wake(lock);
}

#endif
