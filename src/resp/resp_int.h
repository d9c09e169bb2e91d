/* resp_int.h -- declarations shared by the files of src/resp/ (not a contract for others).
 *
 * The command interface. The connection layer (conn.c) parses a command, looks it up in
 * the command table (commands.c), checks arity and authentication, and runs its handler on
 * the loop thread with a resp_req. The handler writes exactly one reply into req->o and
 * calls resp_req_finish(req), either before returning or later from a client callback on
 * any thread (finish posts the request back to the loop). The connection sends replies in
 * request order, whatever order requests finish in.
 *
 * Ownership: a resp_req belongs to its connection; handlers borrow it until they call
 * resp_req_finish exactly once, and must not touch it afterwards.
 *
 * Lifetime across threads: req->conn and req->srv are valid while the handler runs on the
 * loop thread. A completion on another thread may come after the connection closed or the
 * server was freed; there, use only the request's own fields (argc, argv, db, proto, o,
 * out) and finish it: the connection layer then frees it. */
#ifndef BASALT_RESP_RESP_INT_H
#define BASALT_RESP_RESP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client.h"
#include "common/buf.h"
#include "resp/proto.h"
#include "resp/resp.h"

typedef struct resp_conn resp_conn; /* private to the connection layer */

typedef struct resp_req {
    resp_conn *conn;   /* borrowed: the connection (connection-state commands only) */
    resp_server *srv;  /* borrowed */
    client *client;    /* borrowed: the cluster client */
    size_t argc;       /* >= 1; argv[0] is the command name as sent */
    bs_buf *argv;      /* owned by the request */
    uint32_t db;       /* the connection's database (= RawKV keyspace) for this command */
    int proto;         /* 2 or 3: the connection's protocol for this command */
    bs_buf out;        /* the encoded reply */
    resp_out o;        /* encodes into out with proto */
    struct resp_req *next; /* connection layer's queue */
    bool finished;
    void *priv;        /* connection layer's */
} resp_req;

/* The handler has written its complete reply into req->o. Any thread; exactly once. */
void resp_req_finish(resp_req *req);

/* argv[i] as a slice. */
static inline bs_slice resp_req_arg(const resp_req *req, size_t i)
{
    return bs_buf_slice(&req->argv[i]);
}

typedef void (*resp_cmd_fn)(resp_req *req);

/* Command flags (what COMMAND INFO reports). */
#define RESP_CMD_WRITE 0x0001u
#define RESP_CMD_READONLY 0x0002u
#define RESP_CMD_FAST 0x0004u
#define RESP_CMD_NOAUTH 0x0008u   /* allowed before AUTH (AUTH, HELLO, QUIT, RESET...) */
#define RESP_CMD_ADMIN 0x0010u
#define RESP_CMD_LOADING 0x0020u
#define RESP_CMD_STALE 0x0040u
#define RESP_CMD_NOSCRIPT 0x0080u
#define RESP_CMD_DENYOOM 0x0100u
#define RESP_CMD_PUBSUB 0x0200u
#define RESP_CMD_NO_MULTI 0x0400u /* refused inside MULTI (once MULTI exists) */
#define RESP_CMD_BARRIER 0x0800u  /* runs alone, as a keyless data command does (below) */
#define RESP_CMD_MULTI_CTL 0x1000u /* runs at once inside MULTI instead of being queued
                                    * (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET: Redis's
                                    * processCommand list) */

/* Execution order within a connection (conn.c). Pipelined commands run concurrently, yet
 * each sees the effects of the ones sent before it, as in Redis:
 *   - a command with keys (first_key > 0, by first_key/last_key/key_step) waits while an
 *     earlier command of the connection that shares a key has not replied;
 *   - a command that reads or writes data without declared keys (RESP_CMD_READONLY or
 *     RESP_CMD_WRITE with first_key 0: DBSIZE, FLUSHDB, SCAN...), or that carries
 *     RESP_CMD_BARRIER, waits for every earlier data command, and later ones wait for it;
 *   - other commands (connection and server state) never wait.
 * A waiting command holds back the commands after it, so replies and effects stay in
 * request order. */

