/* status.c -- what the status port reports: /metrics (Prometheus text) and /status (JSON).
 *
 * Hot-path metrics (raft proposals, fsyncs, append and apply latency histograms) are
 * counters the raftstore updates itself (cluster/store.c registers them). What is a state
 * rather than an event -- Region and leader counts, RocksDB sizes per column family, the
 * raftstore's acknowledged/synced counts, the GC safe point -- is sampled here into gauges
 * right before each render, as TiKV's status server refreshes its engine gauges on scrape.
 * Both documents are built with plain appends; JSON strings are escaped, region keys are
 * hex (they are binary). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/metrics.h"
#include "server/srv_int.h"

/* ---- small appenders ------------------------------------------------------------------ */

static void put_str(bs_buf *out, const char *s)
{
    bs_buf_append(out, s, strlen(s));
}

static void put_fmt(bs_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_fmt(bs_buf *out, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0)
        bs_buf_append(out, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* A JSON string literal of a C string (NULL = ""). */
static void put_json_str(bs_buf *out, const char *s)
{
    bs_buf_append_byte(out, '"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') {
            bs_buf_append_byte(out, '\\');
            bs_buf_append_byte(out, *p);
        } else if (*p < 0x20) {
            put_fmt(out, "\\u%04x", *p);
        } else {
            bs_buf_append_byte(out, *p);
        }
    }
    bs_buf_append_byte(out, '"');
}

static void put_hex(bs_buf *out, bs_slice b)
{
    static const char hex[] = "0123456789ABCDEF";
    bs_buf_append_byte(out, '"');
    for (size_t i = 0; i < b.len; i++) {
        bs_buf_append_byte(out, (uint8_t)hex[b.ptr[i] >> 4]);
        bs_buf_append_byte(out, (uint8_t)hex[b.ptr[i] & 15]);
    }
    bs_buf_append_byte(out, '"');
}

/* ---- /metrics ------------------------------------------------------------------------------ */

static void set_gauge(const char *name, const char *help, const char *labels, int64_t v)
{
    bs_gauge_set(bs_gauge_register(name, help, labels), v);
}

static const char *const engine_props[][3] = {
    {"rocksdb.total-sst-files-size", "basalt_engine_sst_size_bytes",
     "Bytes of SST files per column family"},
    {"rocksdb.cur-size-all-mem-tables", "basalt_engine_memtable_size_bytes",
     "Bytes of memtables per column family"},
    {"rocksdb.estimate-num-keys", "basalt_engine_estimate_keys",
     "Estimated number of keys per column family"},
    {"rocksdb.num-files-at-level0", "basalt_engine_level0_files",
     "SST files at level 0 per column family"},
    {"rocksdb.compaction-pending", "basalt_engine_compaction_pending",
     "1 when a compaction of the column family is due"},
    {"rocksdb.mem-table-flush-pending", "basalt_engine_flush_pending",
     "1 when a memtable flush of the column family is due"},
};

/* Properties of the whole engine (RocksDB answers them the same for every CF). */
static const char *const engine_db_props[][3] = {
    {"rocksdb.num-running-compactions", "basalt_engine_running_compactions",
     "Compactions running now"},
    {"rocksdb.num-running-flushes", "basalt_engine_running_flushes", "Memtable flushes running now"},
};

static void update_gauges(srv_node *n)
{
    srv_region_info *v = NULL;
    size_t cnt = 0, leaders = 0;
    srv_node_regions(n, &v, &cnt);
    for (size_t i = 0; i < cnt; i++)
        leaders += v[i].local_leader;
    srv_region_infos_free(v, cnt);
    set_gauge("basalt_region_count", "Regions (peers) on the store", "", (int64_t)cnt);
    set_gauge("basalt_region_leader_count", "Regions whose local peer leads", "",
              (int64_t)leaders);

    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        char labels[64];
        snprintf(labels, sizeof labels, "cf=\"%s\"", kv_cf_name((kv_cf)cf));
        for (size_t i = 0; i < sizeof engine_props / sizeof engine_props[0]; i++) {
            uint64_t val = 0;
            if (kv_engine_property_int(n->engine, (kv_cf)cf, engine_props[i][0], &val) == BS_OK)
                set_gauge(engine_props[i][1], engine_props[i][2], labels, (int64_t)val);
        }
    }
    for (size_t i = 0; i < sizeof engine_db_props / sizeof engine_db_props[0]; i++) {
        uint64_t val = 0;
        if (kv_engine_property_int(n->engine, KV_CF_DEFAULT, engine_db_props[i][0], &val) == BS_OK)
            set_gauge(engine_db_props[i][1], engine_db_props[i][2], "", (int64_t)val);
    }

    cluster_store_stats st;
    cluster_store_get_stats(n->store, &st);
    set_gauge("basalt_raftstore_proposals_synced",
              "Local proposals covered by a finished fsync", "", (int64_t)st.proposals_synced);
    set_gauge("basalt_raftstore_proposals_acked", "Proposals applied and acknowledged", "",
              (int64_t)st.proposals_acked);
    set_gauge("basalt_raftstore_proposals_failed", "Proposals that failed", "",
              (int64_t)st.proposals_failed);
    set_gauge("basalt_raftstore_entries_applied", "Raft entries applied", "",
              (int64_t)st.entries_applied);
    set_gauge("basalt_raftstore_log_gc_compactions", "CompactLog commands applied", "",
              (int64_t)st.log_gc_compactions);

    srv_node_stats ns;
    srv_node_get_stats(n, &ns);
    set_gauge("basalt_gc_safe_point", "GC safe point (TSO) of the compaction filter", "",
              (int64_t)ns.gc_safe_point);
    set_gauge("basalt_gc_sweeps", "Completed GC sweeps", "", (int64_t)ns.gc_sweeps);
    set_gauge("basalt_gc_deletes", "MVCC versions deleted by GC passes", "",
              (int64_t)ns.gc_deletes);
    set_gauge("basalt_tso_fetches", "TSO batches fetched for causal timestamps", "",
              (int64_t)ns.tso_fetches);
    set_gauge("basalt_uptime_seconds", "Seconds since the node opened", "",
              (bs_clock_mono_ms() - n->open_mono_ms) / 1000);
}

