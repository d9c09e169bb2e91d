/* conn_int.h -- connection and server state, shared by the connection-layer files of
 * src/resp/ (server.c, conn.c, commands.c, cmd_conn.c, cmd_server.c).
 *
 * resp_int.h is the interface command handlers are written against; this header is what
 * sits behind it: the resp_server and resp_conn structs, the command registry built from
 * the per-family tables, and the hooks the connection-state commands (CLIENT, HELLO,
 * CONFIG, INFO...) need. Handlers of data commands (cmd_string.c, cmd_keys.c) include it
 * only to read the server's settings (req->srv->set: databases, proto-max-bulk-len).
 *
 * Threads: everything here belongs to the server's loop thread, except the fields marked
 * "atomic", which other threads touch through resp_req_finish(). */
#ifndef BASALT_RESP_CONN_INT_H
#define BASALT_RESP_CONN_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/config.h"
#include "net/net.h"
#include "resp/resp_int.h"

struct evbuffer;
struct event;
struct evconnlistener;

/* What HELLO and INFO report. "server" is "redis" and the version a Redis 7.2 one because
 * client libraries gate features on them (RESP3, CLIENT SETINFO, the 7.x command forms);
 * Basalt names itself in INFO's basalt_version and in its own INFO section. */
#define RESP_REDIS_VERSION "7.2.0"
#define RESP_BASALT_VERSION "0.1.0"

/* ---- the command registry (commands.c) ---------------------------------------------- */

/* One command or subcommand of the merged table. */
typedef struct resp_cmd_def {
    const resp_command *c;
    const struct resp_cmd_def *parent; /* NULL for a top-level command */
    const struct resp_cmd_def *subs;   /* first subcommand (contiguous), or NULL */
    size_t nsubs;
    size_t idx;        /* index in the registry: what per-command statistics are keyed by */
    char fullname[64]; /* "get", "client|list" (Redis 7's fullname) */
} resp_cmd_def;

/* Builds the registry once per process (thread-safe). Asserts that no two families
 * define the same command. */
void resp_commands_init(void);
/* Number of entries (commands and subcommands) and number of top-level commands. */
size_t resp_commands_count(void);
size_t resp_commands_top_count(void);
/* Entry i (0 <= i < count); the top-level ones come first, sorted by name. */
const resp_cmd_def *resp_commands_at(size_t i);
/* Case-insensitive lookups; NULL when unknown. */
const resp_cmd_def *resp_commands_lookup(bs_slice name);
const resp_cmd_def *resp_commands_lookup_sub(const resp_cmd_def *parent, bs_slice name);

/* Resolves argv to the command to run, as Redis's lookupCommand + commandCheckExistence +
 * commandCheckArity do. Returns the entry, or NULL after writing the error reply
 * ("unknown command ...", "unknown subcommand ...", "wrong number of arguments ...")
 * to *o. */
const resp_cmd_def *resp_commands_resolve(size_t argc, const bs_slice *argv, resp_out *o);

/* COMMAND DOCS "arguments" (cmd_docs.c): whether the command has any, and the array. */
bool resp_docs_has_args(const char *fullname);
void resp_docs_reply_args(resp_out *o, const char *fullname);

/* Replies with Redis's HELP layout: "<CMD> <subcommand> [<arg> [value] [opt] ...].
 * Subcommands are:", then lines (NULL-terminated), then HELP's own two lines. */
void resp_reply_help(resp_out *o, const char *cmd, const char *const *lines);
/* Redis's addReplySubcommandSyntaxError. */
void resp_reply_subcommand_error(resp_req *req);

/* ---- per-request state of the connection layer ---------------------------------------- */

enum { REQ_RUNNING = 0, REQ_DONE = 1, REQ_ORPHAN = 2 };

