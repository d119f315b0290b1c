/* tp_record: an LD_PRELOAD library that logs the C library allocator's
 * calls as a tensorpool event log, for tp_replay (see docs/bench.md,
 * "Recording traces from real programs").
 *
 * Each hook calls the next definition of its function (dlsym(RTLD_NEXT))
 * and logs through record_log.h. Two guards keep it from recursing:
 * - until the real functions are resolved (dlsym itself may call calloc),
 *   requests are served from a static bootstrap arena whose blocks are
 *   never given back;
 * - a thread-local flag marks a thread already inside a hook, so that an
 *   allocator calling another public entry (reallocarray calling realloc,
 *   an aligned allocation calling malloc) is passed straight through and
 *   logged once. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record_log.h"

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void *(*reallocarray_fn)(void *, size_t, size_t);
typedef void (*free_fn)(void *);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*aligned_fn)(size_t, size_t);

static struct {
  malloc_fn malloc;
  calloc_fn calloc;
  realloc_fn realloc;
  reallocarray_fn reallocarray;
  free_fn free;
  posix_memalign_fn posix_memalign;
  aligned_fn aligned_alloc, memalign;
  malloc_fn valloc, pvalloc;
  size_t (*usable_size)(void *);
} real;

/* 0: not resolved, 1: resolving, 2: resolved. */
static atomic_int state;

static _Thread_local int in_hook __attribute__((tls_model("initial-exec")));

/* ---- the bootstrap arena ---- */

enum { BOOT_BYTES = 256 << 10, BOOT_ALIGN = 64 };
static alignas(BOOT_ALIGN) unsigned char boot[BOOT_BYTES];
static atomic_size_t boot_used;

static bool is_boot(const void *p) {
  return (const unsigned char *)p >= boot &&
         (const unsigned char *)p < boot + BOOT_BYTES;
}

/* Zeroed (static storage), aligned to BOOT_ALIGN; NULL when full. A header
 * before each block keeps its size for realloc. */
static void *boot_alloc(size_t size) {
  size_t need = BOOT_ALIGN + (size + BOOT_ALIGN - 1) / BOOT_ALIGN * BOOT_ALIGN;
  if (size > BOOT_BYTES)
    return NULL;
  size_t at = atomic_fetch_add(&boot_used, need);
  if (at + need > BOOT_BYTES)
    return NULL;
  unsigned char *p = boot + at + BOOT_ALIGN;
  memcpy(p - sizeof size, &size, sizeof size);
  return p;
}

static size_t boot_size(const void *p) {
  size_t size;
  memcpy(&size, (const unsigned char *)p - sizeof size, sizeof size);
  return size;
}

/* ---- resolving the real functions ---- */

static void *next(const char *name) {
  return dlsym(RTLD_NEXT, name);
}

static void child_after_fork(void) {
  record_log_forget();
}

static void resolve(void) {
  int expected = 0;
  if (!atomic_compare_exchange_strong(&state, &expected, 1)) {
    /* Another thread resolves: wait (its dlsym calls do not need us). */
    while (atomic_load(&state) != 2)
      sched_yield();
    return;
  }
  real.malloc = (malloc_fn)next("malloc");
  real.calloc = (calloc_fn)next("calloc");
  real.realloc = (realloc_fn)next("realloc");
  real.reallocarray = (reallocarray_fn)next("reallocarray");
  real.free = (free_fn)next("free");
  real.posix_memalign = (posix_memalign_fn)next("posix_memalign");
  real.aligned_alloc = (aligned_fn)next("aligned_alloc");
  real.memalign = (aligned_fn)next("memalign");
  real.valloc = (malloc_fn)next("valloc");
  real.pvalloc = (malloc_fn)next("pvalloc");
  real.usable_size = (size_t(*)(void *))next("malloc_usable_size");
  if (!real.malloc || !real.calloc || !real.realloc || !real.free) {
    static const char msg[] = "tp_record: dlsym(RTLD_NEXT) found no malloc\n";
    if (write(2, msg, sizeof msg - 1) < 0)
      abort();
    abort();
  }
  record_log_open();
  pthread_atfork(NULL, NULL, child_after_fork);
  atomic_store(&state, 2);
}

/* True when the real functions are there; false while this thread resolves
 * them (its requests go to the bootstrap arena). */
static bool ready(void) {
  if (atomic_load_explicit(&state, memory_order_acquire) == 2)
    return true;
  if (in_hook)
    return false; /* dlsym called back into us */
  in_hook = 1;
  resolve();
  in_hook = 0;
  return true;
}

__attribute__((constructor)) static void record_start(void) {
  (void)ready();
}
__attribute__((destructor)) static void record_stop(void) {
  record_log_close();
}

/* ---- the hooks ---- */

/* Logged alloc around a call returning a pointer; `call` runs with the
 * re-entry flag set. */
