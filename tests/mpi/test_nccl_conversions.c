/* Device conversions over several ranks: replicated -> distributed ->
 * replicated (all-gather of uneven tiles) and a redistribution between two
 * tilings, compared with the host generator. Through NCCL when every rank has
 * a GPU of its own: once with the scheme the cost model picks and once
 * forced through each of the padded all-gather and the group of broadcasts;
 * the padded scheme also runs directly on the runtime's communicator (of one
 * rank too, where a conversion would not call NCCL), and its compaction alone
 * for five simulated ranks on this GPU. Through host staging and MPI when
 * ranks share a GPU (NCCL refuses that) or the build has no NCCL. Run with 1
 * to 4 ranks, and again with the tests' pretend device
 * (TP_TEST_PRETEND_DEVICE), which takes the staged path on a machine without
 * a GPU. Skips (77) without MPI, or when the runtime has no device backend;
 * with TP_TEST_REQUIRE_DEVICE=1 (scripts/gpu_check.sh), no GPU at all is a
 * failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretend_device.h"
#include "tensorpool/allocator.h"
#include "tensorpool/device.h"

#if TP_HAVE_MPI

#include <mpi.h>

#if TP_HAVE_NCCL
#include "dist/gather_plan.h"
#include "dist/nccl_comm.h"
#define BUILT_WITH_NCCL 1
#else
#define BUILT_WITH_NCCL 0
#endif

static int failures;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "rank %d: %s:%d: ", tp_runtime_rank(rt), __FILE__,       \
              __LINE__);                                                       \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, " (%s)\n", tp_last_error());                             \
      failures++;                                                              \
      goto done;                                                               \
    }                                                                          \
  } while (0)

static tp_runtime *rt;

/* The whole tensor on the host, built directly: the reference. */
static int same_as_reference(const tp_buffer *device_replicated,
                             const tp_layout *layout, const tp_generator *gen,
                             tp_stream stream) {
  tp_allocator *host = NULL;
  tp_buffer *want = NULL, *got = NULL;
  int same = 0;
  if (tp_runtime_allocator(rt, TP_SPACE_HOST, TP_BUFFER_LOCAL, &host) ||
      tp_allocator_construct_generator(host, layout, NULL, gen, stream,
                                       &want) ||
      tp_allocator_construct_copy(host, device_replicated, NULL, stream,
                                  &got) ||
      tp_buffer_synchronize(got))
    goto out;
  same = tp_buffer_bytes(got) == tp_buffer_bytes(want) &&
         memcmp(tp_buffer_data(got), tp_buffer_data(want),
                tp_buffer_bytes(want)) == 0;
out:
  tp_buffer_destroy(got);
  tp_buffer_destroy(want);
  return same;
}

/* replicated -> distributed -> replicated, a redistribution to an uneven
 * tiling and its gather, compared with the host's tensor. 1 on success. */
static int round_trip(tp_stream stream) {
  int ok = 0, ranks = tp_runtime_size(rt);
  tp_tiling *uneven = NULL;
  tp_buffer *rep = NULL, *dist = NULL, *gathered = NULL, *moved = NULL,
            *back = NULL;
  int64_t extents[2] = {5 * ranks + 3, 7};
  tp_layout layout;
  tp_generator gen = tp_generator_uniform(99, -1.0, 1.0);
  tp_allocator *drep = NULL, *ddist = NULL;
  if (tp_layout_make(TP_DTYPE_F64, 2, extents, &layout) ||
      tp_runtime_allocator(rt, TP_SPACE_DEVICE, TP_BUFFER_REPLICATED, &drep) ||
      tp_allocator_rebind(drep, TP_BUFFER_DISTRIBUTED, &ddist) ||
      tp_allocator_construct_generator(drep, &layout, NULL, &gen, stream,
                                       &rep) ||
      tp_allocator_construct_copy(ddist, rep, NULL, stream, &dist) ||
      tp_allocator_construct_copy(drep, dist, NULL, stream, &gathered) ||
      !same_as_reference(gathered, &layout, &gen, stream))
    goto out;
  /* Uneven: rank r gets r + 1 rows, the last rank the rest; rank 0 may own
   * more than a block split would give it. */
  int64_t *rows = calloc((size_t)ranks, sizeof *rows);
  if (!rows)
    goto out;
  int64_t left = extents[0];
  for (int r = 0; r < ranks - 1; ++r) {
    rows[r] = r + 1;
    left -= rows[r];
  }
  rows[ranks - 1] = left;
  tp_status st = tp_tiling_create(&layout, ranks, rows, &uneven);
  free(rows);
  if (st != TP_SUCCESS ||
      tp_allocator_construct_copy(ddist, dist, uneven, stream, &moved) ||
      tp_allocator_construct_copy(drep, moved, NULL, stream, &back) ||
      !same_as_reference(back, &layout, &gen, stream))
    goto out;
  ok = 1;
out:
  tp_buffer_destroy(back);
  tp_buffer_destroy(moved);
  tp_buffer_destroy(gathered);
  tp_buffer_destroy(dist);
  tp_buffer_destroy(rep);
  tp_tiling_destroy(uneven);
  return ok;
}

