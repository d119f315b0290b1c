/* The device all-gather's plan (src/dist/gather_plan.c): the scheme for
 * each layout, the model's choice at the sizes docs/buffers.md tabulates,
 * and the padded scheme's index arithmetic, checked by carrying it out in
 * host memory (NCCL's padded all-gather, then the compaction by runs) and
 * comparing with the tiles laid end to end. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dist/gather_plan.h"
#include "test_rng.h"

static tp_gather_model model(void) {
  tp_gather_model m;
  tp_gather_model_default(&m);
  return m;
}

/* Rows of `row` bytes split over `ranks` as a block tiling does: the first
 * rows % ranks tiles get one row more. */
static void block(int ranks, size_t rows, size_t row, size_t *counts,
                  size_t *displs) {
  size_t at = 0;
  for (int r = 0; r < ranks; ++r) {
    size_t n = rows / (size_t)ranks + ((size_t)r < rows % (size_t)ranks);
    counts[r] = n * row;
    displs[r] = at;
    at += counts[r];
  }
}

static tp_gather_plan plan_of(int ranks, int nodes, const size_t *counts,
                              const size_t *displs) {
  tp_gather_model m = model();
  tp_gather_plan p;
  cr_assert_eq(tp_gather_plan_make(&m, ranks, nodes, counts, displs, &p),
               TP_SUCCESS);
  return p;
}

Test(gather_plan, no_bytes_is_nothing) {
  size_t counts[3] = {0, 0, 0}, displs[3] = {0, 0, 0};
  tp_gather_plan p = plan_of(3, 1, counts, displs);
  cr_expect_eq(p.scheme, TP_GATHER_NOTHING);
  cr_expect_eq(p.total, 0);
}

Test(gather_plan, one_sender_is_a_broadcast_from_it) {
  size_t counts[4] = {0, 0, 96, 0}, displs[4] = {0, 0, 0, 96};
  tp_gather_plan p = plan_of(4, 1, counts, displs);
  cr_expect_eq(p.scheme, TP_GATHER_BROADCAST);
  cr_expect_eq(p.root, 2);
  cr_expect_eq(p.total, 96);
  /* One rank: its tile is the whole result, also a broadcast (of one). */
  size_t one = 40, zero = 0;
  p = plan_of(1, 1, &one, &zero);
  cr_expect_eq(p.scheme, TP_GATHER_BROADCAST);
  cr_expect_eq(p.root, 0);
}

Test(gather_plan, equal_tiles_in_order_are_one_all_gather) {
  size_t counts[8], displs[8];
  block(8, 64, 1024, counts, displs);
  tp_gather_plan p = plan_of(8, 1, counts, displs);
  cr_expect_eq(p.scheme, TP_GATHER_EVEN);
  cr_expect_eq(p.slot, 8 * 1024);
  cr_expect_eq(p.staging, 0);
  /* Equal counts out of rank order are not "even". */
  size_t swapped[8];
  memcpy(swapped, displs, sizeof swapped);
  swapped[0] = displs[1];
  swapped[1] = displs[0];
  p = plan_of(8, 1, counts, swapped);
  cr_expect_neq(p.scheme, TP_GATHER_EVEN);
}

Test(gather_plan, a_block_tiling_pads_to_the_largest_tile_in_two_runs) {
  size_t counts[8], displs[8];
  block(8, 63, 1024, counts, displs); /* 7 tiles of 8 rows, one of 7 */
  tp_gather_plan p = plan_of(8, 1, counts, displs);
  cr_expect_eq(p.scheme, TP_GATHER_PADDED);
  cr_expect_eq(p.slot, 8 * 1024);
  cr_expect_eq(p.staging, 8 * 8 * 1024);
  cr_expect_eq(p.runs, 2);
  cr_expect_eq(p.total, 63 * 1024);
  cr_expect_lt(p.padded_us, p.broadcasts_us);
}

/* The choices docs/buffers.md tabulates: 1 KiB rows, one row fewer than
 * an even split (S / 1 KiB - 1 rows), 8 GPUs on one node, 64 on 8 nodes,
 * 1024 on 128 nodes. */
static tp_gather_scheme choice(int ranks, int nodes, size_t bytes) {
  size_t *counts = calloc((size_t)ranks, sizeof *counts);
  size_t *displs = calloc((size_t)ranks, sizeof *displs);
  cr_assert(counts && displs);
  block(ranks, bytes / 1024 - 1, 1024, counts, displs);
  tp_gather_plan p = plan_of(ranks, nodes, counts, displs);
  free(counts);
  free(displs);
  return p.scheme;
}