typedef struct resp_command {
    const char *name;    /* lower case, e.g. "get" or for a subcommand "id" */
    int arity;           /* Redis's: > 0 exact argc, < 0 at least -arity */
    unsigned flags;      /* RESP_CMD_* */
    int first_key, last_key, key_step; /* Redis's key spec (0 0 0: no keys; -1 = last) */
    const char *group;   /* "string", "generic", "connection", "server", "keyspace" */
    const char *summary; /* COMMAND DOCS */
    const char *since;   /* Redis version that introduced it, e.g. "1.0.0" */
    resp_cmd_fn fn;      /* NULL for a container (see subcommands) */
    const struct resp_command *subcommands; /* CLIENT, CONFIG, COMMAND...: NULL-terminated
                                               by an entry with name NULL */
} resp_command;

/* Per-family tables, each terminated by an entry with name NULL (cmd_*.c). */
extern const resp_command resp_cmds_string[];
extern const resp_command resp_cmds_keys[];
extern const resp_command resp_cmds_conn[];   /* connection commands */
extern const resp_command resp_cmds_server[]; /* server commands */
extern const resp_command resp_cmds_multi[];  /* MULTI EXEC DISCARD WATCH UNWATCH */

/* ---- argument helpers (util.c), Redis's exact rules and error texts -------------------- */

/* resp_parse_ll (proto.h) is the integer rule of every argument too. */
/* Redis's string2ld/strtold rules for INCRBYFLOAT-style arguments: no spaces, no NaN. */
bool resp_parse_ld(bs_slice s, long double *out);
/* Case-insensitive comparison of s with the C string lit. */
bool resp_arg_is(bs_slice s, const char *lit);
/* Redis's stringmatchlen(): glob-style pattern matching (*, ?, [...], \\ escapes),
 * nocase when asked. */
bool resp_glob_match(bs_slice pattern, bs_slice str, bool nocase);

/* Common reply texts (without "ERR "), as Redis's shared.* objects. */
#define RESP_ERR_SYNTAX "syntax error"
#define RESP_ERR_NOT_INTEGER "value is not an integer or out of range"
#define RESP_ERR_WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong kind of value"
#define RESP_ERR_NO_SUCH_KEY "no such key"

/* Replies with the error of a failed client call (its msg, Redis's text for Redis kinds)
 * and finishes req. */
void resp_reply_client_error(resp_req *req, const client_result *res);

/* ---- arguments and replies of the string and key commands ------------------------------
 *
 * Shared by the raw handlers (cmd_string.c, cmd_keys.c) and the transaction executor
 * (exec_cmds.c), so a command checks its arguments the same way, in Redis 7's order and
 * with its texts, whether it runs alone or inside MULTI/EXEC. A parser returns true with
 * its outputs filled, or false after writing Redis's error reply into req->o (and nothing
 * else: the caller finishes). They read only req's arguments; "now" is the wall clock. */

typedef struct resp_set_args {
    txn_rmw_params p; /* TXN_RMW_SET: arg = the value (borrowed from req), flags, expiry */
    bool blind;       /* no NX/XX/GET/KEEPTTL/EXAT/PXAT: a plain put with ttl_ms */
    uint64_t ttl_ms;  /* blind: relative TTL in ms, 0 = none */
    bool get;         /* the GET option: reply the old value */
} resp_set_args;
/* SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT t|KEEPTTL]. */
bool resp_args_set(resp_req *req, resp_set_args *a);
/* SETEX key seconds value (seconds) / PSETEX key ms value: *ttl_ms. */
bool resp_args_setex(resp_req *req, bool seconds, uint64_t *ttl_ms);

typedef struct resp_getex_args {
    bool plain;       /* no option: exactly GET */
    txn_rmw_params p; /* TXN_RMW_GETEX */
    /* A bad expire argument is an error only for a key that exists (Redis looks the key up
     * first): 0 none, else the deferred error for resp_reply_getex_deferred. */
    int deferred;
} resp_getex_args;
/* GETEX key [EX|PX|EXAT|PXAT t|PERSIST]: false only for a syntax error. */
bool resp_args_getex(resp_req *req, resp_getex_args *a);
void resp_reply_getex_deferred(resp_out *o, int deferred);

