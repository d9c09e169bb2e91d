/* exec_int.h -- the transaction executor shared by exec.c (the engine), exec_cmds.c (each
 * command's transactional form), cmd_multi.c (EXEC) and cmd_keys.c (commands that run as a
 * transaction of their own: COPY ... DB n); no other file includes it.
 *
 * A run executes commands, in order, inside ONE Percolator transaction (client.h's last
 * section): begin (start_ts from TSO), WATCH assertions, each command's reads at start_ts
 * overlaid with the writes buffered so far, then commit. A write conflict on a key that was
 * not watched re-runs everything with a fresh start_ts after a short random wait (Redis
 * never fails an EXEC for it; exec.c bounds the retries by time only); a failed watch
 * assertion ends the run with RESP_X_NIL (EXEC replies nil). Every read of a
 * key joins the commit as a Lock mutation (serializable txn), so two runs that read what
 * the other writes cannot both commit: no write skew, as Redis's serial EXEC.
 *
 * A command's transactional form is a small state machine (resp_xcmd_fn): called with
 * stage 0, it either writes its reply (XSTEP_DONE) or asks for a read (resp_x_get /
 * resp_x_mget / resp_x_scan, XSTEP_READ); the engine performs the read and calls it again
 * with stage + 1 and the result in x->res. Writes are buffered at once (resp_x_put /
 * resp_x_del). A form that walks the keyspace asks for one page per stage.
 * Runtime errors (INCR of a non-number) are the command's reply; the others still apply.
 *
 * Threads: a run starts on its caller's thread and continues on whatever thread completes
 * each client call (the TSO thread after begin, a store thread after commit). Calls that
 * complete synchronously do not recurse: the engine loops (see exec.c's gate). */
#ifndef BASALT_RESP_EXEC_INT_H
#define BASALT_RESP_EXEC_INT_H

#include <stdatomic.h>

#include "resp/conn_int.h"

typedef struct resp_exec resp_exec;
typedef struct resp_xcmd resp_xcmd;

typedef enum resp_xstep {
    XSTEP_DONE, /* the reply is in c->req.o */
    XSTEP_READ, /* a read was asked for */
} resp_xstep;

/* A command's transactional form (see above). */
typedef resp_xstep (*resp_xcmd_fn)(resp_exec *x, resp_xcmd *c);

/* What a form's parser may need of the server, read on the loop thread before the run. */
typedef struct resp_xenv {
    long long databases;          /* SELECT's bound (COPY DB, FLUSHALL) */
    long long proto_max_bulk_len; /* LCS's table bound; 0 where no LCS can come */
} resp_xenv;

/* Parses c's arguments before the run: true, or false after writing the error reply into
 * c->req.o (the command then only replies that). variant: the spec's. */
typedef bool (*resp_xprep_fn)(resp_xcmd *c, const resp_xenv *env, int variant);

/* One row of exec_cmds.c's table: a command, its parser (NULL: none needed) and its form.
 * variant tells the commands that share a parser or form apart (INCR vs DECRBY...). */
typedef struct resp_xspec {
    const char *name; /* Redis 7's fullname: "get", "memory|usage" */
    resp_xprep_fn prep;
    resp_xcmd_fn run;
    int variant;
} resp_xspec;

/* The transactional form of command d (a command or subcommand), or NULL. */
const resp_xspec *resp_xspec_of(const resp_cmd_def *d);

/* How a queued command runs at EXEC. */
typedef enum resp_xkind {
    XC_TXN,     /* inside the transaction (spec) */
    XC_LOCAL,   /* a connection or server command: on the loop thread after the commit */
    XC_REPLIED, /* its reply is already made (an argument error, or not supported) */
} resp_xkind;

struct resp_xcmd {
    /* The command as a request of its own: argc/argv (owned when owns_argv), db and proto
     * (the ones it runs with: a SELECT or HELLO queued before it counts), and its reply in
     * req.out through req.o. conn, srv and client are NULL. */
    resp_req req;
    bool owns_argv;
    const resp_cmd_def *def;
    resp_xkind kind;
    const resp_xspec *spec;  /* XC_TXN */
    int stage;
    /* Parsed arguments (prep), as each form needs them. */
    txn_rmw_params p;
    resp_rmw_reply rk;
    long long a, b;
    uint64_t ttl_ms;
    bool flag;
    int deferred;
    bs_slice *keys; /* owned array of slices into argv */
    size_t nkeys;
    /* Kept across stages (RENAME, COPY: the source; RANDOMKEY: the first key). */
    bool found0;
    bs_buf v0;
    uint64_t exp0;
    uint32_t src_db, dst_db; /* COPY: the databases of source and destination */
    /* Walks of a key range (KEYS, DBSIZE, SCAN, RANDOMKEY, FLUSHDB, FLUSHALL): the next key
     * to read (inclusive), the range's end, and what the walk has gathered. Prep sets the
     * range; a rewind restores it from start0. */
    bs_buf cur, end, start0;
    bool has_end;
    uint32_t walk_db;   /* the database being walked (FLUSHALL goes through them all) */
    long long count;    /* keys counted or gathered */
    bs_buf acc;         /* KEYS: the matching keys, encoded as bulks */
    resp_scan_args scan;
    resp_lcs_args lcs;
    /* Encoded in RESP3 because a HELLO was queued before it: EXEC turns the reply to
     * RESP2 if the connection still speaks RESP2 at its place (cmd_multi.c). */
    bool proto_unsure;
};

