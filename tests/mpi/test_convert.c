/* Conversions over MPI with any number of ranks (run with 1 to 4):
 * round trips distributed -> replicated -> distributed are exact for every
 * generator, type and uneven tiling; redistributions between tilings agree
 * with a single-process construction; random fills are the same bits on
 * every rank count; on collective routes disagreement and failures are
 * errors on every rank; routes that do not communicate (clones, copies,
 * slices, moves in place) run on one rank alone and take buffers that
 * differ between ranks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "tensorpool/allocator.h"
#include "tensorpool/ops.h"

#if TP_HAVE_MPI
#include "tensorpool/mpi.h"
#endif

/* In sanitizer builds: Open MPI's own allocations from MPI_Init and
 * MPI_Finalize are not ours (tests/mpi/lsan_mpi.supp has the same list);
 * full unwinding lets the suppressions see those frames. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
  return "fast_unwind_on_malloc=0";
}
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:ompi_mpi_init\nleak:orte_init\nleak:PMPI_Init\n"
         "leak:ompi_mpi_finalize\nleak:orte_finalize\nleak:PMPI_Finalize\n"
         "leak:event_base_loop\n";
}

static int rank_ = 0;
static int checks = 0;

static void fail(const char *what, int line) {
  fprintf(stderr, "rank %d: check failed at line %d: %s (last error: %s)\n",
          rank_, line, what, tp_last_error());
#if TP_HAVE_MPI
  MPI_Abort(MPI_COMM_WORLD, 1);
#endif
  exit(1);
}

#define CHECK(cond)                                                            \
  do {                                                                         \
    ++checks;                                                                  \
    if (!(cond))                                                               \
      fail(#cond, __LINE__);                                                   \
  } while (0)
#define OK(call) CHECK((call) == TP_SUCCESS)

static tp_runtime *rt;
static int ranks;

static tp_allocator *host(tp_buffer_kind kind) {
  tp_allocator *a;
  OK(tp_runtime_allocator(rt, TP_SPACE_HOST, kind, &a));
  return a;
}

/* An uneven tiling over the ranks, different for each `variant`, with
 * empty parts. */
static tp_tiling *uneven(const tp_layout *l, int variant) {
  int64_t rows = l->extents[0], *counts = calloc((size_t)ranks, 8);
  int64_t left = rows;
  for (int p = 0; p < ranks; ++p) {
    int64_t want =
        (p + variant) % 3 == 0 ? 0 : rows / ranks + (p + variant) % 2;
    counts[p] = p == ranks - 1 ? left : (want < left ? want : left);
    left -= counts[p];
  }
  tp_tiling *t;
  OK(tp_tiling_create(l, ranks, counts, &t));
  free(counts);
  return t;
}

static int same_bytes(const tp_buffer *a, const tp_buffer *b) {
  return tp_buffer_bytes(a) == tp_buffer_bytes(b) &&
         (tp_buffer_bytes(a) == 0 ||
          memcmp(tp_buffer_data(a), tp_buffer_data(b), tp_buffer_bytes(a)) ==
              0);
}

/* Whether a distributed buffer's tile equals that part of a whole tensor. */
static int tile_matches(const tp_buffer *dist, const tp_buffer *whole) {
  const tp_tile *t = tp_buffer_tile(dist);
  size_t elem = tp_dtype_size(tp_buffer_layout(dist)->dtype);
  return t->count == 0 ||
         memcmp(tp_buffer_data(dist),
                (const char *)tp_buffer_data(whole) + t->first * elem,
                t->count * elem) == 0;
}

