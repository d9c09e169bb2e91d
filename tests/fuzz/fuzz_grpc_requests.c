/* fuzz_grpc_requests.c -- arbitrary bytes as request messages of the native gRPC services:
 * protobuf decoding and everything a handler does with what it decoded (untrusted input).
 *
 * One standalone store is opened once (engine in a temp directory, in-memory PD, a
 * bootstrapped Region with a leader, causal ts, txn store) with the PD and store services
 * registered on servers that never listen; a started net loop stands in for the servers'
 * loop. Each input is one request:
 *
 *   byte 0 selects the handler, modulo (PD methods + store commands + 1):
 *     [0, P)       a pdpb / keyspacepb / etcd method, called like the unary wrapper does
 *                  (the order of srv_grpc_pd_register: 19 unary pdpb methods, Tso,
 *                  RegionHeartbeat, QueryRegion, LoadKeyspace, LoadKeyspaceByID, etcd
 *                  Range, MemberList);
 *     [P, P + S)   a store command (srv_tikv_cmd_at: the raw ones, then Kv*), run as an op
 *                  on the loop the way a unary call runs it; the input waits (bounded)
 *                  for the op to end;
 *     P + S        a BatchCommandsRequest: split like the stream does, then every command
 *                  in it runs as above (Empty is only decoded).
 *   byte 1, bit 0: prepend `header {cluster_id: <this PD's id>}` (field 1) to a PD
 *     message, so inputs get past PD's cluster id check (the id is random per run; a
 *     header in the message itself is merged over it, as protobuf merges repeated message
 *     fields);
 *   the rest is the message.
 *
 * Properties checked beyond "no crash, no leak": every store op ends (a hang aborts after
 * 20 s), a gRPC refusal is only INTERNAL (undecodable) or INVALID_ARGUMENT (cluster id),
 * and every response a store command produces decodes as its response type.
 * Seeds in tests/fuzz/corpus/fuzz_grpc_requests/ are valid requests for this store (region
 * 2, epoch 1/1, peer 3 on store 1, API V2). */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/log.h"
#include "server/grpc_int.h"
#include "tikvpb.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
    char dir[64];
    kv_engine *engine;
    pd_meta_store *ms;
    pd_core *pd;
    txn_causal_ts *cts;
    cluster_store *store;
    txn_store *txn;
    net_loop *loop;
    net_server *pd_srv, *kv_srv;
    srv_grpc_pd *pd_svc;
    srv_grpc_tikv *kv_svc;
} F;

static atomic_int ops_done;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_grpc_requests: %s\n", what);
    abort();
}

static void tso_fetch(void *arg, uint32_t count, txn_tso_done_fn done, void *done_arg)
{
    uint64_t ts = 0;
    int rc = pd_tso_alloc(F.pd, count, &ts, NULL);
    done(done_arg, rc, ts);
}

static void on_role_change(void *arg, uint64_t region_id, bool is_leader)
{
    if (is_leader)
        txn_causal_ts_flush(F.cts, NULL, NULL);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)remove(path);
    return 0;
}