typedef struct conn_req {
    resp_req req;            /* first: resp_req * and conn_req * convert */
    int state;               /* atomic: REQ_*. RUNNING -> DONE by finish; RUNNING ->
                              * ORPHAN by a closing conn; whoever sees the other's mark
                              * frees the request */
    const resp_cmd_def *def; /* NULL for a reply made before dispatch (errors) */
    bool noreply;            /* CLIENT REPLY OFF/SKIP: drop the reply */
    bool close_after;        /* QUIT, protocol error, CLIENT KILL of self */
    bool rejected;           /* refused before running (arity, NOAUTH): rejected_calls */
    bool barrier;            /* a data command without declared keys: runs alone */
    bool exclusive;          /* an EXEC that changes connection state: every later command
                              * waits until its reply left (see conn.c) */
    /* A sub-request (cmd_multi.c runs connection commands queued in MULTI this way): never
     * in a FIFO; resp_req_finish calls on_finish(r, on_finish_arg) instead, on whatever
     * thread finishes it. */
    void (*on_finish)(struct conn_req *r, void *arg);
    void *on_finish_arg;
    uint64_t *keys;          /* hashes of the keys it holds while in the FIFO: &key1 for
                              * one key, else owned */
    uint64_t key1;
    size_t nkeys;
    int64_t start_us;
    struct conn_req *free_next;
} conn_req;

static inline conn_req *conn_req_of(resp_req *r)
{
    return (conn_req *)r;
}

/* ---- MULTI/EXEC state of a connection (cmd_multi.c) ------------------------------------ */

/* A command queued between MULTI and EXEC. */
typedef struct resp_queued {
    const resp_cmd_def *def;
    size_t argc;
    bs_buf *argv; /* owned */
} resp_queued;

/* A key WATCH recorded: what its newest version was (client_watch_get). */
typedef struct resp_watched {
    uint32_t db;
    bs_buf key; /* owned */
    client_watch w;
} resp_watched;

typedef struct resp_multi_state {
    bool active; /* between MULTI and EXEC/DISCARD (Redis's CLIENT_MULTI) */
    bool dirty;  /* a command failed to queue: EXEC aborts (CLIENT_DIRTY_EXEC) */
    resp_queued *q; /* nq entries, owned; not filled once dirty, as Redis */
    size_t nq, capq;
    resp_watched *w; /* nw entries, owned; distinct (db, key) */
    size_t nw, capw;
} resp_multi_state;

/* Inside MULTI, dispatch hands every command that is not RESP_CMD_MULTI_CTL here instead of
 * running it: queued with +QUEUED, or refused (NO_MULTI) with the transaction flagged. The
 * reply is written into r->req.o; argv (argc entries) is taken. Loop thread. */
void resp_multi_queue(resp_conn *c, conn_req *r, const resp_cmd_def *d, size_t argc,
                      bs_buf *argv);
/* Whether the EXEC d about to run on c must be exclusive (it runs connection commands
 * whose effects later commands must see). Loop thread. */
bool resp_multi_wants_exclusive(const resp_conn *c, const resp_cmd_def *d);
/* Drops the queue, the flags and every watched key (DISCARD, RESET, close). */
void resp_multi_reset(resp_conn *c);

/* Runs fn(arg, alive) on the loop thread of req's connection: at once when called there,
 * else posted. alive says the connection is open and req not orphaned (only then may fn
 * touch req->conn or req->srv); fn must finish req eventually either way. Any thread. */
void resp_req_on_loop(resp_req *req, void (*fn)(void *arg, bool alive), void *arg);

/* ---- connections (conn.c) ------------------------------------------------------------- */

enum { REPLY_ON = 0, REPLY_OFF, REPLY_SKIP_NEXT, REPLY_SKIP };

/* A multiset of 64-bit key hashes (keyset.c): open addressing with linear probing and
 * backward-shift deletion. Zero-initialised is empty. Loop thread only. */
typedef struct resp_keyset {
    uint64_t *h; /* 0 = empty slot */
    uint32_t *n; /* count of each hash */
    size_t cap;  /* 0 or a power of two. Invariant: used * 2 <= cap */
    size_t used; /* distinct hashes */
} resp_keyset;

