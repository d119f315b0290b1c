/* mmap-backed memory for the replay's own state and the resident-memory
 * readings; see replay_mem.h. No malloc anywhere in this file. */
#define _GNU_SOURCE
#include "replay_mem.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_bytes(void) {
  long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? (size_t)p : 4096;
}

void *replay_mem_alloc(size_t bytes) {
  size_t page = page_bytes();
  size_t len = bytes ? (bytes + page - 1) / page * page : page;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  /* MAP_POPULATE is a hint: write every page so it is resident for sure. */
  for (size_t off = 0; off < len; off += page)
    ((volatile char *)p)[off] = 0;
  return p;
}

void replay_mem_free(void *ptr, size_t bytes) {
  if (!ptr)
    return;
  size_t page = page_bytes();
  size_t len = bytes ? (bytes + page - 1) / page * page : page;
  munmap(ptr, len);
}

/* One descriptor, read with pread: no stdio (whose buffers are malloc'd)
 * and no open per sample. */
static int statm_fd = -1;

size_t replay_rss_now(void) {
  if (statm_fd < 0)
    statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  char text[128];
  ssize_t n = statm_fd < 0 ? -1 : pread(statm_fd, text, sizeof text - 1, 0);
  if (n <= 0)
    return 0;
  text[n] = '\0';
  /* "size resident shared text lib data dt", in pages. */
  char *p = text;
  strtoull(p, &p, 10);
  unsigned long long resident = strtoull(p, NULL, 10);
  return (size_t)resident * page_bytes();
}

bool replay_rss_reset_peak(void) {
  int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool ok = write(fd, "5", 1) == 1;
  close(fd);
  return ok;
}

size_t replay_rss_peak(void) {
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  char text[4096];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0)
    return 0;
  text[n] = '\0';
  const char *at = strstr(text, "VmHWM:");
  if (!at)
    return 0;
  return (size_t)strtoull(at + 6, NULL, 10) * 1024; /* reported in kB */
}