static void round_trips(void) {
  tp_dtype types[6] = {TP_DTYPE_F32,  TP_DTYPE_F64, TP_DTYPE_C64,
                       TP_DTYPE_C128, TP_DTYPE_I32, TP_DTYPE_I64};
  double coeff[3] = {3, -1, 0.5};
  tp_generator gens[5] = {
      tp_generator_arange(-7, 3), tp_generator_affine(1, 3, coeff),
      tp_generator_identity(2), tp_generator_uniform(42, -10, 10),
      tp_generator_normal(42, 1, 3)};
  int64_t ext[3] = {11, 3, 2};
  for (int t = 0; t < 6; ++t)
    for (int g = 0; g < 5; ++g) {
      tp_layout l;
      OK(tp_layout_make(types[t], 3, ext, &l));
      if (tp_generator_check(&gens[g], &l) != TP_SUCCESS)
        continue;
      tp_tiling *t1 = uneven(&l, 0), *t2 = uneven(&l, 1);
      /* The reference: the whole tensor built by this process alone. */
      tp_buffer *whole, *d1, *repl, *back, *d2, *repl2;
      OK(tp_allocator_construct_generator(host(TP_BUFFER_LOCAL), &l, NULL,
                                          &gens[g], NULL, &whole));
      OK(tp_allocator_construct_generator(host(TP_BUFFER_DISTRIBUTED), &l, t1,
                                          &gens[g], NULL, &d1));
      CHECK(tile_matches(d1, whole));
      OK(tp_allocator_construct_copy(host(TP_BUFFER_REPLICATED), d1, NULL, NULL,
                                     &repl));
      CHECK(same_bytes(repl, whole));
      OK(tp_allocator_construct_copy(host(TP_BUFFER_DISTRIBUTED), repl, t1,
                                     NULL, &back));
      CHECK(same_bytes(back, d1));
      OK(tp_allocator_construct_copy(host(TP_BUFFER_DISTRIBUTED), d1, t2, NULL,
                                     &d2));
      CHECK(tile_matches(d2, whole));
      OK(tp_allocator_construct_copy(host(TP_BUFFER_LOCAL), d2, NULL, NULL,
                                     &repl2));
      CHECK(same_bytes(repl2, whole));
      /* Moving back to the first tiling gives the original tile. */
      tp_buffer *moved;
      OK(tp_allocator_construct_move(host(TP_BUFFER_DISTRIBUTED), &d2, t1, NULL,
                                     &moved));
      CHECK(d2 == NULL);
      CHECK(same_bytes(moved, d1));
      tp_buffer *list[6] = {whole, d1, repl, back, repl2, moved};
      for (int i = 0; i < 6; ++i)
        OK(tp_buffer_destroy(list[i]));
      tp_tiling_destroy(t1);
      tp_tiling_destroy(t2);
    }
}

/* Every rank's local tensor differs; local -> replicated is rank 0's. */
static void local_to_replicated(void) {
  int64_t ext[1] = {5};
  tp_layout l;
  OK(tp_layout_make(TP_DTYPE_I64, 1, ext, &l));
  tp_buffer *mine, *repl;
  OK(tp_allocator_construct_value(host(TP_BUFFER_LOCAL), &l, NULL,
                                  tp_scalar_int(100 + rank_), NULL, &mine));
  OK(tp_allocator_construct_copy(host(TP_BUFFER_REPLICATED), mine, NULL, NULL,
                                 &repl));
  const int64_t *v = tp_buffer_data(repl);
  for (int i = 0; i < 5; ++i)
    CHECK(v[i] == 100);
  OK(tp_buffer_destroy(repl));
  OK(tp_buffer_destroy(mine));
}

