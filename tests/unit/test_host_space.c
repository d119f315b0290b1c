/* The host space's virtual-memory entries as a pool uses them: a segment
 * grows and shrinks in place, keeps its bytes where it stays, reads zeros
 * where it grew back into given-back pages, and gives pages back. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "tensorpool/space.h"

static const tp_space_ops *ops(void) {
  return tp_host_space()->ops;
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != v)
      return false;
  return true;
}

Test(host_space, a_segment_grows_in_place_page_by_page_and_keeps_its_bytes) {
  size_t page = ops()->page_bytes;
  cr_assert_geq(page, 4096);
  unsigned char *p = NULL;
  cr_assert_eq(ops()->get(NULL, page, (void **)&p), TP_SUCCESS, "%s",
               tp_last_error());
  memset(p, 0xA5, page);
  /* Many small growths, as a pool growing by what each request lacks. */
  size_t bytes = page;
  for (int i = 0; i < 600; i++) {
    cr_assert_eq(ops()->resize(NULL, p, bytes, bytes + page, NULL), TP_SUCCESS,
                 "%s", tp_last_error());
    memset(p + bytes, i & 0xFF, page); /* the new page is writable */
    bytes += page;
  }
  cr_expect(all_bytes(p, page, 0xA5), "the first page moved or changed");
  cr_expect(all_bytes(p + bytes - page, page, 599 & 0xFF));
  cr_expect_eq(ops()->put(NULL, p, bytes, NULL), TP_SUCCESS);
}

Test(host_space, a_shrunk_range_reads_zeros_when_grown_into_again) {
  size_t page = ops()->page_bytes;
  size_t big = 64 * page;
  unsigned char *p = NULL;
  cr_assert_eq(ops()->get(NULL, big, (void **)&p), TP_SUCCESS);
  memset(p, 0x5A, big);
  cr_assert_eq(ops()->resize(NULL, p, big, 4 * page, NULL), TP_SUCCESS);
  cr_expect(all_bytes(p, 4 * page, 0x5A), "what stays keeps its bytes");
  cr_assert_eq(ops()->resize(NULL, p, 4 * page, big, NULL), TP_SUCCESS);
  cr_expect(all_bytes(p + 4 * page, big - 4 * page, 0),
            "the cut pages went back to the kernel");
  /* Given back inside the segment: zeros, and writable again. */
  memset(p, 0x11, big);
  cr_assert_eq(ops()->decommit(NULL, p + page, 2 * page, NULL), TP_SUCCESS);
  cr_expect(all_bytes(p + page, 2 * page, 0));
  cr_expect(all_bytes(p, page, 0x11));
  memset(p + page, 0x22, 2 * page);
  cr_expect_eq(ops()->put(NULL, p, big, NULL), TP_SUCCESS);
}

Test(host_space, growth_past_the_reservation_is_refused_and_changes_nothing) {
  size_t page = ops()->page_bytes;
  unsigned char *p = NULL;
  cr_assert_eq(ops()->get(NULL, page, (void **)&p), TP_SUCCESS);
  p[0] = 7;
  cr_expect_eq(ops()->resize(NULL, p, page, SIZE_MAX / 4, NULL),
               TP_ERR_OUT_OF_MEMORY);
  cr_expect(strstr(tp_last_error(), "cannot grow"), "%s", tp_last_error());
  cr_expect_eq(p[0], 7);
  int x = 0;
  cr_expect_eq(ops()->resize(NULL, &x, page, 2 * page, NULL),
               TP_ERR_INVALID_POINTER, "a foreign pointer");
  cr_expect_eq(ops()->put(NULL, p, page, NULL), TP_SUCCESS);
}

/* Growth past the first steps, by odd numbers of pages: each step opens an
 * eighth of what is open, which must stay whole pages (a step ending off
 * the page grid made the next growth fail with EINVAL). */
Test(host_space, long_growth_by_odd_page_counts_keeps_succeeding) {
  size_t page = ops()->page_bytes;
  unsigned char *p = NULL;
  cr_assert_eq(ops()->get(NULL, 3 * page, (void **)&p), TP_SUCCESS);
  size_t bytes = 3 * page;
  while (bytes < ((size_t)96 << 20)) {
    size_t next = bytes + 37 * page;
    cr_assert_eq(ops()->resize(NULL, p, bytes, next, NULL), TP_SUCCESS,
                 "growing from %zu to %zu bytes: %s", bytes, next,
                 tp_last_error());
    p[next - 1] = 1; /* the new end is writable */
    bytes = next;
  }
  cr_expect_eq(ops()->put(NULL, p, bytes, NULL), TP_SUCCESS);
}
