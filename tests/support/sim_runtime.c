#include "support/sim_runtime.h"

#include "runtime/runtime_internal.h"

tp_status tp_sim_runtime_create(tp_sim *sim, tp_sim_runtime *out) {
  tp_sim_runtime r = {0};
  tp_status st = tp_runtime_create(NULL, &r.runtime);
  if (st != TP_SUCCESS)
    return st;
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.name = "sim-host";
  st = tp_pool_create(tp_sim_space(sim), &config, &r.pool);
  if (st != TP_SUCCESS) {
    tp_runtime_destroy(r.runtime);
    return st;
  }
  tp_backend *host = r.runtime->backends[TP_SPACE_HOST];
  r.saved = host->pool;
  host->pool = r.pool;
  *out = r;
  return TP_SUCCESS;
}

tp_status tp_sim_runtime_destroy(tp_sim_runtime *r) {
  r->runtime->backends[TP_SPACE_HOST]->pool = r->saved;
  tp_status st = tp_runtime_destroy(r->runtime);
  tp_status pool = tp_pool_destroy(r->pool);
  return st != TP_SUCCESS ? st : pool;
}
