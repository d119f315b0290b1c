/* TP_TORCH_ALLOC_CONF parsing: what a user writes, what the pools get. */
#include <criterion/criterion.h>
#include <string.h>

#include "torch_conf.h"

Test(torch_conf, empty_or_missing_gives_the_defaults) {
  tp_torch_conf c;
  char error[256] = "";
  cr_assert_eq(tp_torch_conf_parse(NULL, &c, error, sizeof error), 0);
  cr_expect_eq(c.limit, TP_UNLIMITED);
  cr_expect_eq(c.divisions, 4);
  cr_expect_eq(c.upstream, TP_DEVICE_UPSTREAM_MALLOC);
  cr_expect_not(c.print_stats);
  cr_assert_eq(tp_torch_conf_parse("", &c, error, sizeof error), 0);
  cr_expect_eq(c.max_cached, TP_UNLIMITED);
}

Test(torch_conf, every_key) {
  tp_torch_conf c;
  char error[256] = "";
  cr_assert_eq(tp_torch_conf_parse("limit:60GiB, max_cached:512M,"
                                   "max_cached_blocks:64,divisions:8,"
                                   "upstream:malloc_async,stats:1,"
                                   "event_log:/tmp/pool.csv",
                                   &c, error, sizeof error),
               0, "%s", error);
  cr_expect_eq(c.limit, (size_t)60 << 30);
  cr_expect_eq(c.max_cached, (size_t)512 << 20);
  cr_expect_eq(c.max_cached_blocks, 64);
  cr_expect_eq(c.divisions, 8);
  cr_expect_eq(c.upstream, TP_DEVICE_UPSTREAM_MALLOC_ASYNC);
  cr_expect(c.print_stats);
  cr_expect_str_eq(c.event_log, "/tmp/pool.csv");
}

Test(torch_conf, sizes) {
  size_t v;
  cr_expect_eq(tp_torch_parse_size("4096", &v), 0);
  cr_expect_eq(v, 4096);
  cr_expect_eq(tp_torch_parse_size("64KiB", &v), 0);
  cr_expect_eq(v, 65536);
  cr_expect_eq(tp_torch_parse_size("2kb", &v), 0);
  cr_expect_eq(v, 2048);
  cr_expect_eq(tp_torch_parse_size("1T", &v), 0);
  cr_expect_eq(v, (size_t)1 << 40);
  cr_expect_eq(tp_torch_parse_size("unlimited", &v), 0);
  cr_expect_eq(v, TP_UNLIMITED);
  cr_expect_eq(tp_torch_parse_size("", &v), -1);
  cr_expect_eq(tp_torch_parse_size("-5", &v), -1);
  cr_expect_eq(tp_torch_parse_size("5X", &v), -1);
  cr_expect_eq(tp_torch_parse_size("99999999999T", &v), -1, "overflow");
}

/* A wrong entry is refused whole, with the reason, and nothing is kept. */
static void refused(const char *text, const char *words) {
  tp_torch_conf c;
  char error[256] = "";
  cr_expect_eq(tp_torch_conf_parse(text, &c, error, sizeof error), -1, "%s",
               text);
  cr_expect_not_null(strstr(error, words), "'%s' in '%s'", words, error);
  cr_expect_eq(c.limit, TP_UNLIMITED, "defaults left");
}

Test(torch_conf, mistakes_are_refused_with_the_reason) {
  refused("limit:lots", "limit:lots is not a size");
  refused("limit:0", "not a size above 0");
  refused("divisions:3", "divisions:3 is not 1, 2, 4, 8 or 16");
  refused("upstream:cudaMalloc", "neither malloc nor malloc_async");
  refused("stats:yes", "stats:yes is neither 0 nor 1");
  refused("garbage", "'garbage' is not key:value");
  refused("limit:1G,colour:blue", "unknown key 'colour'");
}