static void remove_dir(void)
{
    (void)nftw(F.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* libFuzzer may end the process without running atexit handlers (timeouts, -max_total_time):
 * directories of earlier runs whose process is gone are removed at start instead. */
static void remove_stale_dirs(void)
{
    DIR *d = opendir("/tmp");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        long pid = 0;
        char tail = 0;
        if (sscanf(de->d_name, "fuzz_grpc_requests.%ld%c", &pid, &tail) != 1 || pid <= 0 ||
            (kill((pid_t)pid, 0) != 0 && errno != ESRCH) || kill((pid_t)pid, 0) == 0)
            continue;
        char path[300];
        snprintf(path, sizeof path, "/tmp/%s", de->d_name);
        (void)nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void setup(void)
{
    bs_err err;
    bs_err_clear(&err);
    bs_log_set_level(BS_LOG_LEVEL_ERROR);
    remove_stale_dirs();
    snprintf(F.dir, sizeof F.dir, "/tmp/fuzz_grpc_requests.%ld", (long)getpid());
    remove_dir(); /* a leftover of a process that had this pid */
    if (mkdir(F.dir, 0700) != 0)
        fail("mkdir");
    atexit(remove_dir);
    kv_options ko;
    kv_options_init(&ko);
    ko.block_cache_size = 8 << 20;
    ko.write_buffer_size = 4 << 20;
    if (kv_engine_open(F.dir, &ko, &F.engine, &err) != BS_OK)
        fail(err.msg);
    F.ms = pd_memstore_new();
    if (pd_open(NULL, F.ms, &F.pd, &err) != BS_OK)
        fail(err.msg);
    F.cts = txn_causal_ts_new(tso_fetch, NULL, 1024);
    cluster_store_options so;
    cluster_store_options_init(&so);
    so.engine = F.engine;
    so.pd = F.pd;
    so.tick_interval_ms = 20;
    so.on_role_change = on_role_change;
    if (cluster_store_open(&so, &F.store, &err) != BS_OK)
        fail(err.msg);
    txn_store_config tc;
    memset(&tc, 0, sizeof tc);
    tc.engine = F.engine;
    tc.causal_ts = F.cts;
    tc.propose = txn_cluster_propose;
    tc.propose_arg = F.store;
    F.txn = txn_store_new(&tc);
    F.loop = net_loop_new("fuzz", &err);
    net_server_options no;
    memset(&no, 0, sizeof no);
    no.host = "127.0.0.1";
    F.pd_srv = F.loop ? net_server_new(F.loop, &no, &err) : NULL;
    F.kv_srv = F.pd_srv ? net_server_new(F.loop, &no, &err) : NULL;
    if (!F.kv_srv)
        fail(err.msg);
    if (srv_grpc_pd_register(F.pd_srv, F.pd, NULL, &F.pd_svc, &err) != BS_OK ||
        srv_grpc_tikv_register(F.kv_srv, F.store, F.txn, NULL, &F.kv_svc, &err) != BS_OK)
        fail(err.msg);
    if (net_loop_start(F.loop, &err) != BS_OK)
        fail(err.msg);
    /* Wait for the Region's leader, so decodable seeds reach reads and writes. */
    for (int i = 0; i < 2000; i++) {
        cluster_peer_status ps;
        if (cluster_store_peer_status(F.store, 2, &ps) == BS_OK && ps.is_leader)
            return;
        sleep_us(10000);
    }
    fail("no leader for region 2");
}

/* ---- store commands ------------------------------------------------------------------ */

static void sink(srv_tikv_op *op)
{
    if (op->status == NET_GRPC_OK) {
        ProtobufCMessage *m =
            protobuf_c_message_unpack(op->def->resp_desc, NULL, op->resp.len, op->resp.ptr);
        if (!m)
            fail("a store command produced a response that does not decode");
        protobuf_c_message_free_unpacked(m, NULL);
    } else if (op->status != NET_GRPC_INTERNAL && op->status != NET_GRPC_INVALID_ARGUMENT) {
        fail("unexpected gRPC status from a store command");
    }
    srv_tikv_op_free(op);
    atomic_fetch_add(&ops_done, 1);
}

typedef struct job {
    const srv_tikv_cmd_def *def;
    bs_slice body;
} job;

static void job_start(void *arg)
{
    job *j = arg;
    srv_tikv_op *op = srv_tikv_op_new(F.kv_svc, j->def, j->body, F.loop, sink, NULL);
    srv_tikv_op_start(op);
}

static void run_command(const srv_tikv_cmd_def *def, bs_slice body)
{
    int target = atomic_load(&ops_done) + 1;
    job j = {def, body};
    if (net_loop_run_sync(F.loop, job_start, &j) != BS_OK)
        fail("loop stopped");
    for (int i = 0; i < 200000 && atomic_load(&ops_done) < target; i++)
        sleep_us(100);
    if (atomic_load(&ops_done) < target)
        fail("a store command never ended");
}

static void run_batch(bs_slice msg)
{
    bs_slice *reqs = NULL;
    uint64_t *ids = NULL;
    size_t n_reqs = 0, n_ids = 0;
    if (srv_tikv_batch_parse(msg, &reqs, &n_reqs, &ids, &n_ids) == BS_OK) {
        /* At most 16 commands per input, so one input stays cheap. */
        size_t n = n_reqs < n_ids ? n_reqs : n_ids;
        for (size_t i = 0; i < n && i < 16; i++) {
            uint32_t cmd;
            bs_slice body;
            if (srv_tikv_batch_parse_request(reqs[i], &cmd, &body) != BS_OK)
                break;
            if (cmd == 255) {
                ProtobufCMessage *m = srv_grpc_unpack(
                    &tikvpb__batch_commands_empty_request__descriptor, body, NULL, 0);
                if (m)
                    protobuf_c_message_free_unpacked(m, NULL);
                continue;
            }
            const srv_tikv_cmd_def *def = srv_tikv_cmd_by_batch_no(cmd);
            if (def)
                run_command(def, body);
        }
    }
    bs_free(reqs);
    bs_free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!F.loop)
        setup();
    if (size == 0)
        return 0;
    if (size < 2)
        return 0;
    size_t n_pd = F.pd_svc->n_b, n_kv = srv_tikv_cmd_count();
    size_t sel = data[0] % (n_pd + n_kv + 1);
    bs_slice msg = bs_slice_make(data + 2, size - 2);
    if (sel < n_pd) {
        srv_grpc_binding *b = &F.pd_svc->b[sel];
        bs_buf req = BS_BUF_INIT, hdr = BS_BUF_INIT, resp = BS_BUF_INIT;
        if (data[1] & 1) {
            srv_grpc_wire_key(&hdr, 1, SRV_GRPC_WIRE_VARINT);
            bs_varint_append(&hdr, pd_cluster_id(F.pd));
            srv_grpc_wire_bytes(&req, 1, bs_buf_slice(&hdr));
        }
        bs_buf_append_slice(&req, msg);
        char emsg[BS_ERR_MSG_MAX] = "";
        (void)b->sync(b, bs_buf_slice(&req), &resp, emsg, sizeof emsg);
        bs_buf_free(&req);
        bs_buf_free(&hdr);
        bs_buf_free(&resp);
    } else if (sel < n_pd + n_kv) {
        run_command(srv_tikv_cmd_at(sel - n_pd), msg);
    } else {
        run_batch(msg);
    }
    return 0;
}
