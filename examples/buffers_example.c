/* tensorpool buffers in one page: allocate, construct with a generator,
 * rebind, convert, read values on the host, and print the pool's
 * statistics.
 *
 * Runs as one process or under mpiexec: with MPI the runtime spans
 * MPI_COMM_WORLD, and the distributed tensor is split over the ranks. With a
 * GPU the automatic choice may put the tensor in device memory, so values
 * reach the host through tp_buffer_read, never through tp_buffer_data. */
#include <stdio.h>
#include <stdlib.h>

#include "tensorpool/allocator.h"
#include "tensorpool/ops.h"

#if TP_HAVE_MPI
#include <mpi.h>
#endif

#define CHECK(call)                                                            \
  do {                                                                         \
    tp_status st_ = (call);                                                    \
    if (st_ != TP_SUCCESS) {                                                   \
      fprintf(stderr, "%s failed: %s: %s\n", #call, tp_status_name(st_),       \
              tp_last_error());                                                \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

static void print_line(void *user, const char *line) {
  printf("[rank %d] %s\n", *(int *)user, line);
}

int main(int argc, char **argv) {
#if TP_HAVE_MPI
  MPI_Init(&argc, &argv);
#else
  (void)argc;
  (void)argv;
#endif
  tp_runtime *rt;
  CHECK(tp_runtime_create(NULL, &rt));
  int rank = tp_runtime_rank(rt), ranks = tp_runtime_size(rt);

  /* A 1000 x 64 tensor of doubles, split by rows over the ranks. */
  tp_layout layout;
  int64_t extents[2] = {1000, 64};
  CHECK(tp_layout_make(TP_DTYPE_F64, 2, extents, &layout));

  /* Let the library pick the backend, and say why. TP_ACCESS_ANY: this
   * program reads values with tp_buffer_read, so device memory is fine. */
  tp_allocator_choice choice = TP_ALLOCATOR_CHOICE_INIT;
  CHECK(tp_allocator_choose(rt, &layout, TP_BUFFER_DISTRIBUTED, TP_ACCESS_ANY,
                            &choice));
  if (rank == 0)
    printf("automatic allocator: %s\n", choice.reason);
  tp_allocator *dist = choice.allocator;

  /* Uninitialized memory, then random numbers that do not depend on the
   * number of ranks: element (i, j) is the same on 1 or 4 ranks. */
  tp_buffer *scratch, *noise;
  CHECK(tp_allocator_allocate(dist, &layout, NULL, NULL, &scratch));
  tp_generator normal = tp_generator_normal(2024, 0.0, 1.0);
  CHECK(tp_allocator_construct_generator(dist, &layout, NULL, &normal, NULL,
                                         &noise));
  const tp_tile *tile = tp_buffer_tile(noise);
  printf("rank %d of %d holds rows %lld..%lld\n", rank, ranks,
         (long long)tile->offsets[0],
         (long long)(tile->offsets[0] + tile->extents[0]));

  /* The same backend for a replicated tensor, and a conversion to it: an
   * all-gather of the tiles. */
  tp_allocator *repl;
  CHECK(tp_allocator_rebind(dist, TP_BUFFER_REPLICATED, &repl));
  tp_buffer *whole;
  CHECK(tp_allocator_construct_copy(repl, noise, NULL, NULL, &whole));

  /* The values on the host, wherever the buffer lives: tp_buffer_read waits
   * for the work queued on the buffer's stream and copies. */
  size_t count = tp_buffer_tile(whole)->count;
  double *v = malloc(count * sizeof *v);
  if (!v)
    return 1;
  CHECK(tp_buffer_read(whole, 0, count * sizeof *v, v));
  double sum = 0.0;
  for (size_t i = 0; i < count; ++i)
    sum += v[i];
  printf("rank %d: mean of all %zu values = %.6f, element (999, 63) = %.17g "
         "(%s memory, host-readable: %s)\n",
         rank, count, sum / (double)count, v[999 * 64 + 63],
         tp_space_kind_name(tp_allocator_space_kind_of(repl)),
         tp_buffer_is_host_accessible(whole) ? "yes" : "no");
  free(v);

  /* An operation allocates its result through its operands' allocator. */
  tp_buffer *twice;
  CHECK(tp_axpby(tp_scalar_real(1.0), noise, tp_scalar_real(1.0), noise, NULL,
                 &twice));

  if (rank == 0) {
    tp_pool *pool;
    CHECK(tp_runtime_pool(rt, tp_allocator_space_kind_of(dist), &pool));
    CHECK(tp_pool_print_stats(pool, print_line, &rank));
  }

  CHECK(tp_buffer_destroy(twice));
  CHECK(tp_buffer_destroy(whole));
  CHECK(tp_buffer_destroy(noise));
  CHECK(tp_buffer_destroy(scratch));
  CHECK(tp_runtime_destroy(rt));
#if TP_HAVE_MPI
  MPI_Finalize();
#endif
  return 0;
}
