/* Internal: how a device all-gather of uneven tiles is done, chosen by a
 * cost model, and the index arithmetic of the padded scheme. Pure host code
 * (no CUDA, no NCCL), so that the arithmetic is tested on every machine;
 * src/dist/nccl_comm.c carries the plan out. docs/buffers.md has the model
 * with its sources and the numbers it gives at 8, 64 and 1024 GPUs. */
#ifndef TP_DIST_GATHER_PLAN_H
#define TP_DIST_GATHER_PLAN_H

#include <stddef.h>

#include "tensorpool/status.h"

typedef enum tp_gather_scheme {
  /* No rank has bytes: nothing to do. */
  TP_GATHER_NOTHING,
  /* One rank has all the bytes: one ncclBroadcast from it. */
  TP_GATHER_BROADCAST,
  /* Every rank has the same count and the tiles follow each other in rank
   * order: one ncclAllGather straight into the result. */
  TP_GATHER_EVEN,
  /* Uneven: one ncclAllGather of `slot` bytes per rank (the largest tile)
   * into a staging block of ranks * slot bytes, then one device copy per
   * run of equal tiles to their places in the result. */
  TP_GATHER_PADDED,
  /* Uneven: one ncclBroadcast per rank with bytes, in one NCCL group. */
  TP_GATHER_BROADCASTS
} tp_gather_scheme;

/* The figures of the cost model (see tp_gather_model_default). */
typedef struct tp_gather_model {
  /* NCCL's ring model, per protocol [0] = LL, [1] = Simple: a fixed
   * latency per collective and one per step through NVLink or the
   * network, in microseconds. */
  double base_us[2];
  double hop_nvlink_us[2];
  double hop_net_us[2];
  /* Bus bandwidth in GB/s within one node and across nodes (Simple); LL
   * gets the given share of it. */
  double bus_node_gbs, bus_net_gbs;
  double ll_share_node, ll_share_net;
  /* Device-to-device copies of the compaction: bytes copied per second
   * (GB/s) and the cost of each copy queued on the stream (us). */
  double copy_gbs, copy_us;
  /* NCCL refuses more operations than this in one group. */
  int max_group_ops;
} tp_gather_model;

/* The figures docs/buffers.md derives: NCCL's published ring model and
 * H100/H200 nodes (8 GPUs on NVLink, one 400 Gb/s NIC per GPU). */
void tp_gather_model_default(tp_gather_model *out);

/* Modelled time in microseconds of one ncclAllGather moving `bytes` in all
 * (ranks * the per-rank count) and of one ncclBroadcast of `bytes`, over
 * `ranks` GPUs on `nodes` nodes. 0 for one rank. */
double tp_gather_model_allgather_us(const tp_gather_model *m, int ranks,
                                    int nodes, size_t bytes);
double tp_gather_model_broadcast_us(const tp_gather_model *m, int ranks,
                                    int nodes, size_t bytes);

typedef struct tp_gather_plan {
  tp_gather_scheme scheme;
  int root;       /* TP_GATHER_BROADCAST: the rank with the bytes */
  int senders;    /* ranks with a non-zero count */
  size_t total;   /* sum of the counts */
  size_t slot;    /* EVEN and PADDED: bytes each rank contributes */
  size_t staging; /* PADDED: ranks * slot */
  int runs;       /* PADDED: compaction copies (tp_gather_next_run) */
  /* The model's estimates for the two uneven schemes (us); 0 when not
   * compared. */
  double padded_us, broadcasts_us;
} tp_gather_plan;

/* Chooses the scheme for an all-gather where rank r's counts[r] bytes land
 * at displs[r] in the result (the backend table's allgatherv). Ranks that
 * pass the same counts get the same plan. With an uneven layout it takes
 * the cheaper of PADDED and BROADCASTS under `m` (PADDED when a group
 * would exceed m->max_group_ops). TP_ERR_INVALID_ARGUMENT for ranks < 1,
 * NULL arrays, overlapping or overflowing tiles. */
tp_status tp_gather_plan_make(const tp_gather_model *m, int ranks, int nodes,
                              const size_t *counts, const size_t *displs,
                              tp_gather_plan *out);

/* The compaction of the padded scheme, one run at a time: ranks
 * [*first, *first + *len) hold equal non-zero counts whose places in the
 * result follow each other, so one 2D copy (source pitch `slot`,
 * destination pitch the count) moves them all from the staging block.
 * Start with *first = 0 and *len = 0; returns 0 when no run is left.
 * Empty tiles are skipped. */
int tp_gather_next_run(int ranks, const size_t *counts, const size_t *displs,
                       int *first, int *len);

#endif
