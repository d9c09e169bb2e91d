/* pd_test.h -- helpers shared by the PD unit tests: a clock the test moves by hand, opening
 * PD over a memstore, bootstrapping, and building regions and heartbeats tersely. */
#ifndef BASALT_TESTS_PD_TEST_H
#define BASALT_TESTS_PD_TEST_H

#include "pd/pd.h"

typedef struct fake_clock {
    int64_t now_ms; /* what PD reads; tests set it freely, backwards too */
} fake_clock;

int64_t fake_clock_now(void *arg);

/* Opens PD over ms with clk as its clock; fails the test on error. */
pd_core *must_open(pd_meta_store *ms, fake_clock *clk);
pd_core *must_open_opts(pd_meta_store *ms, fake_clock *clk, const pd_options *base);

/* Bootstraps with store store_id ("127.0.0.1:<20160+store_id>") and region region_id
 * (peer peer_id on that store) covering every key, epoch {1, 1}. */
void must_bootstrap(pd_core *pd, uint64_t store_id, uint64_t region_id, uint64_t peer_id);

/* Fills r (initialised) with keys given as C strings ("" = unbounded end), epoch and
 * n_peers peers with ids peer_base + i on stores 1 + i. */
void make_region(pd_region *r, uint64_t id, const char *start, const char *end, uint64_t conf_ver,
                 uint64_t version, uint64_t peer_base, size_t n_peers);

/* Sends a heartbeat for r led by its first peer; returns the code. */
int heartbeat(pd_core *pd, const pd_region *r, uint64_t term);

/* Reads a u64 big-endian value straight from the meta store (0 when absent). */
uint64_t meta_u64(pd_meta_store *ms, const char *key);

#endif