Test(gather_plan, the_documented_choices) {
  size_t kib = 1024, mib = kib * kib, gib = kib * mib;
  size_t sizes[4] = {64 * kib, mib, 64 * mib, gib};
  for (int i = 0; i < 4; ++i)
    cr_expect_eq(choice(64, 8, sizes[i]), TP_GATHER_PADDED, "64 GPUs, %zu B",
                 sizes[i]);
  for (int i = 0; i < 3; ++i)
    cr_expect_eq(choice(8, 1, sizes[i]), TP_GATHER_PADDED, "8 GPUs, %zu B",
                 sizes[i]);
  /* 8 GPUs and 1 GiB: the compaction costs as much as the padding saves;
   * the model gives the group by 2%. */
  cr_expect_eq(choice(8, 1, gib), TP_GATHER_BROADCASTS);
  /* 1024 GPUs and 63 rows: 63 broadcasts beat one all-gather through 1023
   * ring steps; from 1 MiB on every rank has rows and padding wins. */
  cr_expect_eq(choice(1024, 128, 64 * kib), TP_GATHER_BROADCASTS);
  cr_expect_eq(choice(1024, 128, mib), TP_GATHER_PADDED);
  cr_expect_eq(choice(1024, 128, 64 * mib), TP_GATHER_PADDED);
  cr_expect_eq(choice(1024, 128, gib), TP_GATHER_PADDED);
}

Test(gather_plan, one_large_tile_among_small_ones_is_broadcast) {
  /* Rank 0 holds 1 GiB, the others 1 KiB: padding would move 8 GiB. */
  size_t counts[8], displs[8], at = 0;
  for (int r = 0; r < 8; ++r) {
    counts[r] = r == 0 ? (size_t)1 << 30 : 1024;
    displs[r] = at;
    at += counts[r];
  }
  tp_gather_plan p = plan_of(8, 1, counts, displs);
  cr_expect_eq(p.scheme, TP_GATHER_BROADCASTS);
  cr_expect_eq(p.staging, 0);
}

Test(gather_plan, more_senders_than_a_group_holds_are_padded) {
  tp_gather_model m = model();
  m.max_group_ops = 4;
  m.base_us[0] = m.base_us[1] = 0; /* broadcasts would be cheaper */
  m.hop_nvlink_us[0] = m.hop_nvlink_us[1] = 0;
  m.copy_us = 1e9;
  size_t counts[6], displs[6];
  block(6, 11, 8, counts, displs);
  tp_gather_plan p;
  cr_assert_eq(tp_gather_plan_make(&m, 6, 1, counts, displs, &p), TP_SUCCESS);
  cr_expect_eq(p.scheme, TP_GATHER_PADDED);
  m.max_group_ops = 2048;
  cr_assert_eq(tp_gather_plan_make(&m, 6, 1, counts, displs, &p), TP_SUCCESS);
  cr_expect_eq(p.scheme, TP_GATHER_BROADCASTS);
}

Test(gather_plan, bad_input_is_refused) {
  tp_gather_model m = model();
  size_t counts[2] = {8, 8}, displs[2] = {0, SIZE_MAX - 4};
  tp_gather_plan p;
  cr_expect_eq(tp_gather_plan_make(&m, 2, 1, counts, displs, &p),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_gather_plan_make(&m, 0, 1, counts, displs, &p),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_gather_plan_make(NULL, 2, 1, counts, displs, &p),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_gather_plan_make(&m, 2, 1, NULL, displs, &p),
               TP_ERR_INVALID_ARGUMENT);
}

Test(gather_plan, the_model_grows_with_ranks_and_bytes) {
  tp_gather_model m = model();
  cr_expect_eq(tp_gather_model_allgather_us(&m, 1, 1, 1 << 20), 0.0);
  double a8 = tp_gather_model_allgather_us(&m, 8, 1, 1 << 20);
  double a64 = tp_gather_model_allgather_us(&m, 64, 8, 1 << 20);
  double a1024 = tp_gather_model_allgather_us(&m, 1024, 128, 1 << 20);
  cr_expect(a8 > 0 && a8 < a64 && a64 < a1024);
  cr_expect_lt(tp_gather_model_broadcast_us(&m, 8, 1, 1 << 10),
               tp_gather_model_broadcast_us(&m, 8, 1, 1 << 24));
  /* Large all-gathers move (n-1)/n of the bytes at bus bandwidth: 1 GiB on
   * 8 GPUs at 350 GB/s takes 1 GiB * 7/8 / 350 GB/s plus the latency. */
  double big = tp_gather_model_allgather_us(&m, 8, 1, (size_t)1 << 30);
  double want = (double)((size_t)1 << 30) * 7.0 / 8.0 / 350e3;
  cr_expect(big > want && big < want + 50.0, "%f vs %f", big, want);
}