/* A hash of (db, key), never 0. */
uint64_t resp_key_hash(uint32_t db, bs_slice key);
void resp_keyset_add(resp_keyset *s, uint64_t h);
/* Removes one occurrence; h must be present (asserted). */
void resp_keyset_del(resp_keyset *s, uint64_t h);
bool resp_keyset_has(const resp_keyset *s, uint64_t h);
/* Occurrences of h. */
uint32_t resp_keyset_count(const resp_keyset *s, uint64_t h);
void resp_keyset_free(resp_keyset *s);

/* Kept apart from the server so a request finishing after resp_server_free() can still
 * find out, under mu, that the loop is gone. Refcounted: the server plus every conn. */
typedef struct resp_hub {
    pthread_mutex_t mu;
    net_loop *loop; /* guarded by mu; NULL once the loop is stopped */
    int refs;       /* atomic */
} resp_hub;

struct resp_conn {
    resp_server *srv; /* NULL once closed */
    resp_hub *hub;
    int refs;         /* atomic: 1 while open, + each orphaned request, + a posted flush */
    int flush_posted; /* atomic: a flush closure is queued on the loop */

    uint64_t id;
    int fd;
    struct event *rev, *wev;
    resp_parser parser;
    struct evbuffer *out;

    /* Requests in arrival order; replies leave from the head once finished.
     * Invariant: nreqs == length of the list. */
    conn_req *head, *tail;
    size_t nreqs;

    /* Execution order (see conn.c): hashes of the keys of commands in the FIFO that have
     * started (a multiset, open addressing), barriers among them, and the parsed command
     * waiting for them. Invariant: stalled is NULL or the FIFO's tail. */
    resp_keyset held;
    size_t nbarriers, ndata, nexclusive;
    conn_req *stalled;

    resp_multi_state multi; /* MULTI/EXEC and WATCH (cmd_multi.c) */

    char addr[64], laddr[64];
    char *name, *lib_name, *lib_ver; /* owned; NULL when unset */
    uint32_t db;
    int proto;
    bool authenticated;
    int reply_mode; /* REPLY_* */
    bool no_evict, no_touch;

    bool closed;      /* resources released; waiting for the last reference */
    bool closing;     /* no more commands are read (QUIT, protocol error, kill) */
    bool eof;         /* the peer half-closed: answer what was asked, then close */
    bool kill_now;    /* CLIENT KILL of another conn: close at the next safe point */
    bool read_paused; /* back-pressure: too many requests or reply bytes queued */
    bool processing;  /* inside conn_process: flushes and closes wait for its end */

    int64_t ctime_ms, last_ms;    /* creation, last interaction (idle) */
    int64_t obuf_soft_since_ms;   /* when the soft output limit was first exceeded, or 0 */
    const resp_cmd_def *last_cmd; /* for CLIENT LIST cmd= */
    size_t argv_mem;              /* bytes of the command being dispatched */
    size_t qbuf_peak;

    struct resp_conn *prev, *next; /* the server's list */
};

/* Called by the listener with an accepted, non-blocking socket. */
void resp_conn_accept(resp_server *s, int fd, const struct sockaddr *sa, int salen);
/* Closes at once (loop thread): requests in flight are orphaned, replies dropped. */
void resp_conn_close(resp_conn *c);
/* Marks c to be closed at its next safe point (CLIENT KILL of another connection). */
void resp_conn_kill(resp_conn *c);
/* Keeps the parser's auth_required in step with c->authenticated. */
void resp_conn_set_auth(resp_conn *c, bool authenticated);
/* One CLIENT LIST line for c (without the newline) appended to out. */
void resp_conn_describe(const resp_conn *c, bs_buf *out);
/* Bytes of queued output (replies not yet written) and of buffered input. */
size_t resp_conn_out_bytes(const resp_conn *c);
/* Applies a changed proto-max-bulk-len to every open conn. */
void resp_conns_apply_limits(resp_server *s);
/* Idle timeout and output-buffer soft limit, from the server cron. */
void resp_conn_cron(resp_conn *c, int64_t now_ms);

