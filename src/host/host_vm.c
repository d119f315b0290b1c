/* Host segments in reserved address ranges. `get` reserves address space
 * (PROT_NONE, which costs no memory and counts against no overcommit limit)
 * and makes the first `bytes` readable and writable; `resize` moves the
 * segment's end in place, so a pool's segment can grow without moving (the
 * readable range moves in steps ahead of it: one mprotect per step); `decommit`
 * gives the pages of a range back to the kernel (madvise(MADV_DONTNEED):
 * they read as zeros and fault in again on first touch). Host "streams" are
 * tags for work the caller has done, so nothing waits for them. */
#define _GNU_SOURCE
#include "host/host_vm.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/error.h"

/* Address space reserved per segment: twice its first size, at least
 * 1 GiB. A pool whose segment outgrows it takes another segment. Kept
 * modest because sanitizers give an application a few TiB at most. */
#define TP_HOST_RESERVE_MIN ((size_t)1 << 30)

/* Growing opens at least this much more (or an eighth of what is open, up
 * to TP_HOST_OPEN_AHEAD_MAX), and shrinking keeps as much open: one
 * mprotect per step instead of one per page a growing pool asks for.
 * Opened pages that nobody touches cost no memory. */
#define TP_HOST_OPEN_AHEAD_MIN ((size_t)1 << 20)
#define TP_HOST_OPEN_AHEAD_MAX ((size_t)64 << 20)

/* The reservations, for put (which is told the segment's size, not the
 * reservation's) and resize. Few: a linear search under a lock. */
typedef struct reservation {
  uintptr_t base;
  size_t bytes;
  size_t open; /* readable and writable from base: at least the segment */
} reservation;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static reservation *table;
static size_t used, capacity;

size_t tp_host_vm_page(void) {
  long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? (size_t)p : 4096;
}

static size_t round_page(size_t v) {
  size_t page = tp_host_vm_page();
  return (v + page - 1) / page * page;
}

static tp_status remember(uintptr_t base, size_t bytes, size_t open) {
  pthread_mutex_lock(&lock);
  if (used == capacity) {
    size_t cap = capacity ? 2 * capacity : 16;
    reservation *bigger = realloc(table, cap * sizeof *bigger);
    if (!bigger) {
      pthread_mutex_unlock(&lock);
      return tp_fail(TP_ERR_OUT_OF_MEMORY,
                     "host space: no memory to track a reservation");
    }
    table = bigger;
    capacity = cap;
  }
  table[used++] = (reservation){base, bytes, open};
  pthread_mutex_unlock(&lock);
  return TP_SUCCESS;
}

/* The reservation starting at `base`, or NULL. Lock held. */
static reservation *find_locked(uintptr_t base) {
  for (size_t i = 0; i < used; i++)
    if (table[i].base == base)
      return &table[i];
  return NULL;
}

/* A step, in whole pages: the open end stays on the page grid, where
 * mprotect wants the next step to start. */
static size_t open_ahead(size_t open) {
  size_t ahead = round_page(open / 8);
  if (ahead < TP_HOST_OPEN_AHEAD_MIN)
    return TP_HOST_OPEN_AHEAD_MIN;
  return ahead > TP_HOST_OPEN_AHEAD_MAX ? TP_HOST_OPEN_AHEAD_MAX : ahead;
}

