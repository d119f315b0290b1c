/* A resolved log handed from the parent to a freshly executed child.
 *
 * The parent parses each log once (in its own heap, which no measurement
 * uses) and writes it into an anonymous memory file; every (log, allocator)
 * measurement then runs in a new process (fork + exec of tp_replay itself)
 * that maps that file read-only. The child's heap is as clean as a program's
 * at start-up, and the log never enters it. */
#ifndef TP_BENCH_REPLAY_SHARED_H
#define TP_BENCH_REPLAY_SHARED_H

#include "event_log.h"

/* Writes `log` into a new memory file; returns its descriptor (inherited
 * across exec) or -1 with a message on stderr. */
int replay_shared_write(const replay_log *log);

/* Maps the memory file `fd` and fills `out` with pointers into it (and into
 * mmap'd memory for the pool-name table): nothing comes from malloc. Every
 * page is read once, so the mapping is resident before any measurement.
 * Returns 0, or -1 with a message on stderr. */
int replay_shared_map(int fd, replay_log *out);

#endif