void srv_metrics_render(srv_node *n, bs_buf *out)
{
    update_gauges(n);
    bs_metrics_render(out);
}

/* ---- /status ---------------------------------------------------------------------------- */

static void put_addr(bs_buf *out, const char *name, const char *v, bool last)
{
    put_json_str(out, name);
    bs_buf_append_byte(out, ':');
    put_json_str(out, v);
    if (!last)
        bs_buf_append_byte(out, ',');
}

void srv_status_json(srv_node *n, const srv_addrs *addrs, bs_buf *out)
{
    srv_addrs none;
    memset(&none, 0, sizeof(none));
    if (!addrs)
        addrs = &none;
    put_str(out, "{\"version\":");
    put_json_str(out, SRV_VERSION);
    put_str(out, ",\"tikv_version\":");
    put_json_str(out, SRV_TIKV_VERSION);
    uint64_t store_id = cluster_store_id(n->store);
    put_fmt(out, ",\"store_id\":%" PRIu64 ",\"cluster_id\":%" PRIu64, store_id,
            cluster_store_cluster_id(n->store));
    put_str(out, ",\"data_dir\":");
    put_json_str(out, n->data_dir);
    put_fmt(out, ",\"uptime_ms\":%" PRId64, bs_clock_mono_ms() - n->open_mono_ms);

    put_str(out, ",\"addresses\":{");
    put_addr(out, "redis", addrs->redis, false);
    put_addr(out, "status", addrs->status, false);
    put_addr(out, "grpc", addrs->grpc, false);
    put_addr(out, "pd", addrs->pd, false);
    put_str(out, "\"grpc_served\":false,\"pd_served\":false}");

    srv_region_info *v = NULL;
    size_t cnt = 0;
    srv_node_regions(n, &v, &cnt);
    put_str(out, ",\"regions\":[");
    for (size_t i = 0; i < cnt; i++) {
        const cluster_region *r = &v[i].region;
        uint64_t leader_store = 0;
        for (size_t j = 0; j < r->n_peers; j++)
            if (r->peers[j].id == v[i].leader_peer_id)
                leader_store = r->peers[j].store_id;
        put_fmt(out, "%s{\"id\":%" PRIu64 ",\"start_key\":", i ? "," : "", r->id);
        put_hex(out, bs_buf_slice(&r->start_key));
        put_str(out, ",\"end_key\":");
        put_hex(out, bs_buf_slice(&r->end_key));
        put_fmt(out,
                ",\"epoch\":{\"conf_ver\":%" PRIu64 ",\"version\":%" PRIu64 "}"
                ",\"peers\":[",
                r->epoch.conf_ver, r->epoch.version);
        for (size_t j = 0; j < r->n_peers; j++)
            put_fmt(out, "%s{\"id\":%" PRIu64 ",\"store_id\":%" PRIu64 "}", j ? "," : "",
                    r->peers[j].id, r->peers[j].store_id);
        put_fmt(out,
                "],\"leader\":{\"peer_id\":%" PRIu64 ",\"store_id\":%" PRIu64 "}"
                ",\"local_leader\":%s}",
                v[i].leader_peer_id, leader_store, v[i].local_leader ? "true" : "false");
    }
    put_str(out, "]");
    srv_region_infos_free(v, cnt);

    cluster_store_stats st;
    cluster_store_get_stats(n->store, &st);
    put_fmt(out,
            ",\"raftstore\":{\"rounds\":%" PRIu64 ",\"fsyncs\":%" PRIu64
            ",\"proposals\":%" PRIu64 ",\"proposals_synced\":%" PRIu64
            ",\"proposals_acked\":%" PRIu64 ",\"proposals_failed\":%" PRIu64
            ",\"entries_applied\":%" PRIu64 "}",
            st.rounds, st.fsyncs, st.proposals, st.proposals_synced, st.proposals_acked,
            st.proposals_failed, st.entries_applied);
    srv_node_stats ns;
    srv_node_get_stats(n, &ns);
    put_fmt(out,
            ",\"gc\":{\"safe_point\":%" PRIu64 ",\"sweeps\":%" PRIu64 ",\"deletes\":%" PRIu64
            ",\"proposals\":%" PRIu64 ",\"errors\":%" PRIu64 "}}",
            ns.gc_safe_point, ns.gc_sweeps, ns.gc_deletes, ns.gc_proposals, ns.gc_errors);
}