/* GETRANGE/SUBSTR key start end. */
bool resp_args_getrange(resp_req *req, long long *start, long long *end);
/* The GETRANGE reply for value (empty for a missing key). */
void resp_reply_getrange(resp_out *o, bs_slice value, long long start, long long end);
/* SETRANGE key offset value: TXN_RMW_SETRANGE. */
bool resp_args_setrange(resp_req *req, txn_rmw_params *p);

typedef enum resp_incr_kind {
    RESP_INCR, RESP_DECR, RESP_INCRBY, RESP_DECRBY, RESP_INCRBYFLOAT
} resp_incr_kind;
/* INCR/DECR key, INCRBY/DECRBY key n, INCRBYFLOAT key f: TXN_RMW_INCRBY/INCRBYFLOAT. */
bool resp_args_incr(resp_req *req, resp_incr_kind kind, txn_rmw_params *p);
/* MSET/MSETNX: the key/value pairs are complete. */
bool resp_args_mset(resp_req *req, bool nx);

/* EXPIRE key t [NX|XX|GT|LT] and PEXPIRE/EXPIREAT/PEXPIREAT: TXN_RMW_EXPIRE. */
bool resp_args_expire(resp_req *req, bool relative, bool seconds, txn_rmw_params *p);
/* COPY src dst [DB n] [REPLACE] (databases: the server's count, read on the loop thread):
 * *replace and *dst_db (req->db without DB). Refuses src == dst in one database, as Redis. */
bool resp_args_copy(resp_req *req, long long databases, bool *replace, uint32_t *dst_db);

/* How a read-modify-write's result becomes a reply. */
typedef enum resp_rmw_reply {
    RESP_RMW_OLD,      /* the old value, or null (GETSET, GETDEL, GETEX, SET ... GET) */
    RESP_RMW_INT,      /* the integer (INCR family, APPEND, SETRANGE) */
    RESP_RMW_APPLIED,  /* 1 or 0 (SETNX, EXPIRE family, PERSIST) */
    RESP_RMW_SET_COND, /* +OK, or null when NX/XX refused (SET NX/XX) */
    RESP_RMW_FLOAT,    /* the new value as a bulk (INCRBYFLOAT) */
} resp_rmw_reply;
void resp_reply_rmw(resp_out *o, resp_rmw_reply kind, const txn_rmw_result *r);

/* MGET's reply: argv[1..] of req matched up with pairs (the live ones, in request order). */
void resp_reply_mget(resp_out *o, const resp_req *req, const txn_pairs *pairs);

typedef enum resp_ttl_kind {
    RESP_TTL_S, RESP_TTL_MS, RESP_EXPIRETIME_S, RESP_EXPIRETIME_MS
} resp_ttl_kind;
/* TTL family: -2 when !found, -1 without TTL (expire_ms 0), else from expire_ms (the
 * absolute expiry as stored, Unix ms). */
void resp_reply_expiry(resp_out *o, resp_ttl_kind kind, bool found, uint64_t expire_ms);

/* ---- MULTI/EXEC (cmd_multi.c, exec.c, exec_cmds.c) -------------------------------------- */

/* Runs req's command (one of the multi-key commands Redis makes atomic: MSET, MSETNX, DEL,
 * UNLINK, EXISTS, TOUCH, MGET, RENAME, RENAMENX, COPY) as a transaction of its own: the
 * path those take when their keys span Regions. Replies exactly as the command alone and
 * finishes req. databases as resp_args_copy's. Uses only req's own fields and the client
 * (req->client), so it may be called on any thread, from a client callback. */
void resp_exec_single(resp_req *req, long long databases);
/* Whether a client result is client_multi's refusal of keys spanning Regions. */
bool resp_is_crossregion(const client_result *res);

/* ---- key-family helpers (cmd_keys.c, cmd_scan.c, scan_cursor.c) ------------------------ */

/* SCAN cursors (scan_cursor.c): a server-wide table from integer cursors to "resume after
 * this key of this db", bounded (least recently used evicted first). Any thread. */
#define RESP_SCAN_CURSORS_MAX 65536                  /* entries */
#define RESP_SCAN_CURSOR_BYTES_MAX (64u * 1024 * 1024) /* bytes of keys held */

