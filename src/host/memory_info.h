/* Internal: host memory figures from files, so tests can point the parser
 * at files of their own. */
#ifndef TP_HOST_MEMORY_INFO_H
#define TP_HOST_MEMORY_INFO_H

#include <stddef.h>

#include "tensorpool/status.h"

/* MemAvailable and MemTotal from `meminfo` (a /proc/meminfo file), each
 * capped by the cgroup limit found under `cgroup_dir` (v2: memory.max and
 * memory.current; v1: memory/memory.limit_in_bytes and
 * memory/memory.usage_in_bytes); a missing cgroup file means no limit.
 * TP_ERR_NOT_SUPPORTED if `meminfo` cannot be read or lacks the fields. */
tp_status tp_host_memory_info_from(const char *meminfo, const char *cgroup_dir,
                                   size_t *free_bytes, size_t *total_bytes);

#endif