#define LOGGED_ALLOC(size, call)                                               \
  do {                                                                         \
    if (in_hook || !record_log_on())                                           \
      return call;                                                             \
    in_hook = 1;                                                               \
    void *p_ = call;                                                           \
    if (p_) {                                                                  \
      record_lock();                                                           \
      record_alloc_locked(p_, size);                                           \
      record_unlock();                                                         \
    }                                                                          \
    in_hook = 0;                                                               \
    return p_;                                                                 \
  } while (0)

void *malloc(size_t size) {
  if (!ready())
    return boot_alloc(size);
  LOGGED_ALLOC(size, real.malloc(size));
}

void *calloc(size_t n, size_t each) {
  if (!ready()) {
    if (each && n > SIZE_MAX / each)
      return NULL;
    return boot_alloc(n * each); /* static storage: already zero */
  }
  /* An overflowing product fails in the real calloc, so never gets here. */
  LOGGED_ALLOC(n * each, real.calloc(n, each));
}

void free(void *p) {
  if (!p || is_boot(p))
    return;
  if (!ready())
    return; /* cannot happen: only the bootstrap arena exists then */
  if (in_hook || !record_log_on()) {
    real.free(p);
    return;
  }
  in_hook = 1;
  /* Logged before the block goes back, so no other thread can be handed
   * this address and log it first. */
  record_lock();
  record_free_locked(p);
  record_unlock();
  real.free(p);
  in_hook = 0;
}

/* Logged as the free of `old` then the alloc of what comes back, under the
 * lock for the whole call: `old` may be given back inside it. A failed
 * call (NULL for a nonzero size) leaves `old` live and logs nothing;
 * realloc(p, 0) that frees p (glibc) logs only the free. */
static void *logged_realloc(void *old, size_t size,
                            void *(*call)(void *, size_t, size_t), size_t n,
                            size_t each) {
  if (in_hook || !record_log_on())
    return call(old, n, each);
  in_hook = 1;
  record_lock();
  void *p = call(old, n, each);
  if (p || size == 0)
    record_free_locked(old);
  if (p)
    record_alloc_locked(p, size);
  record_unlock();
  in_hook = 0;
  return p;
}

static void *call_realloc(void *old, size_t size, size_t unused) {
  (void)unused;
  return real.realloc(old, size);
}

static void *call_reallocarray(void *old, size_t n, size_t each) {
  return real.reallocarray(old, n, each);
}

/* A bootstrap block moves to the real heap (its copy is logged as an alloc;
 * the bootstrap block never was). */
static void *from_boot(void *old, size_t size) {
  void *p = size ? malloc(size) : NULL;
  if (p) {
    size_t had = boot_size(old);
    memcpy(p, old, had < size ? had : size);
  }
  return p;
}

void *realloc(void *old, size_t size) {
  if (!ready()) {
    void *p = boot_alloc(size);
    if (p && old)
      memcpy(p, old, boot_size(old) < size ? boot_size(old) : size);
    return p;
  }
  if (old && is_boot(old))
    return from_boot(old, size);
  return logged_realloc(old, size, call_realloc, size, 0);
}

void *reallocarray(void *old, size_t n, size_t each) {
  if (each && n > SIZE_MAX / each) {
    errno = ENOMEM;
    return NULL;
  }
  if (!ready() || (old && is_boot(old)) || !real.reallocarray)
    return realloc(old, n * each);
  return logged_realloc(old, n * each, call_reallocarray, n, each);
}

int posix_memalign(void **out, size_t align, size_t size) {
  if (!ready()) {
    /* Only the arena's own alignment can be promised here. */
    if (align > BOOT_ALIGN)
      return ENOMEM;
    *out = boot_alloc(size);
    return *out ? 0 : ENOMEM;
  }
  if (in_hook || !record_log_on())
    return real.posix_memalign(out, align, size);
  in_hook = 1;
  int rc = real.posix_memalign(out, align, size);
  if (rc == 0) {
    record_lock();
    record_alloc_locked(*out, size);
    record_unlock();
  }
  in_hook = 0;
  return rc;
}

void *aligned_alloc(size_t align, size_t size) {
  if (!ready())
    return align <= BOOT_ALIGN ? boot_alloc(size) : NULL;
  LOGGED_ALLOC(size, real.aligned_alloc(align, size));
}

void *memalign(size_t align, size_t size) {
  if (!ready())
    return align <= BOOT_ALIGN ? boot_alloc(size) : NULL;
  LOGGED_ALLOC(size, real.memalign(align, size));
}

void *valloc(size_t size) {
  if (!ready())
    return NULL; /* page alignment is beyond the arena */
  LOGGED_ALLOC(size, real.valloc(size));
}

void *pvalloc(size_t size) {
  if (!ready())
    return NULL;
  LOGGED_ALLOC(size, real.pvalloc(size));
}

/* Not logged; hooked only because glibc's would misread a bootstrap block. */
size_t malloc_usable_size(void *p) {
  if (!p)
    return 0;
  if (is_boot(p))
    return boot_size(p);
  if (!ready() || !real.usable_size)
    return 0;
  return real.usable_size(p);
}
