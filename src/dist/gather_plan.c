/* The device all-gather's plan: which NCCL scheme moves uneven tiles faster
 * under NCCL's own cost model, and the runs of the padded scheme's
 * compaction. docs/buffers.md derives the figures and tabulates the
 * choices; bench/gather_model prints that table from this code. */
#include "dist/gather_plan.h"

#include <stdint.h>

#include "core/error.h"

void tp_gather_model_default(tp_gather_model *m) {
  /* NCCL's ring latencies (src/graph/tuning.cc, baseLat and hwLat): LL and
   * Simple, per collective and per step over NVLink or the network. */
  m->base_us[0] = 3.6;
  m->base_us[1] = 8.4;
  m->hop_nvlink_us[0] = 0.47;
  m->hop_nvlink_us[1] = 3.4;
  m->hop_net_us[0] = 2.7;
  m->hop_net_us[1] = 9.6;
  /* Ring all-gather bus bandwidth of 8 H100s on NVLink, about 350 GB/s
   * (NVIDIA/nccl#1506), and across nodes one 400 Gb/s NIC per GPU, 46-48
   * GB/s (NVIDIA/nccl-tests#290). LL moves a third (one node) or a quarter
   * (several) of that in tuning.cc. */
  m->bus_node_gbs = 350.0;
  m->bus_net_gbs = 46.0;
  m->ll_share_node = 1.0 / 3.0;
  m->ll_share_net = 1.0 / 4.0;
  /* A device-to-device copy reads and writes every byte: half of the
   * H200's 4.8 TB/s; each queued copy costs a couple of microseconds. */
  m->copy_gbs = 2400.0;
  m->copy_us = 2.0;
  /* NCCL's documented limit on operations between ncclGroupStart/End. */
  m->max_group_ops = 2048;
}

/* Bus bandwidth in bytes per microsecond for a protocol. */
static double bus_bytes_per_us(const tp_gather_model *m, int nodes,
                               int protocol) {
  double gbs = nodes > 1 ? m->bus_net_gbs : m->bus_node_gbs;
  if (protocol == 0)
    gbs *= nodes > 1 ? m->ll_share_net : m->ll_share_node;
  return gbs * 1e3; /* GB/s = 1e3 bytes per microsecond */
}

double tp_gather_model_allgather_us(const tp_gather_model *m, int ranks,
                                    int nodes, size_t bytes) {
  if (ranks <= 1)
    return 0.0;
  double best = -1.0;
  for (int p = 0; p < 2; ++p) {
    /* A ring all-gather takes ranks - 1 steps, nodes - 1 of them over the
     * network; each rank moves (ranks - 1) / ranks of the data. */
    double latency = m->base_us[p] +
                     (double)(ranks - nodes) * m->hop_nvlink_us[p] +
                     (double)(nodes - 1) * m->hop_net_us[p];
    double per_us = bus_bytes_per_us(m, nodes, p) * ranks / (ranks - 1);
    double t = latency + (double)bytes / per_us;
    if (best < 0 || t < best)
      best = t;
  }
  return best;
}

double tp_gather_model_broadcast_us(const tp_gather_model *m, int ranks,
                                    int nodes, size_t bytes) {
  if (ranks <= 1)
    return 0.0;
  double best = -1.0;
  for (int p = 0; p < 2; ++p) {
    /* NCCL models a pipelined ring broadcast as its fixed latency plus one
     * step; all the data leaves the root, so it moves at bus bandwidth. */
    double hop = nodes > 1 ? m->hop_net_us[p] : m->hop_nvlink_us[p];
    double t =
        m->base_us[p] + hop + (double)bytes / bus_bytes_per_us(m, nodes, p);
    if (best < 0 || t < best)
      best = t;
  }
  return best;
}

int tp_gather_next_run(int ranks, const size_t *counts, const size_t *displs,
                       int *first, int *len) {
  int r = *first + *len;
  while (r < ranks && counts[r] == 0)
    ++r;
  if (r >= ranks)
    return 0;
  int n = 1;
  while (r + n < ranks && counts[r + n] == counts[r] &&
         displs[r + n] == displs[r + n - 1] + counts[r])
    ++n;
  *first = r;
  *len = n;
  return 1;
}

tp_status tp_gather_plan_make(const tp_gather_model *m, int ranks, int nodes,
                              const size_t *counts, const size_t *displs,
                              tp_gather_plan *out) {
  if (!m || !counts || !displs || !out || ranks < 1)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_gather_plan_make: %s",
                   ranks < 1 ? "no ranks"
                             : "NULL model, counts, displs or out");
  if (nodes < 1 || nodes > ranks)
    nodes = 1;
  tp_gather_plan p = {TP_GATHER_NOTHING, -1, 0, 0, 0, 0, 0, 0.0, 0.0};
  int even = 1;
  for (int r = 0; r < ranks; ++r) {
    if (displs[r] > SIZE_MAX - counts[r] || p.total > SIZE_MAX - counts[r])
      return tp_fail(TP_ERR_INVALID_ARGUMENT,
                     "tp_gather_plan_make: rank %d's tile (%zu bytes at "
                     "%zu) overflows",
                     r, counts[r], displs[r]);
    p.total += counts[r];
    if (counts[r]) {
      p.senders++;
      p.root = r;
    }
    if (counts[r] > p.slot)
      p.slot = counts[r];
    if (counts[r] != counts[0] ||
        displs[r] != displs[0] + (size_t)r * counts[0])
      even = 0;
  }
  if (p.senders == 0) {
    p.root = -1;
    p.slot = 0;
  } else if (p.senders == 1) {
    p.scheme = TP_GATHER_BROADCAST;
  } else if (even) {
    p.scheme = TP_GATHER_EVEN;
  } else {
    p.root = -1;
    int first = 0, len = 0;
    while (tp_gather_next_run(ranks, counts, displs, &first, &len))
      p.runs++;
    int fits = p.slot <= SIZE_MAX / (size_t)ranks;
    p.staging = fits ? p.slot * (size_t)ranks : 0;
    /* Padded: the all-gather of the padded slots, the copy of the own tile
     * into its slot, and the compaction (every byte once, one queued copy
     * per run). */
    p.padded_us = tp_gather_model_allgather_us(m, ranks, nodes, p.staging) +
                  (double)(p.runs + 1) * m->copy_us +
                  (double)(p.total + p.slot) / (m->copy_gbs * 1e3);
    /* Broadcasts: each is a collective of its own with its fixed latency
     * and its step; the group saves host launches, and the model takes
     * the broadcasts to run one after another (an upper bound if NCCL
     * overlaps some of them). */
    for (int r = 0; r < ranks; ++r)
      if (counts[r])
        p.broadcasts_us +=
            tp_gather_model_broadcast_us(m, ranks, nodes, counts[r]);
    if (!fits)
      p.scheme = TP_GATHER_BROADCASTS;
    else if (p.senders > m->max_group_ops)
      p.scheme = TP_GATHER_PADDED;
    else
      p.scheme = p.padded_us <= p.broadcasts_us ? TP_GATHER_PADDED
                                                : TP_GATHER_BROADCASTS;
    if (p.scheme != TP_GATHER_PADDED) {
      p.staging = 0;
      p.runs = 0;
    }
  }
  if (p.scheme != TP_GATHER_EVEN && p.scheme != TP_GATHER_PADDED)
    p.slot = 0;
  *out = p;
  return TP_SUCCESS;
}