#if TP_HAVE_NCCL
/* Device memory of `bytes` as a local device buffer (bytes: a multiple of
 * 4). */
static tp_buffer *device_bytes(size_t bytes, tp_stream stream) {
  tp_allocator *a = NULL;
  tp_buffer *b = NULL;
  int64_t n = (int64_t)(bytes / 4);
  tp_layout l;
  if (tp_runtime_allocator(rt, TP_SPACE_DEVICE, TP_BUFFER_LOCAL, &a) ||
      tp_layout_make(TP_DTYPE_I32, 1, &n, &l) ||
      tp_allocator_allocate(a, &l, NULL, stream, &b))
    return NULL;
  return b;
}

/* Rank r contributes 4 * (3 r + 5) bytes of value r + 1: uneven on every
 * rank count. tp_nccl_allgatherv with the padded scheme forced, on a
 * communicator of its own over the runtime's ranks (one rank too). */
static int padded_on_the_communicator(tp_stream stream) {
  int ranks = tp_runtime_size(rt), me = tp_runtime_rank(rt), ok = 0;
  size_t *counts = calloc((size_t)ranks, sizeof *counts);
  size_t *displs = calloc((size_t)ranks, sizeof *displs), total = 0;
  if (!counts || !displs)
    goto out;
  for (int r = 0; r < ranks; ++r) {
    counts[r] = 4 * (size_t)(3 * r + 5);
    displs[r] = total;
    total += counts[r];
  }
  int32_t *mine = malloc(counts[me]), *got = malloc(total);
  tp_buffer *send = device_bytes(counts[me], stream);
  tp_buffer *recv = device_bytes(total, stream);
  tp_nccl_comm *comm = NULL;
  if (mine && got && send && recv &&
      tp_nccl_comm_create(rt, tp_runtime_device(rt), &comm) == TP_SUCCESS) {
    for (size_t i = 0; i < counts[me] / 4; ++i)
      mine[i] = me + 1;
    tp_nccl_force_gather_scheme(TP_GATHER_PADDED);
    int device = tp_runtime_device(rt);
    if (tp_device_memcpy(device, tp_buffer_data(send), mine, counts[me],
                         stream) == TP_SUCCESS &&
        tp_nccl_allgatherv(comm, tp_buffer_data(send), tp_buffer_data(recv),
                           counts, displs, stream) == TP_SUCCESS &&
        tp_device_memcpy(device, got, tp_buffer_data(recv), total, stream) ==
            TP_SUCCESS &&
        tp_device_stream_synchronize(device, stream) == TP_SUCCESS) {
      ok = 1;
      for (int r = 0; r < ranks; ++r)
        for (size_t i = 0; i < counts[r] / 4; ++i)
          ok &= got[displs[r] / 4 + i] == r + 1;
    }
    tp_nccl_force_gather_scheme(-1);
  }
  tp_nccl_comm_destroy(comm);
  tp_buffer_destroy(recv);
  tp_buffer_destroy(send);
  free(got);
  free(mine);
out:
  free(counts);
  free(displs);
  return ok;
}

/* The compaction for five simulated ranks with tiles of 8, 8, 0, 8 and 4
 * ints in slots of 8 ints (runs {0, 1}, {3}, {4}); the pad is -1. */
