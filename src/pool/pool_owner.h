/* Internal: pools whose limit has another owner. A runtime's pools take
 * their limit from the runtime's budget, so the budget and the limit are one
 * value with one setter (tp_runtime_set_budget); tp_pool_set_limit on such a
 * pool is refused with a message naming that setter. */
#ifndef TP_POOL_POOL_OWNER_H
#define TP_POOL_POOL_OWNER_H

#include <stddef.h>

#include "tensorpool/pool.h"

/* From now on tp_pool_set_limit refuses (TP_ERR_NOT_SUPPORTED) and names
 * `owner`, the public call to use instead (a string literal). Call right
 * after tp_pool_create, before the pool is shared between threads. */
void tp_pool_claim_limit(tp_pool *pool, const char *owner);
/* tp_pool_set_limit for the owner: the same checks and effect. */
tp_status tp_pool_set_owned_limit(tp_pool *pool, size_t limit);

#endif