/* A non-zero cursor standing for "continue after last_key in db" (borrowed for the call).
 * prev is the cursor the page started from (0 for none): its entry is dropped, so one
 * iteration holds one entry. */
uint64_t resp_scan_cursor_save(uint32_t db, bs_slice last_key, uint64_t prev);
/* Where an iteration with this non-zero cursor resumes, as an inclusive start key written
 * into *start (reset first; caller owns). Returns true when the table knows the cursor
 * (start = its key followed by a 0 byte), false when not (start = the key prefix the
 * cursor carries: the iteration may return keys again, and misses none). */
bool resp_scan_cursor_resume(uint64_t cursor, uint32_t db, bs_buf *start);
/* Tests: change the bounds (0 = default), drop every entry, count entries. */
void resp_scan_cursor_set_limits(size_t max_entries, size_t max_bytes);
void resp_scan_cursor_reset(void);
size_t resp_scan_cursor_count(void);

/* LCS (cmd_lcs.c), listed in resp_cmds_string[]. */
void resp_cmd_lcs(resp_req *req);
typedef struct resp_lcs_args {
    bool getlen, getidx, withmatchlen;
    long long minmatchlen;
    long long max_table; /* bytes the table may take: proto-max-bulk-len, as Redis */
} resp_lcs_args;
/* LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]; max_table is the caller's. */
bool resp_args_lcs(resp_req *req, long long max_table, resp_lcs_args *a);
/* LCS's reply for the two values (a missing key is an empty string). */
void resp_reply_lcs(resp_out *o, const resp_lcs_args *a, bs_slice v1, bs_slice v2);

/* MEMORY USAGE key [SAMPLES count] and FLUSHDB/FLUSHALL [ASYNC|SYNC] (cmd_keys.c). */
bool resp_args_memory_usage(resp_req *req);
/* MEMORY USAGE's estimate for a string of these sizes. */
long long resp_memory_estimate(size_t key_len, size_t value_len);
bool resp_args_flush(resp_req *req);

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] (cmd_scan.c). */
typedef struct resp_scan_args {
    uint64_t cursor;
    uint32_t limit;   /* keys to read (COUNT, bounded) */
    bool use_pattern; /* a MATCH other than "*" */
    bs_slice pattern; /* borrowed from the request */
    bool none;        /* a TYPE no key has: the iteration is complete at once */
} resp_scan_args;
bool resp_args_scan(resp_req *req, resp_scan_args *a);
/* The keys the page reads: [*start, *end) (no end unless *has_end; the bufs are replaced,
 * caller owns). False when no key can match (reply the empty, complete page). */
bool resp_scan_range(uint32_t db, const resp_scan_args *a, bs_buf *start, bs_buf *end,
                     bool *has_end);
/* The cursor that follows a page read with limit a->limit (0: the iteration is over). */
uint64_t resp_scan_next_cursor(uint32_t db, const resp_scan_args *a, const txn_pairs *page);
/* SCAN's reply: the cursor and the page's keys that match (keys may be NULL: none). */
void resp_reply_scan(resp_out *o, uint64_t cursor, const txn_pairs *keys,
                     const resp_scan_args *a);
/* KEYS pattern: the range that can hold matches, as resp_scan_range; *all when every key
 * matches. */
bool resp_keys_range(bs_slice pattern, bool *all, bs_buf *start, bs_buf *end, bool *has_end);
#define RESP_KEYS_PAGE 4096     /* keys KEYS reads per scan */
#define RESP_RANDOMKEY_PAGE 64  /* keys RANDOMKEY picks among (cmd_scan.c explains) */
/* RANDOMKEY with first < last the first and last keys: a random start key between them
 * into *start (false when first >= last: last is the answer). */
bool resp_randomkey_pivot(bs_slice first, bs_slice last, bs_buf *start);
/* A random index below n (n > 0). */
size_t resp_randomkey_pick(size_t n);

/* Handlers of the keyspace-walking commands (cmd_scan.c), listed in resp_cmds_keys[]. */
void resp_cmd_scan(resp_req *req);
void resp_cmd_keys(resp_req *req);
void resp_cmd_randomkey(resp_req *req);

#endif