/* Carries out the padded scheme in host memory: what NCCL's all-gather of
 * `slot` bytes per rank leaves in the staging block (tile r at r * slot,
 * the rest of each slot undefined), then the compaction by runs with a 2D
 * copy each. */
static void padded_on_host(int ranks, const size_t *counts,
                           const size_t *displs, size_t slot,
                           unsigned char *const *tiles, unsigned char *out) {
  unsigned char *staging = malloc((size_t)ranks * slot + 1);
  cr_assert(staging);
  memset(staging, 0xEE, (size_t)ranks * slot + 1);
  for (int r = 0; r < ranks; ++r)
    memcpy(staging + (size_t)r * slot, tiles[r], counts[r]);
  int first = 0, len = 0, seen = 0;
  while (tp_gather_next_run(ranks, counts, displs, &first, &len)) {
    cr_assert_gt(len, 0);
    cr_assert_geq(first, seen, "runs move forward");
    for (int k = 0; k < len; ++k) {
      int r = first + k;
      cr_assert_gt(counts[r], 0);
      cr_assert_eq(counts[r], counts[first]);
      /* Row k of the 2D copy: source pitch slot, destination pitch count. */
      memcpy(out + displs[first] + (size_t)k * counts[first],
             staging + (size_t)r * slot, counts[first]);
    }
    seen = first + len;
  }
  free(staging);
}

Test(gather_plan, padded_compaction_is_exact_for_random_uneven_tiles) {
  tp_rng rng = tp_rng_make(12);
  for (int trial = 0; trial < 400; ++trial) {
    int ranks = 1 + (int)tp_rng_below(&rng, 17);
    size_t counts[17], displs[17], total = 0;
    unsigned char *tiles[17];
    for (int r = 0; r < ranks; ++r) {
      /* Empty tiles, equal neighbours and odd sizes all occur. */
      size_t pick = tp_rng_below(&rng, 4);
      counts[r] = pick == 0 ? 0 : pick == 1 ? 24 : 1 + tp_rng_below(&rng, 100);
      displs[r] = total;
      total += counts[r];
      tiles[r] = malloc(counts[r] + 1);
      for (size_t i = 0; i < counts[r]; ++i)
        tiles[r][i] = (unsigned char)(r * 31 + i);
    }
    tp_gather_plan p = plan_of(ranks, 1, counts, displs);
    size_t slot = 0;
    for (int r = 0; r < ranks; ++r)
      slot = counts[r] > slot ? counts[r] : slot;
    if (p.scheme == TP_GATHER_PADDED) {
      cr_expect_eq(p.slot, slot);
      cr_expect_eq(p.staging, slot * (size_t)ranks);
    }
    unsigned char *want = malloc(total + 1), *got = malloc(total + 1);
    for (int r = 0; r < ranks; ++r)
      memcpy(want + displs[r], tiles[r], counts[r]);
    memset(got, 0x55, total + 1);
    if (slot)
      padded_on_host(ranks, counts, displs, slot, tiles, got);
    cr_assert_eq(memcmp(got, want, total), 0, "trial %d, %d ranks", trial,
                 ranks);
    cr_assert_eq(got[total], 0x55, "nothing written past the result");
    free(want);
    free(got);
    for (int r = 0; r < ranks; ++r)
      free(tiles[r]);
  }
}

Test(gather_plan, runs_merge_equal_neighbours_only) {
  /* 5 tiles: 8, 8, 0, 8, 4 -> runs {0,1}, {3}, {4}. */
  size_t counts[5] = {8, 8, 0, 8, 4}, displs[5] = {0, 8, 16, 16, 24};
  int first = 0, len = 0;
  cr_assert(tp_gather_next_run(5, counts, displs, &first, &len));
  cr_expect(first == 0 && len == 2);
  cr_assert(tp_gather_next_run(5, counts, displs, &first, &len));
  cr_expect(first == 3 && len == 1);
  cr_assert(tp_gather_next_run(5, counts, displs, &first, &len));
  cr_expect(first == 4 && len == 1);
  cr_expect_not(tp_gather_next_run(5, counts, displs, &first, &len));
  /* Equal counts whose places do not follow each other are two runs. */
  size_t apart[2] = {0, 16}, same[2] = {8, 8};
  first = len = 0;
  cr_assert(tp_gather_next_run(2, same, apart, &first, &len));
  cr_expect(first == 0 && len == 1);
}
