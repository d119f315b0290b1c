/* Device conversions over several ranks: replicated -> distributed ->
 * replicated (all-gather of uneven tiles) and a redistribution between two
 * tilings, compared with the host generator. Through NCCL when every rank has
 * a GPU of its own; through host staging and MPI when ranks share a GPU (NCCL
 * refuses that) or the build has no NCCL. Run with 1 to 4 ranks, and again
 * with the tests' pretend device (TP_TEST_PRETEND_DEVICE), which takes the
 * staged path on a machine without a GPU. Skips (77) without MPI, or when the
 * runtime has no device backend; with TP_TEST_REQUIRE_DEVICE=1
 * (scripts/gpu_check.sh), no GPU at all is a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretend_device.h"
#include "tensorpool/allocator.h"
#include "tensorpool/device.h"

#if TP_HAVE_MPI

#include <mpi.h>

#if TP_HAVE_NCCL
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

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int pretend = tp_pretend_device_from_env();
  int exit_code = 0, devices = 0;
  tp_stream stream = NULL;
  tp_tiling *uneven = NULL;
  tp_buffer *rep = NULL, *dist = NULL, *gathered = NULL, *moved = NULL,
            *back = NULL;
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
  if (tp_runtime_rank(rt) == 0)
    printf("%d rank(s), %d on this node, %d GPU(s)%s: %s\n",
           tp_runtime_size(rt), tp_runtime_local_size(rt), devices,
           pretend ? " (pretend device)" : "",
           !pretend && BUILT_WITH_NCCL && tp_runtime_local_size(rt) <= devices
               ? "NCCL"
               : "staged through the host and MPI");
  /* A stream of the runtime's device; the pretend device has no CUDA
   * streams, its work runs when queued. */
  if (!pretend)
    CHECK(tp_device_stream_create(tp_runtime_device(rt), &stream) == TP_SUCCESS,
          "stream");
  int ranks = tp_runtime_size(rt);
  int64_t extents[2] = {5 * ranks + 3, 7};
  tp_layout layout;
  CHECK(tp_layout_make(TP_DTYPE_F64, 2, extents, &layout) == TP_SUCCESS,
        "layout");
  tp_generator gen = tp_generator_uniform(99, -1.0, 1.0);
  tp_allocator *drep = NULL, *ddist = NULL;
  CHECK(tp_runtime_allocator(rt, TP_SPACE_DEVICE, TP_BUFFER_REPLICATED,
                             &drep) == TP_SUCCESS,
        "allocator");
  CHECK(tp_allocator_rebind(drep, TP_BUFFER_DISTRIBUTED, &ddist) == TP_SUCCESS,
        "rebind");
  CHECK(tp_allocator_construct_generator(drep, &layout, NULL, &gen, stream,
                                         &rep) == TP_SUCCESS,
        "replicated");
  CHECK(tp_allocator_construct_copy(ddist, rep, NULL, stream, &dist) ==
            TP_SUCCESS,
        "replicated -> distributed");
  CHECK(tp_allocator_construct_copy(drep, dist, NULL, stream, &gathered) ==
            TP_SUCCESS,
        "distributed -> replicated (NCCL all-gather)");
  CHECK(same_as_reference(gathered, &layout, &gen, stream),
        "gathered tensor differs from the host's");
  /* Uneven: rank r gets r + 1 rows, the last rank the rest; rank 0 may own
   * more than a block split would give it. */
  int64_t *rows = calloc((size_t)ranks, sizeof *rows);
  CHECK(rows != NULL, "rows");
  int64_t left = extents[0];
  for (int r = 0; r < ranks - 1; ++r) {
    rows[r] = r + 1;
    left -= rows[r];
  }
  rows[ranks - 1] = left;
  tp_status st = tp_tiling_create(&layout, ranks, rows, &uneven);
  free(rows);
  CHECK(st == TP_SUCCESS, "uneven tiling");
  CHECK(tp_allocator_construct_copy(ddist, dist, uneven, stream, &moved) ==
            TP_SUCCESS,
        "redistribution (NCCL send/receive)");
  CHECK(tp_allocator_construct_copy(drep, moved, NULL, stream, &back) ==
            TP_SUCCESS,
        "gather of the redistributed tensor");
  CHECK(same_as_reference(back, &layout, &gen, stream),
        "redistributed tensor differs from the host's");
done:
  tp_buffer_destroy(back);
  tp_buffer_destroy(moved);
  tp_buffer_destroy(gathered);
  tp_buffer_destroy(dist);
  tp_buffer_destroy(rep);
  tp_tiling_destroy(uneven);
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
