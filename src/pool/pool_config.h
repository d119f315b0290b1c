/* The check of a pool configuration's values, shared by tp_pool_create and
 * tp_device_pools_configure (which refuses what pool creation would, before
 * any pool is made). */
#ifndef TP_POOL_POOL_CONFIG_H
#define TP_POOL_POOL_CONFIG_H

#include "tensorpool/pool.h"

/* TP_ERR_INVALID_ARGUMENT, with a message that starts with `fn`, for a limit
 * of 0, divisions other than 1, 2, 4, 8 or 16, or an unknown page_release;
 * TP_SUCCESS otherwise. */
tp_status tp_pool_config_check(const char *fn, const tp_pool_config *c);

#endif
