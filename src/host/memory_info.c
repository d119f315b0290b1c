/* Host memory as the operating system reports it. MemAvailable (not
 * MemFree) is the kernel's estimate of what can be allocated without
 * swapping; a container's cgroup limit can be far below it. */
#include "host/memory_info.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "tensorpool/runtime.h"

/* The "<key>: <n> kB" line of a meminfo file, in bytes. */
static int meminfo_field(FILE *f, const char *key, size_t *out) {
  char line[256];
  size_t key_len = strlen(key);
  rewind(f);
  while (fgets(line, sizeof line, f)) {
    unsigned long long kib;
    if (strncmp(line, key, key_len) == 0 && line[key_len] == ':' &&
        sscanf(line + key_len + 1, "%llu", &kib) == 1) {
      *out = (size_t)kib * 1024u;
      return 1;
    }
  }
  return 0;
}

/* A cgroup file holding a number; "max" (v2, no limit) or a missing file
 * gives 0. */
static int read_number(const char *dir, const char *name, size_t *out) {
  char path[512];
  int n = snprintf(path, sizeof path, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= sizeof path)
    return 0; /* a path this long is not a cgroup file */
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  unsigned long long v;
  int ok = fscanf(f, "%llu", &v) == 1;
  fclose(f);
  if (ok)
    *out = (size_t)v;
  return ok;
}

/* The cgroup's limit and usage, if it sets a limit. cgroup v1 reports "no
 * limit" as a huge number (PAGE_COUNTER_MAX pages), so anything above the
 * machine's total counts as none. */
static int cgroup_limit(const char *dir, size_t machine_total, size_t *limit,
                        size_t *usage) {
  char v1[512];
  int n = snprintf(v1, sizeof v1, "%s/memory", dir);
  if (n < 0 || (size_t)n >= sizeof v1)
    return 0;
  if (read_number(dir, "memory.max", limit)) {
    if (!read_number(dir, "memory.current", usage))
      *usage = 0;
  } else if (read_number(v1, "memory.limit_in_bytes", limit)) {
    if (!read_number(v1, "memory.usage_in_bytes", usage))
      *usage = 0;
  } else {
    return 0;
  }
  return *limit < machine_total;
}

tp_status tp_host_memory_info_from(const char *meminfo, const char *cgroup_dir,
                                   size_t *free_bytes, size_t *total_bytes) {
  if (!meminfo || !free_bytes || !total_bytes)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_host_memory_info: NULL path or out-pointer");
  FILE *f = fopen(meminfo, "r");
  if (!f)
    return tp_fail(TP_ERR_NOT_SUPPORTED, "tp_host_memory_info: cannot read %s",
                   meminfo);
  size_t available = 0, total = 0;
  int ok = meminfo_field(f, "MemAvailable", &available) &&
           meminfo_field(f, "MemTotal", &total);
  fclose(f);
  if (!ok)
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "tp_host_memory_info: %s has no MemAvailable or MemTotal",
                   meminfo);
  size_t limit, usage;
  if (cgroup_dir && cgroup_limit(cgroup_dir, total, &limit, &usage)) {
    size_t room = limit > usage ? limit - usage : 0;
    if (room < available)
      available = room;
    if (limit < total)
      total = limit;
  }
  *free_bytes = available;
  *total_bytes = total;
  return TP_SUCCESS;
}

tp_status tp_host_memory_info(size_t *free_bytes, size_t *total_bytes) {
  return tp_host_memory_info_from("/proc/meminfo", "/sys/fs/cgroup", free_bytes,
                                  total_bytes);
}