/* ---- the server (server.c) --------------------------------------------------------------- */

/* Settings CONFIG GET/SET works on (Redis names); the rest of bs_config is reported as is. */
typedef struct resp_settings {
    char *requirepass; /* owned; "" = no authentication */
    long long databases;
    long long maxclients;
    long long timeout;       /* seconds; 0 = never */
    long long tcp_keepalive; /* seconds; 0 = off */
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    /* client-output-buffer-limit, per class: hard bytes, soft bytes, soft seconds.
     * Only the normal class applies (Basalt has no replicas or pub/sub yet). */
    long long obuf[3][3];
    long long max_pipeline;         /* requests queued per conn before reading pauses */
    struct resp_tunables *tunables; /* owned: the encoding tunables (cmd_server.c) */
    long long info_keyspace_interval; /* seconds between INFO keyspace counts (cmd_server.c) */
    struct resp_keyspace_cache *keyspace_cache; /* owned: INFO keyspace's counts (cmd_server.c) */
} resp_settings;

enum { OBUF_NORMAL = 0, OBUF_REPLICA, OBUF_PUBSUB };

typedef struct resp_cmd_stats {
    uint64_t calls, usec, rejected, failed;
} resp_cmd_stats;

typedef struct resp_errstat {
    char code[32];
    uint64_t count;
} resp_errstat;

struct resp_server {
    net_loop *loop;
    resp_hub *hub;
    client *client;
    bs_config cfg; /* the server's copy; CONFIG SET updates the redis.* keys in it */
    resp_settings set;

    struct evconnlistener *listener;
    uint16_t port;
    char host[64];

    resp_conn *conns, *conns_tail; /* every open conn, oldest first (CLIENT LIST order) */
    size_t nconns;
    uint64_t next_id;
    net_timer *cron;
    conn_req *free_reqs; /* recycled requests (loop thread) */
    size_t nfree_reqs;

    struct resp_sleep *sleeps; /* DEBUG SLEEP timers in flight (cmd_server.c) */
    uint64_t cron_loops;
    size_t mem_peak;
    int shutdown_requested; /* atomic */
    int64_t start_ms;
    char run_id[41];

    /* statistics (INFO stats); reset by CONFIG RESETSTAT */
    uint64_t stat_conns, stat_rejected_conns, stat_commands, stat_net_in, stat_net_out;
    uint64_t stat_errors, stat_obuf_disconnects, stat_qbuf_disconnects;
    uint64_t ops_sample_cmds, ops_sample_ms;
    uint64_t ops_samples[16];
    size_t ops_sample_idx;
    resp_cmd_stats *cmd_stats; /* resp_commands_count() entries */
    resp_errstat *errstats;
    size_t nerrstats, errstats_cap;
};

/* The hub of the loop the calling thread runs, if any (set on the loop thread). */
extern __thread resp_hub *resp_tls_hub;

/* Current time (wall clock ms and monotonic ms) as the connection layer sees it. */
int64_t resp_now_ms(void);
int64_t resp_mono_us(void);

/* Counts an error reply by its code ("ERR", "WRONGTYPE"...) for INFO errorstats. */
void resp_server_count_error(resp_server *s, const uint8_t *reply, size_t len);
void resp_server_reset_stats(resp_server *s);

/* ---- server commands' helpers (cmd_server.c) --------------------------------------------- */

/* Fills s->set from s->cfg and the Redis defaults. */
void resp_settings_init(resp_server *s);
void resp_settings_free(resp_settings *set);
/* Answers every DEBUG SLEEP still waiting and ends every resp_after wait (server
 * shutdown). */
void resp_sleeps_cancel(resp_server *s);
/* Calls fn(arg, true) on the loop thread after ms milliseconds, or fn(arg, false) if the
 * server stops first. Loop thread. */
void resp_after(resp_server *s, int64_t ms, void (*fn)(void *arg, bool fired), void *arg);

#endif