/* The reservation starting at `base` (removed with `forget`), or 0. */
static size_t reservation_of(uintptr_t base, bool forget) {
  pthread_mutex_lock(&lock);
  size_t bytes = 0;
  for (size_t i = 0; i < used; i++) {
    if (table[i].base == base) {
      bytes = table[i].bytes;
      if (forget)
        table[i] = table[--used];
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  return bytes;
}

static tp_status errno_status(int err) {
  return err == ENOMEM ? TP_ERR_OUT_OF_MEMORY : TP_ERR_INVALID_ARGUMENT;
}

tp_status tp_host_vm_get(void *ctx, size_t bytes, void **out) {
  (void)ctx;
  size_t size = round_page(bytes);
  if (size < bytes || size > SIZE_MAX / 2)
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "host space: %zu bytes exceed the address space", bytes);
  size_t reserve =
      2 * size > TP_HOST_RESERVE_MIN ? 2 * size : TP_HOST_RESERVE_MIN;
  void *p = mmap(NULL, reserve, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    /* Not that much address space: reserve only what is asked. */
    reserve = size;
    p = mmap(NULL, reserve, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  }
  if (p == MAP_FAILED) {
    int err = errno;
    return tp_fail(errno_status(err),
                   "host space: reserving %zu bytes of address space: %s",
                   reserve, strerror(err));
  }
  if (mprotect(p, size, PROT_READ | PROT_WRITE) != 0) {
    int err = errno;
    munmap(p, reserve);
    return tp_fail(errno_status(err), "host space: committing %zu bytes: %s",
                   size, strerror(err));
  }
  tp_status st = remember((uintptr_t)p, reserve, size);
  if (st != TP_SUCCESS) {
    munmap(p, reserve);
    return st;
  }
  *out = p;
  return TP_SUCCESS;
}

tp_status tp_host_vm_put(void *ctx, void *ptr, size_t bytes, tp_stream stream) {
  (void)ctx, (void)bytes, (void)stream;
  size_t reserve = reservation_of((uintptr_t)ptr, true);
  if (!reserve)
    return tp_fail(TP_ERR_INVALID_POINTER,
                   "host space: %p is not a segment of the host space", ptr);
  munmap(ptr, reserve);
  return TP_SUCCESS;
}

tp_status tp_host_vm_resize(void *ctx, void *ptr, size_t bytes,
                            size_t new_bytes, tp_stream stream) {
  (void)ctx, (void)stream;
  size_t from = round_page(bytes), to = round_page(new_bytes);
  char *base = ptr;
  pthread_mutex_lock(&lock);
  reservation *r = find_locked((uintptr_t)ptr);
  tp_status st = TP_SUCCESS;
  int rc = 0;
  if (!r) {
    st = tp_fail(TP_ERR_INVALID_POINTER,
                 "host space: %p is not a segment of the host space", ptr);
  } else if (to > r->bytes) {
    st = tp_fail(TP_ERR_OUT_OF_MEMORY,
                 "host space: the segment at %p cannot grow to %zu bytes "
                 "(its reservation holds %zu)",
                 ptr, new_bytes, r->bytes);
  } else if (to > r->open) {
    /* Open a step ahead; if the system refuses that much, what is asked. */
    size_t want = r->open + open_ahead(r->open);
    want = want < to ? to : want > r->bytes ? r->bytes : want;
    rc = mprotect(base + r->open, want - r->open, PROT_READ | PROT_WRITE);
    if (rc != 0 && want > to) {
      want = to;
      rc = mprotect(base + r->open, want - r->open, PROT_READ | PROT_WRITE);
    }
    if (rc == 0)
      r->open = want;
  } else if (to < from) {
    /* The cut pages go back to the kernel (they read as zeros when grown
     * into again); the range closes only beyond a step's slack. */
    rc = madvise(base + to, from - to, MADV_DONTNEED);
    if (rc == 0 && r->open - to > open_ahead(to)) {
      rc = mprotect(base + to, r->open - to, PROT_NONE);
      if (rc == 0)
        r->open = to;
    }
  }
  int err = errno;
  pthread_mutex_unlock(&lock);
  if (st == TP_SUCCESS && rc != 0)
    st = tp_fail(errno_status(err),
                 "host space: resizing the segment at %p from %zu to %zu "
                 "bytes: %s",
                 ptr, bytes, new_bytes, strerror(err));
  return st;
}

tp_status tp_host_vm_decommit(void *ctx, void *ptr, size_t bytes,
                              tp_stream stream) {
  (void)ctx, (void)stream;
  if (madvise(ptr, bytes, MADV_DONTNEED) != 0) {
    int err = errno;
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "host space: giving back %zu bytes at %p: %s", bytes, ptr,
                   strerror(err));
  }
  return TP_SUCCESS;
}