/* Fills c for argv[0..argc) (borrowed) with the db and proto it runs with; kind and spec
 * are set by the caller. */
void resp_xcmd_init(resp_xcmd *c, size_t argc, bs_buf *argv, uint32_t db, int proto);
/* Frees what c owns (argv when owns_argv, keys, the reply, scratch). */
void resp_xcmd_deinit(resp_xcmd *c);
/* Back to stage 0 with an empty reply (a re-run after a write conflict). */
void resp_xcmd_rewind(resp_xcmd *c);

typedef enum resp_xoutcome {
    RESP_X_OK,  /* committed (or nothing to commit): every command's reply is in its req */
    RESP_X_NIL, /* a watched key changed: nothing was applied */
    RESP_X_ERR, /* the transaction failed as a whole (x->msg): nothing was applied, or
                 * (RESP_X_ERR after an unknown commit outcome) maybe everything */
} resp_xoutcome;

/* A watch assertion of the run. */
typedef struct resp_xwatch {
    uint32_t db;
    bs_slice key; /* borrowed from the run's owner */
    client_watch w;
} resp_xwatch;

struct resp_exec {
    client *client;
    client_txns *txns;
    resp_xcmd *cmds; /* n commands, owned by the caller */
    size_t n;
    const resp_xwatch *watches; /* nw, borrowed */
    size_t nw;
    /* Called once, on any thread, when the run is over; the outcome is set. */
    void (*done)(resp_exec *x);
    void *owner;

    resp_xoutcome outcome;
    char msg[BS_ERR_MSG_MAX];
    unsigned attempts;       /* transactions begun */
    /* Optional: waits ms milliseconds without blocking, then calls resp_exec_resume(x,
     * true) from any thread; or resume(x, false) when the run must end instead (the
     * connection went away, the server stops). NULL: conflicts re-run at once. */
    void (*delay)(resp_exec *x, uint32_t ms);

    /* Engine state (exec.c). */
    int state;
    size_t pc;               /* the command running */
    client_txn *txn;
    int call_code;           /* the last begin / commit result */
    client_txn_error commit_error;
    char call_msg[BS_ERR_MSG_MAX];
    _Atomic int gate;
    int rd_kind;             /* the read asked for */
    uint32_t rd_db;
    bs_slice rd_key;
    const bs_slice *rd_keys;
    size_t rd_n;
    client_scan_req rd_scan;
    int64_t first_ms;        /* when the first attempt began (the conflict budget) */
    bool resume_ok;          /* the last delay's verdict */
    client_result res;       /* the last read's result (owned; moved from the client) */
    bool write_failed;       /* a buffered write was refused (msg) */
};

/* Starts the run x (its cmds, watches, done, client and txns set; the rest zeroed). Runs
 * at least until its first asynchronous step; done may be called before this returns. */
void resp_exec_start(resp_exec *x);

/* The end of a delay asked for through x->delay (any thread; exactly once per delay). */
void resp_exec_resume(resp_exec *x, bool go_on);

/* For the forms (exec_cmds.c): ask for a read, buffer a write. A scan's slices must stay
 * valid until the form runs again (keep them in c). */
/* COPY's transactional form (exec_cmds.c), also run alone for COPY ... DB n (cmd_keys.c):
 * c->flag is REPLACE, c->src_db / c->dst_db the databases. */
resp_xstep resp_x_copy(resp_exec *x, resp_xcmd *c);
resp_xstep resp_x_get(resp_exec *x, resp_xcmd *c, bs_slice key);
resp_xstep resp_x_mget(resp_exec *x, resp_xcmd *c, const bs_slice *keys, size_t n);
resp_xstep resp_x_scan(resp_exec *x, const client_scan_req *req);
void resp_x_put(resp_exec *x, resp_xcmd *c, bs_slice key, bs_slice value, uint64_t expire_ms);
void resp_x_del(resp_exec *x, uint32_t db, bs_slice key);

#endif
