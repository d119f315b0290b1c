/* The resolved log in an anonymous memory file; see replay_shared.h.
 *
 * Layout: a header, the events, the stream handles, then the pool names as
 * NUL-terminated strings one after the other. */
#define _GNU_SOURCE
#include "replay_shared.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay_mem.h"

#define REPLAY_SHARED_MAGIC UINT64_C(0x74707265706c6179) /* "tpreplay" */

typedef struct shared_header {
  uint64_t magic;
  uint64_t count, pools, stream_count, threads, slots;
  uint64_t orphan_frees, reused_live_ptr;
  uint64_t names_bytes;
} shared_header;

static int write_all(int fd, const void *data, size_t bytes) {
  const char *p = data;
  while (bytes) {
    ssize_t w = write(fd, p, bytes);
    if (w <= 0)
      return -1;
    p += w;
    bytes -= (size_t)w;
  }
  return 0;
}

int replay_shared_write(const replay_log *log) {
  int fd = memfd_create("tp_replay_log", 0); /* no CLOEXEC: the child maps it */
  if (fd < 0) {
    perror("tp_replay: memfd_create");
    return -1;
  }
  shared_header h = {REPLAY_SHARED_MAGIC, log->count,           log->pools,
                     log->stream_count,   log->threads,         log->slots,
                     log->orphan_frees,   log->reused_live_ptr, 0};
  for (uint32_t i = 0; i < log->pools; i++)
    h.names_bytes += strlen(log->pool_names[i]) + 1;
  int rc = write_all(fd, &h, sizeof h);
  if (rc == 0)
    rc = write_all(fd, log->events, log->count * sizeof *log->events);
  if (rc == 0)
    rc = write_all(fd, log->streams, log->stream_count * sizeof *log->streams);
  for (uint32_t i = 0; rc == 0 && i < log->pools; i++)
    rc = write_all(fd, log->pool_names[i], strlen(log->pool_names[i]) + 1);
  if (rc != 0) {
    perror("tp_replay: writing the shared log");
    close(fd);
    return -1;
  }
  return fd;
}

int replay_shared_map(int fd, replay_log *out) {
  memset(out, 0, sizeof *out);
  struct stat st;
  if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(shared_header)) {
    fprintf(stderr, "tp_replay: descriptor %d is not a shared log\n", fd);
    return -1;
  }
  size_t len = (size_t)st.st_size;
  const char *base = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    perror("tp_replay: mapping the shared log");
    return -1;
  }
  shared_header h;
  memcpy(&h, base, sizeof h);
  size_t need = sizeof h + h.count * sizeof(replay_event) +
                h.stream_count * sizeof(uint64_t) + h.names_bytes;
  if (h.magic != REPLAY_SHARED_MAGIC || need != len) {
    fprintf(stderr, "tp_replay: the shared log is malformed\n");
    munmap((void *)base, len);
    return -1;
  }
  /* Read every page once: resident now, not during the measurement. */
  volatile char sink = 0;
  for (size_t off = 0; off < len; off += 4096)
    sink ^= base[off];
  (void)sink;
  out->events = (replay_event *)(base + sizeof h);
  out->count = h.count;
  out->streams = (uint64_t *)(base + sizeof h + h.count * sizeof(replay_event));
  out->stream_count = (uint32_t)h.stream_count;
  out->pools = (uint32_t)h.pools;
  out->threads = (uint32_t)h.threads;
  out->slots = (uint32_t)h.slots;
  out->orphan_frees = h.orphan_frees;
  out->reused_live_ptr = h.reused_live_ptr;
  out->pool_names = replay_mem_alloc(h.pools * sizeof *out->pool_names);
  if (!out->pool_names && h.pools) {
    fprintf(stderr, "tp_replay: out of memory\n");
    return -1;
  }
  char *name = (char *)out->streams + h.stream_count * sizeof(uint64_t);
  for (uint64_t i = 0; i < h.pools; i++) {
    out->pool_names[i] = name;
    name += strlen(name) + 1;
  }
  return 0;
}