static int compaction_of_five_ranks(tp_stream stream) {
  enum { RANKS = 5, SLOT = 8 };
  size_t counts[RANKS] = {32, 32, 0, 32, 16};
  size_t displs[RANKS] = {0, 32, 64, 64, 96};
  int32_t staging[RANKS * SLOT], want[28], got[29];
  for (int r = 0; r < RANKS; ++r)
    for (int i = 0; i < SLOT; ++i)
      staging[r * SLOT + i] =
          (size_t)i * 4 < counts[r] ? 100 * (r + 1) + i : -1;
  for (int r = 0; r < RANKS; ++r)
    for (size_t i = 0; i < counts[r] / 4; ++i)
      want[displs[r] / 4 + i] = 100 * (r + 1) + (int32_t)i;
  int device = tp_runtime_device(rt), ok = 0;
  tp_buffer *stage = device_bytes(sizeof staging, stream);
  tp_buffer *recv = device_bytes(sizeof got, stream);
  memset(got, 0, sizeof got);
  got[28] = 12345; /* past the result: must stay */
  if (stage && recv &&
      tp_device_memcpy(device, tp_buffer_data(stage), staging, sizeof staging,
                       stream) == TP_SUCCESS &&
      tp_device_memcpy(device, tp_buffer_data(recv), got, sizeof got, stream) ==
          TP_SUCCESS &&
      tp_nccl_compact(tp_buffer_data(stage), SLOT * 4, tp_buffer_data(recv),
                      RANKS, counts, displs, stream) == TP_SUCCESS &&
      tp_device_memcpy(device, got, tp_buffer_data(recv), sizeof got, stream) ==
          TP_SUCCESS &&
      tp_device_stream_synchronize(device, stream) == TP_SUCCESS)
    ok = memcmp(got, want, sizeof want) == 0 && got[28] == 12345;
  tp_buffer_destroy(recv);
  tp_buffer_destroy(stage);
  return ok;
}

#endif

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int pretend = tp_pretend_device_from_env();
  int exit_code = 0, devices = 0;
  tp_stream stream = NULL;
  if (tp_runtime_create(NULL, &rt) != TP_SUCCESS) {
    fprintf(stderr, "tp_runtime_create: %s\n", tp_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  tp_device_count(&devices);
  /* TP_TEST_REQUIRE_DEVICE=1 (scripts/gpu_check.sh): no GPU at all is a
   * failure (ranks sharing a GPU run the staged path). */
  const char *required = getenv("TP_TEST_REQUIRE_DEVICE");
  if (devices == 0 && required != NULL && strcmp(required, "1") == 0) {
    if (tp_runtime_rank(rt) == 0)
      printf("FAIL: no GPU here but TP_TEST_REQUIRE_DEVICE=1\n");
    exit_code = 1;
    goto done;
  }
  /* Every rank decides alike: devices and the pretend switch are the same
   * on every rank of this test. */
  if (!pretend && devices == 0) {
    if (tp_runtime_rank(rt) == 0)
      printf("skip: no GPU here (tp_device_count gave 0) and no pretend "
             "device: the device conversions need one\n");
    exit_code = 77;
    goto done;
  }
  CHECK(tp_runtime_has_backend(rt, TP_SPACE_DEVICE), "device backend");
  int nccl =
      !pretend && BUILT_WITH_NCCL && tp_runtime_local_size(rt) <= devices;
  if (tp_runtime_rank(rt) == 0)
    printf("%d rank(s), %d on this node, %d GPU(s)%s: %s\n",
           tp_runtime_size(rt), tp_runtime_local_size(rt), devices,
           pretend ? " (pretend device)" : "",
           nccl ? "NCCL" : "staged through the host and MPI");
  /* A stream of the runtime's device; the pretend device has no CUDA
   * streams, its work runs when queued. */
  if (!pretend)
    CHECK(tp_device_stream_create(tp_runtime_device(rt), &stream) == TP_SUCCESS,
          "stream");
  if (!nccl) {
    CHECK(round_trip(stream), "conversions staged through the host");
    goto done;
  }
#if TP_HAVE_NCCL
  static const int schemes[3] = {-1, TP_GATHER_PADDED, TP_GATHER_BROADCASTS};
  for (int k = 0; k < 3; ++k) {
    tp_nccl_force_gather_scheme(schemes[k]);
    CHECK(round_trip(stream), "conversions with scheme %d", schemes[k]);
  }
  tp_nccl_force_gather_scheme(-1);
  CHECK(padded_on_the_communicator(stream), "padded all-gather, direct");
  CHECK(compaction_of_five_ranks(stream), "compaction on one GPU");
#endif
done:
  if (stream)
    tp_device_stream_destroy(tp_runtime_device(rt), stream);
  tp_runtime_destroy(rt);
  tp_device_pools_destroy();
  int any = failures;
  MPI_Allreduce(&failures, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  if (any)
    return 1;
  return exit_code;
}

#else

int main(void) {
  printf("skip: device conversions over ranks need MPI in the build\n");
  return 77;
}

#endif
