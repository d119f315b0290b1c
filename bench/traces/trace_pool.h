/* Shared by the trace generators (bench/traces/gen_*.c): a pool over host
 * memory whose event log goes to the file named on the command line, and
 * calls that stop the generator if the engine refuses what the pattern
 * needs. The generators run the real engine: their logs are the engine's
 * own format. Header-only (static functions) so each generator stays one
 * program. */
#ifndef TP_BENCH_TRACE_POOL_H
#define TP_BENCH_TRACE_POOL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tensorpool/pool.h"

/* Starts `path` afresh (the engine appends) and opens a pool logging there. */
static inline tp_pool *trace_pool_open(const char *path, const char *name,
                                       size_t limit, bool truncate) {
  if (truncate) {
    FILE *f = fopen(path, "w");
    if (!f) {
      perror(path);
      exit(1);
    }
    fclose(f);
  }
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.name = name;
  config.event_log_path = path;
  config.limit = limit;
  tp_pool *pool = NULL;
  if (tp_pool_create(tp_host_space(), &config, &pool) != TP_SUCCESS) {
    fprintf(stderr, "trace: tp_pool_create: %s\n", tp_last_error());
    exit(1);
  }
  return pool;
}

/* NULL when the pool refuses for lack of memory (the pattern may react);
 * any other failure ends the generator. */
static inline void *trace_alloc(tp_pool *pool, size_t bytes, tp_stream stream) {
  void *p = NULL;
  tp_status st = tp_pool_alloc(pool, bytes, stream, &p);
  if (st == TP_ERR_OUT_OF_MEMORY)
    return NULL;
  if (st != TP_SUCCESS) {
    fprintf(stderr, "trace: tp_pool_alloc(%zu): %s\n", bytes, tp_last_error());
    exit(1);
  }
  return p;
}

static inline void *trace_alloc_must(tp_pool *pool, size_t bytes,
                                     tp_stream stream) {
  void *p = trace_alloc(pool, bytes, stream);
  if (!p) {
    fprintf(stderr, "trace: out of memory for %zu bytes: %s\n", bytes,
            tp_last_error());
    exit(1);
  }
  return p;
}

static inline void trace_free(tp_pool *pool, void *ptr, tp_stream stream) {
  if (tp_pool_free(pool, ptr, stream) != TP_SUCCESS) {
    fprintf(stderr, "trace: tp_pool_free: %s\n", tp_last_error());
    exit(1);
  }
}

static inline void trace_pool_close(tp_pool *pool) {
  if (tp_pool_destroy(pool) != TP_SUCCESS) {
    fprintf(stderr, "trace: tp_pool_destroy: %s\n", tp_last_error());
    exit(1);
  }
}

/* Host streams are tags: a distinct non-NULL value per stream. */
static inline tp_stream trace_stream(unsigned index) {
  return index == 0 ? NULL : (tp_stream)(uintptr_t)(0x5000u + index * 0x10u);
}

/* xorshift64: deterministic, so a generator always writes the same
 * pattern (pointers and times differ from run to run). */
static inline uint64_t trace_random(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

static inline const char *trace_path(int argc, char **argv, const char *usage) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s\n", usage);
    exit(2);
  }
  return argv[1];
}

#endif
