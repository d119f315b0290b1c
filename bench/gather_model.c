/* Prints the cost model behind the device all-gather of uneven tiles
 * (src/dist/gather_plan.c) at 8, 64 and 1024 GPUs: one ncclBroadcast per
 * rank in a group against one ncclAllGather of padded tiles plus the
 * compaction, and the scheme the library takes. docs/buffers.md shows this
 * table. The tensor has rows of 1 KiB, one row fewer than an even split
 * (so the tiles are uneven: a block tiling), S / 1 KiB - 1 rows. */
#include <stdio.h>
#include <stdlib.h>

#include "dist/gather_plan.h"

static const char *scheme_name(tp_gather_scheme s) {
  switch (s) {
  case TP_GATHER_NOTHING: return "nothing";
  case TP_GATHER_BROADCAST: return "broadcast";
  case TP_GATHER_EVEN: return "all-gather";
  case TP_GATHER_PADDED: return "padded";
  case TP_GATHER_BROADCASTS: return "broadcasts";
  }
  return "?";
}

int main(void) {
  tp_gather_model m;
  tp_gather_model_default(&m);
  static const struct {
    int ranks, nodes;
  } systems[] = {{8, 1}, {64, 8}, {1024, 128}};
  static const size_t sizes[] = {(size_t)64 << 10, (size_t)1 << 20,
                                 (size_t)64 << 20, (size_t)1 << 30};
  printf("| GPUs (nodes) | tensor | senders | broadcasts in a group | padded "
         "all-gather + compaction | group / padded | taken |\n");
  printf("|---|---:|---:|---:|---:|---:|---|\n");
  for (size_t s = 0; s < sizeof systems / sizeof *systems; ++s)
    for (size_t z = 0; z < sizeof sizes / sizeof *sizes; ++z) {
      int n = systems[s].ranks;
      size_t rows = sizes[z] / 1024 - 1, at = 0;
      size_t *counts = calloc((size_t)n, sizeof *counts);
      size_t *displs = calloc((size_t)n, sizeof *displs);
      if (!counts || !displs)
        return 1;
      for (int r = 0; r < n; ++r) {
        counts[r] = (rows / (size_t)n + ((size_t)r < rows % (size_t)n)) * 1024;
        displs[r] = at;
        at += counts[r];
      }
      tp_gather_plan p;
      if (tp_gather_plan_make(&m, n, systems[s].nodes, counts, displs, &p) !=
          TP_SUCCESS)
        return 1;
      char size[32];
      if (sizes[z] >= (size_t)1 << 30)
        snprintf(size, sizeof size, "%zu GiB", sizes[z] >> 30);
      else if (sizes[z] >= (size_t)1 << 20)
        snprintf(size, sizeof size, "%zu MiB", sizes[z] >> 20);
      else
        snprintf(size, sizeof size, "%zu KiB", sizes[z] >> 10);
      printf("| %d (%d) | %s | %d | %.0f us | %.0f us | %.2f | %s |\n", n,
             systems[s].nodes, size, p.senders, p.broadcasts_us, p.padded_us,
             p.padded_us > 0 ? p.broadcasts_us / p.padded_us : 0.0,
             scheme_name(p.scheme));
      free(counts);
      free(displs);
    }
  return 0;
}
