/* An event log of the pool engine, read into memory and resolved for replay.
 *
 * The log is CSV (RFC 4180), one record per event, with the header
 *   op,thread,time_ns,pool,ptr,size,stream,status
 * (see docs/bench.md). The pool field may be quoted (the engine quotes
 * names holding a comma, a quote, CR or LF); records end at LF or CRLF. Reading
 * it sorts the events by time_ns (stable, so equal times keep their order in
 * the file) and resolves every recorded pointer to a slot: an alloc opens a
 * slot, the free of the same pointer in the same pool closes it. A replay then
 * only indexes arrays. */
#ifndef TP_BENCH_EVENT_LOG_H
#define TP_BENCH_EVENT_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum replay_op {
  REPLAY_ALLOC,
  REPLAY_FREE,
  REPLAY_FAIL_ALLOC,
  REPLAY_FAIL_FREE,
  REPLAY_TRIM,
  REPLAY_FORGET
} replay_op;

/* No slot: a failed free, a trim, a forget, or a free whose alloc is not in
 * the log (it happened before logging started). */
#define REPLAY_NO_SLOT UINT32_MAX

typedef struct replay_event {
  replay_op op;
  uint32_t thread;  /* as recorded (1, 2, ...) */
  uint64_t time_ns; /* as recorded */
  uint32_t pool;    /* index into replay_log.pool_names */
  uint32_t stream;  /* index into replay_log.streams (0 is the first seen) */
  uint32_t slot;    /* REPLAY_NO_SLOT or index of the block it names */
  uint64_t size;    /* requested bytes; trim: target bytes */
  int status;       /* recorded tp_status */
} replay_event;

typedef struct replay_log {
  replay_event *events;
  size_t count;
  char **pool_names;
  uint32_t pools;
  uint64_t *streams; /* recorded stream handles, in order of appearance */
  uint32_t stream_count;
  uint32_t threads;       /* distinct recorded threads */
  uint32_t slots;         /* blocks named by allocs and failed allocs */
  size_t orphan_frees;    /* frees whose alloc is not in the log */
  size_t reused_live_ptr; /* allocs of a pointer the log still had live */
  /* Entries compared while looking up pool names and streams: about one per
   * event, however many distinct pools and streams the log names. */
  uint64_t lookup_probes;
} replay_log;

/* Reads and resolves the log at `path`. Returns 0, or -1 with a message
 * ("file:line: what was wrong") in `err`. */
int replay_log_read(const char *path, replay_log *out, char *err,
                    size_t err_len);
/* Same, from text already in memory (for tests). `name` labels messages. */
int replay_log_parse(const char *name, const char *text, replay_log *out,
                     char *err, size_t err_len);
void replay_log_free(replay_log *log);

const char *replay_op_name(replay_op op);

#endif
