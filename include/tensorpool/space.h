/* Memory spaces: the primitives of one kind of memory behind one small table.
 *
 * The pool engine never sees the platform: it calls these functions only.
 * Host memory, pinned host memory, device memory and the tests' simulated
 * space each fill the table; a user may fill it too, to put a pool in front
 * of any upstream (in the spirit of RMM's upstream resources).
 *
 * Who calls the table, and how: a pool calls get and put, and its stream
 * entries, from whichever thread uses the pool, with the pool's lock held
 * (so the entries must not call back into that pool); buffers call the
 * event entries from any thread. Entries must therefore be thread-safe
 * whenever the space serves more than one pool, or buffers are used from
 * several threads. put, stream_sync and (for an upstream that
 * synchronizes) get may block the calling thread: every pool call that
 * reaches them may then block too. */
#ifndef TENSORPOOL_SPACE_H
#define TENSORPOOL_SPACE_H

#include <stdbool.h>
#include <stddef.h>

#include "tensorpool/status.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

/* A stream: the same type as cudaStream_t (a pointer to CUDA's opaque
 * struct CUstream_st), so CUDA streams pass without a cast and no CUDA
 * header is needed; for host memory any value is an opaque tag. NULL is a
 * valid stream (CUDA's legacy default stream). */
typedef struct CUstream_st *tp_stream;
/* An event of a space: the same type as cudaEvent_t for CUDA spaces. */
typedef struct CUevent_st *tp_event;

typedef enum tp_space_kind {
  /* What accessors give for a NULL handle. */
  TP_SPACE_INVALID = -1,
  TP_SPACE_HOST = 0,   /* pageable host memory */
  TP_SPACE_PINNED = 1, /* page-locked host memory usable by async copies */
  TP_SPACE_DEVICE = 2, /* memory of one CUDA device */
  TP_SPACE_OTHER = 3   /* a user's or a test's space */
} tp_space_kind;

/* "host", "pinned", "device", "other"; "invalid" otherwise. Pure. */
const char *tp_space_kind_name(tp_space_kind kind);

/* The primitives of a space. Versioned: set struct_size with
 * TP_SPACE_OPS_INIT (or sizeof(tp_space_ops)); the first eight entries are
 * required, the virtual-memory ones optional. */
typedef struct tp_space_ops {
  size_t struct_size;
  /* Take `bytes` (a multiple of 256) from upstream, aligned to 256 bytes. */
  tp_status (*get)(void *ctx, size_t bytes, void **out);
  /* Give memory back once the work already queued on `stream` is done.
   * Spaces without stream-ordered release wait for the stream first. */
  tp_status (*put)(void *ctx, void *ptr, size_t bytes, tp_stream stream);
  tp_status (*event_create)(void *ctx, tp_event *out);
  tp_status (*event_destroy)(void *ctx, tp_event event);
  /* Capture the work queued on `stream` so far. */
  tp_status (*event_record)(void *ctx, tp_event event, tp_stream stream);
  /* Make later work on `stream` wait for what `event` captured. */
  tp_status (*stream_wait)(void *ctx, tp_stream stream, tp_event event);
  /* *done = whether what `event` captured has finished. */
  tp_status (*event_query)(void *ctx, tp_event event, bool *done);
  /* Block the calling thread until `stream` has finished its work. */
  tp_status (*stream_sync)(void *ctx, tp_stream stream);

  /* ---- Optional: virtual memory (appended in version 2). Leave NULL (0)
   * where the space has none; the pool then never calls them. Addresses and
   * sizes are multiples of page_bytes, inside a segment `get` returned. ---- */
  /* The granule of the calls below, a power of two of at least 256 bytes
   * (host: the page size; a VMM device space: the allocation granularity).
   * Required by any of them; `get` sizes are then multiples of it too. */
  size_t page_bytes;
  /* Change the size of the segment `get` returned at `ptr` (now `bytes`
   * long) in place, never moving it: growing maps more memory after it (or
   * TP_ERR_OUT_OF_MEMORY, nothing changed, when its reservation or the
   * memory is exhausted); shrinking gives the tail back once the work
   * queued on `stream` is done. `put` then takes the new size. */
  tp_status (*resize)(void *ctx, void *ptr, size_t bytes, size_t new_bytes,
                      tp_stream stream);
  /* Give back the physical memory behind [ptr, ptr + bytes) once the work
   * queued on `stream` is done, keeping the addresses for `commit`. */
  tp_status (*decommit)(void *ctx, void *ptr, size_t bytes, tp_stream stream);
  /* Back [ptr, ptr + bytes) with memory again after a decommit. NULL when
   * nothing needs doing (host pages come back on first touch). */
  tp_status (*commit)(void *ctx, void *ptr, size_t bytes);
} tp_space_ops;

/* tp_space_ops ops = TP_SPACE_OPS_INIT; then set the entries. */
#define TP_SPACE_OPS_INIT                                                      \
  {                                                                            \
    sizeof(tp_space_ops), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0,   \
        NULL, NULL, NULL                                                       \
  }

typedef struct tp_space {
  const tp_space_ops *ops;
  void *ctx;
  tp_space_kind kind;
  int device;       /* CUDA device id, -1 for host memory */
  const char *name; /* "host", "pinned", "device:0", ... */
} tp_space;

/* The pageable host space: page-aligned segments, each in an address range
 * reserved for it to grow into (mmap), whose free pages can be given back
 * (madvise(MADV_DONTNEED)); streams are tags and every event is complete at
 * once. A static object (never destroyed); its entries are thread-safe and
 * never wait. Pure. */
const tp_space *tp_host_space(void);

TP_END_DECLS

#endif