/* FNV-1a of a buffer's bytes. */
static uint64_t hash_bytes(const tp_buffer *b) {
  uint64_t h = 1469598103934665603ull;
  const unsigned char *p = tp_buffer_data(b);
  for (size_t i = 0; i < tp_buffer_bytes(b); ++i)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

/* The gathered random tensor hashes like the one built by one process. */
static void random_fills_are_rank_count_independent(void) {
  int64_t ext[2] = {1001, 17};
  tp_dtype types[4] = {TP_DTYPE_F32, TP_DTYPE_F64, TP_DTYPE_C128, TP_DTYPE_I32};
  for (int t = 0; t < 4; ++t) {
    tp_layout l;
    OK(tp_layout_make(types[t], 2, ext, &l));
    tp_generator g = types[t] == TP_DTYPE_I32
                         ? tp_generator_uniform(9, -1000, 1000)
                         : tp_generator_normal(9, 0, 1);
    tp_buffer *alone, *dist, *gathered;
    OK(tp_allocator_construct_generator(host(TP_BUFFER_LOCAL), &l, NULL, &g,
                                        NULL, &alone));
    OK(tp_allocator_construct_generator(host(TP_BUFFER_DISTRIBUTED), &l, NULL,
                                        &g, NULL, &dist));
    OK(tp_allocator_construct_copy(host(TP_BUFFER_REPLICATED), dist, NULL, NULL,
                                   &gathered));
    CHECK(hash_bytes(gathered) == hash_bytes(alone));
    if (rank_ == 0)
      printf("%s normal/uniform 1001x17 on %d ranks: hash %016llx\n",
             tp_dtype_name(types[t]), ranks,
             (unsigned long long)hash_bytes(gathered));
    OK(tp_buffer_destroy(gathered));
    OK(tp_buffer_destroy(dist));
    OK(tp_buffer_destroy(alone));
  }
}

/* Tiles of 256 KiB and more are gathered in place, smaller ones from a
 * separate send buffer (src/dist/mpi_collectives.c): both give the tensor
 * one process builds alone, for even and uneven tiles. */
static void large_tiles_gather_like_small_ones(void) {
  int64_t ext[1] = {40000 * ranks + 3}; /* 320 KB of f64 per tile */
  tp_layout l;
  OK(tp_layout_make(TP_DTYPE_F64, 1, ext, &l));
  tp_generator g = tp_generator_uniform(5, -1, 1);
  tp_tiling *t = uneven(&l, 2);
  tp_buffer *alone, *even, *odd, *a, *b;
  OK(tp_allocator_construct_generator(host(TP_BUFFER_LOCAL), &l, NULL, &g, NULL,
                                      &alone));
  OK(tp_allocator_construct_generator(host(TP_BUFFER_DISTRIBUTED), &l, NULL, &g,
                                      NULL, &even));
  OK(tp_allocator_construct_generator(host(TP_BUFFER_DISTRIBUTED), &l, t, &g,
                                      NULL, &odd));
  OK(tp_allocator_construct_copy(host(TP_BUFFER_REPLICATED), even, NULL, NULL,
                                 &a));
  OK(tp_allocator_construct_copy(host(TP_BUFFER_REPLICATED), odd, NULL, NULL,
                                 &b));
  CHECK(same_bytes(a, alone));
  CHECK(same_bytes(b, alone));
  tp_buffer *list[5] = {alone, even, odd, a, b};
  for (int i = 0; i < 5; ++i)
    OK(tp_buffer_destroy(list[i]));
  tp_tiling_destroy(t);
}

/* Ranks that disagree on the layout all get TP_ERR_MISMATCH. */
static void disagreement_is_an_error_everywhere(void) {
  if (ranks == 1)
    return;
  int64_t ext[2] = {rank_ == ranks - 1 ? 9 : 8, 4};
  tp_layout l;
  OK(tp_layout_make(TP_DTYPE_F64, 2, ext, &l));
  tp_buffer *dist, *repl = NULL;
  OK(tp_allocator_construct_value(host(TP_BUFFER_DISTRIBUTED), &l, NULL,
                                  tp_scalar_real(1), NULL, &dist));
  CHECK(tp_allocator_construct_copy(host(TP_BUFFER_REPLICATED), dist, NULL,
                                    NULL, &repl) == TP_ERR_MISMATCH);
  CHECK(repl == NULL);
  OK(tp_buffer_destroy(dist));
}

/* An 8 x 4 f64 tensor distributed in blocks, every element `value`; its
 * layout in *l. */
static tp_buffer *distributed_8x4(double value, tp_layout *l) {
  int64_t ext[2] = {8, 4};
  OK(tp_layout_make(TP_DTYPE_F64, 2, ext, l));
  tp_buffer *b;
  OK(tp_allocator_construct_value(host(TP_BUFFER_DISTRIBUTED), l, NULL,
                                  tp_scalar_real(value), NULL, &b));
  return b;
}

/* Ranks that disagree on the kinds of a collective conversion (rank 0
 * gathers into a local buffer, the others into a replicated one, or one
 * redistributes while the others gather), and ranks that disagree on the
 * target tiling of a move that some could do in place: all get
 * TP_ERR_MISMATCH instead of waiting in different collectives. (Kinds that
 * make one rank's route collective and another's not are the caller's
 * error, as calling different MPI collectives is: see allocator.h.) */
static void disagreeing_kinds_are_an_error_everywhere(void) {
  if (ranks == 1)
    return;
  tp_layout l;
  tp_buffer *src = distributed_8x4(2, &l), *out = NULL;
  tp_buffer_kind to = rank_ == 0 ? TP_BUFFER_LOCAL : TP_BUFFER_REPLICATED;
  CHECK(tp_allocator_construct_copy(host(to), src, NULL, NULL, &out) ==
        TP_ERR_MISMATCH);
  CHECK(out == NULL);
  to = rank_ == 0 ? TP_BUFFER_DISTRIBUTED : TP_BUFFER_REPLICATED;
  CHECK(tp_allocator_construct_copy(host(to), src, NULL, NULL, &out) ==
        TP_ERR_MISMATCH);
  CHECK(out == NULL);
  /* Rank 0 keeps the block tiling (it would reuse the storage), the others
   * ask for another one (they would redistribute). */
  tp_tiling *other = NULL;
  if (rank_ != 0)
    other = uneven(&l, 1);
  tp_buffer *handle = src;
  CHECK(tp_allocator_construct_move(host(TP_BUFFER_DISTRIBUTED), &handle, other,
                                    NULL, &out) == TP_ERR_MISMATCH);
  CHECK(out == NULL);
  CHECK(handle == src); /* the source is left as it was */
  tp_tiling_destroy(other);
  OK(tp_buffer_destroy(src));
}

/* Conversions that do not communicate are not collective: rank 0 makes them
 * alone while the other ranks wait in a barrier, and nothing hangs. */
static void routes_without_communication_run_alone(void) {
  int64_t ext[2] = {6, 3};
  tp_layout l;
  OK(tp_layout_make(TP_DTYPE_I32, 2, ext, &l));
  tp_buffer *local, *repl, *dist;
  OK(tp_allocator_construct_value(host(TP_BUFFER_LOCAL), &l, NULL,
                                  tp_scalar_int(7), NULL, &local));
  OK(tp_allocator_construct_value(host(TP_BUFFER_REPLICATED), &l, NULL,
                                  tp_scalar_int(8), NULL, &repl));
  OK(tp_allocator_construct_value(host(TP_BUFFER_DISTRIBUTED), &l, NULL,
                                  tp_scalar_int(9), NULL, &dist));
  if (rank_ == 0) {
    tp_buffer *c[7] = {NULL};
    OK(tp_buffer_clone(local, NULL, &c[0]));
    OK(tp_buffer_clone(repl, NULL, &c[1]));
    OK(tp_buffer_clone(dist, NULL, &c[2]));
    CHECK(same_bytes(c[0], local) && same_bytes(c[1], repl) &&
          same_bytes(c[2], dist));
    CHECK(tp_buffer_kind_of(c[2]) == TP_BUFFER_DISTRIBUTED);
    OK(tp_allocator_construct_copy(host(TP_BUFFER_LOCAL), repl, NULL, NULL,
                                   &c[3]));
    OK(tp_allocator_construct_copy(host(TP_BUFFER_DISTRIBUTED), repl, NULL,
                                   NULL, &c[4]));
    CHECK(tile_matches(c[4], repl));
    OK(tp_allocator_construct_copy(host(TP_BUFFER_DISTRIBUTED), local, NULL,
                                   NULL, &c[5]));
    CHECK(tile_matches(c[5], local));
    /* replicated -> local reuses the storage. */
    tp_buffer *handle = c[1];
    OK(tp_allocator_construct_move(host(TP_BUFFER_LOCAL), &handle, NULL, NULL,
                                   &c[6]));
    CHECK(handle == NULL && c[6] == c[1]);
    CHECK(tp_buffer_kind_of(c[6]) == TP_BUFFER_LOCAL);
    c[1] = NULL;
    for (int i = 0; i < 7; ++i)
      OK(tp_buffer_destroy(c[i]));
  }
#if TP_HAVE_MPI
  MPI_Barrier(tp_runtime_comm(rt));
#endif
  /* The communicator is still in step: a collective conversion works. */
  tp_buffer *gathered;
  OK(tp_allocator_construct_copy(host(TP_BUFFER_REPLICATED), dist, NULL, NULL,
                                 &gathered));
  const int32_t *v = tp_buffer_data(gathered);
  for (int i = 0; i < 18; ++i)
    CHECK(v[i] == 9);
  OK(tp_buffer_destroy(gathered));
  OK(tp_buffer_destroy(dist));
  OK(tp_buffer_destroy(repl));
  OK(tp_buffer_destroy(local));
}

/* Every rank's local buffer has its own length: clones and local copies work
 * (no agreement is asked for), and gathering them is TP_ERR_MISMATCH on
 * every rank (the collective route still checks). */
static void local_buffers_of_different_lengths(void) {
  int64_t ext[1] = {3 + rank_};
  tp_layout l;
  OK(tp_layout_make(TP_DTYPE_I64, 1, ext, &l));
  tp_buffer *mine, *clone, *copy, *repl = NULL;
  tp_generator g = tp_generator_arange(10 * rank_, 1);
  OK(tp_allocator_construct_generator(host(TP_BUFFER_LOCAL), &l, NULL, &g, NULL,
                                      &mine));
  OK(tp_buffer_clone(mine, NULL, &clone));
  CHECK(same_bytes(clone, mine));
  CHECK(tp_buffer_layout(clone)->extents[0] == 3 + rank_);
  OK(tp_allocator_construct_copy(host(TP_BUFFER_LOCAL), mine, NULL, NULL,
                                 &copy));
  CHECK(same_bytes(copy, mine));
  if (ranks > 1) {
    CHECK(tp_allocator_construct_copy(host(TP_BUFFER_REPLICATED), mine, NULL,
                                      NULL, &repl) == TP_ERR_MISMATCH);
    CHECK(repl == NULL);
  }
  OK(tp_buffer_destroy(copy));
  OK(tp_buffer_destroy(clone));
  OK(tp_buffer_destroy(mine));
}

/* One rank out of budget: every rank fails instead of hanging. */
static void a_failure_on_one_rank_fails_all(void) {
  int64_t ext[2] = {64, 64};
  tp_layout l;
  OK(tp_layout_make(TP_DTYPE_F64, 2, ext, &l));
  tp_buffer *dist, *repl = NULL;
  OK(tp_allocator_construct_value(host(TP_BUFFER_DISTRIBUTED), &l, NULL,
                                  tp_scalar_real(1), NULL, &dist));
  /* Rank 0's budget: what its live buffers hold (cached blocks released),
   * so its next allocation fails. */
  if (rank_ == 0) {
    tp_pool *pool;
    OK(tp_runtime_pool(rt, TP_SPACE_HOST, &pool));
    OK(tp_pool_trim(pool, 0));
    tp_memory_figures f = TP_MEMORY_FIGURES_INIT;
    OK(tp_runtime_memory(rt, TP_SPACE_HOST, &f));
    OK(tp_runtime_set_budget(rt, TP_SPACE_HOST, f.reserved_bytes));
  }
  /* Free ranges between live blocks count in the budget but may still
   * hold the copy: rank 0 fills them first. */
  enum { FILLERS = 64 };
  void *filler[FILLERS] = {0};
  if (rank_ == 0) {
    tp_pool *pool;
    OK(tp_runtime_pool(rt, TP_SPACE_HOST, &pool));
    for (int i = 0; i < FILLERS; i++)
      if (tp_pool_alloc(pool, 64 * 64 * sizeof(double), NULL, &filler[i]) !=
          TP_SUCCESS)
        break;
  }
  tp_status st = tp_allocator_construct_copy(host(TP_BUFFER_REPLICATED), dist,
                                             NULL, NULL, &repl);
  CHECK(st == TP_ERR_OUT_OF_MEMORY);
  CHECK(repl == NULL);
  if (rank_ == 0) {
    tp_pool *pool;
    OK(tp_runtime_pool(rt, TP_SPACE_HOST, &pool));
    for (int i = 0; i < FILLERS; i++)
      OK(tp_pool_free(pool, filler[i], NULL));
    OK(tp_runtime_set_budget(rt, TP_SPACE_HOST, TP_UNLIMITED));
  }
  OK(tp_buffer_destroy(dist));
}

/* One rank's own argument errors on a collective route: a NULL
 * out-pointer, a source made by another runtime, a tiling given to a
 * replicated allocator. Every rank returns the error (the others were on
 * their way into the agreement) instead of waiting for that rank; sources
 * stay as they were. */
static void an_argument_error_on_one_rank_fails_all(void) {
  if (ranks == 1)
    return;
  int last = rank_ == ranks - 1;
  tp_layout l;
  tp_buffer *dist = distributed_8x4(3, &l), *repl = NULL;
  CHECK(tp_allocator_construct_copy(host(TP_BUFFER_REPLICATED), dist, NULL,
                                    NULL, last ? NULL : &repl) ==
        TP_ERR_INVALID_ARGUMENT);
  CHECK(repl == NULL);
  /* A second runtime over the same ranks: the last rank copies its buffer
   * with the first runtime's allocator. */
  tp_runtime *other_rt;
  OK(tp_runtime_create(NULL, &other_rt));
  tp_allocator *other_dist;
  OK(tp_runtime_allocator(other_rt, TP_SPACE_HOST, TP_BUFFER_DISTRIBUTED,
                          &other_dist));
  tp_buffer *foreign;
  OK(tp_allocator_construct_value(other_dist, &l, NULL, tp_scalar_real(4), NULL,
                                  &foreign));
  CHECK(tp_allocator_construct_copy(host(TP_BUFFER_REPLICATED),
                                    last ? foreign : dist, NULL, NULL,
                                    &repl) == TP_ERR_MISMATCH);
  CHECK(repl == NULL);
  /* A move with a tiling for a replicated result on the last rank. */
  tp_tiling *block;
  OK(tp_tiling_create_block(&l, ranks, &block));
  tp_buffer *handle = dist;
  CHECK(tp_allocator_construct_move(host(TP_BUFFER_REPLICATED), &handle,
                                    last ? block : NULL, NULL,
                                    &repl) == TP_ERR_INVALID_ARGUMENT);
  CHECK(repl == NULL);
  CHECK(handle == dist);
  /* Nothing lost: the same conversion without the errors works. */
  OK(tp_allocator_construct_copy(host(TP_BUFFER_REPLICATED), dist, NULL, NULL,
                                 &repl));
  double first = 0;
  OK(tp_buffer_read(repl, 0, sizeof first, &first));
  CHECK(first == 3);
  OK(tp_buffer_destroy(repl));
  tp_tiling_destroy(block);
  OK(tp_buffer_destroy(foreign));
  OK(tp_runtime_destroy(other_rt));
  OK(tp_buffer_destroy(dist));
}

int main(int argc, char **argv) {
#if TP_HAVE_MPI
  MPI_Init(&argc, &argv);
#else
  (void)argc;
  (void)argv;
#endif
  OK(tp_runtime_create(NULL, &rt));
  rank_ = tp_runtime_rank(rt);
  ranks = tp_runtime_size(rt);
  round_trips();
  local_to_replicated();
  random_fills_are_rank_count_independent();
  large_tiles_gather_like_small_ones();
  disagreement_is_an_error_everywhere();
  disagreeing_kinds_are_an_error_everywhere();
  routes_without_communication_run_alone();
  local_buffers_of_different_lengths();
  a_failure_on_one_rank_fails_all();
  an_argument_error_on_one_rank_fails_all();
  /* Again with messages cut into pieces of 7 bytes: the path taken for
   * counts beyond INT_MAX. */
  tp_mpi_set_max_message(7);
  round_trips();
  local_to_replicated();
  tp_mpi_set_max_message(0);
  OK(tp_runtime_destroy(rt));
  if (rank_ == 0)
    printf("%d ranks: %d checks passed\n", ranks, checks);
#if TP_HAVE_MPI
  MPI_Finalize();
#endif
  return 0;
}
