/* cmd_server.c -- server commands: INFO, TIME, CONFIG, SHUTDOWN, DEBUG SLEEP.
 *
 * CONFIG speaks Redis's parameter names for the settings Basalt has ([redis] in the TOML
 * file, plus client-query-buffer-limit and client-output-buffer-limit), and reports every
 * other Basalt setting under its dotted TOML path ("raftstore.raft-base-tick-interval"),
 * read-only. Clients ask for a few Redis settings to learn how the server behaves; those
 * are answered truthfully: save "" (no RDB snapshots), appendonly "yes" and appendfsync
 * "always" (every acknowledged write is in a synced Raft log), maxmemory 0 and
 * maxmemory-policy "noeviction" (Basalt never evicts). Setting them to anything else is
 * refused with the reason. Redis's in-memory encoding tunables (*-max-listpack-*,
 * *-max-ziplist-*, set-max-intset-entries, list-compress-depth...) are accepted, validated
 * as Redis does and reported back, with no effect -- Kvrocks does the same -- so tools that
 * tune them keep working.
 *
 * CONFIG SET is atomic as in Redis 7: every pair is validated before any is applied.
 *
 * INFO builds Redis's sections with CRLF line ends, plus a "basalt" section (store, Regions,
 * leaders, Raft and storage figures). The keyspace section reports live-key counts per
 * database from the store (client_count, O(keys)), taken at most every
 * info-keyspace-interval seconds and kept between INFOs (info_keyspace says exactly what
 * is reported); databases without keys are left out as in Redis, at most INFO_MAX_DBS are
 * counted, and expires/avg_ttl are 0 because the store does not count keys with a TTL
 * separately. Figures Redis has and Basalt does not track (keyspace_hits, expired_keys...)
 * are reported as 0. */
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "resp/conn_int.h"

#define INFO_MAX_DBS 64

/* ---- settings ------------------------------------------------------------------------- */

/* Redis's defaults of the encoding tunables (7.2), in the order of tun[]. */
enum {
    TUN_HASH_ENTRIES,
    TUN_HASH_VALUE,
    TUN_LIST_SIZE,
    TUN_LIST_DEPTH,
    TUN_SET_INTSET,
    TUN_SET_ENTRIES,
    TUN_SET_VALUE,
    TUN_ZSET_ENTRIES,
    TUN_ZSET_VALUE,
    TUN_STREAM_BYTES,
    TUN_STREAM_ENTRIES,
    TUN_HLL_BYTES,
    TUN_REHASH,
    TUN_LAZY_EVICTION,
    TUN_LAZY_EXPIRE,
    TUN_LAZY_SERVER_DEL,
    TUN_LAZY_USER_DEL,
    TUN_LAZY_USER_FLUSH,
    TUN__COUNT
};

static const long long tun_defaults[TUN__COUNT] = {
    512, 64, -2, 0, 512, 128, 64, 128, 64, 4096, 100, 3000, 1, 0, 0, 0, 0, 0,
};

/* Stored per server: the tunables and the values of settings Basalt does not act on. */
typedef struct resp_tunables {
    long long v[TUN__COUNT];
} resp_tunables;

static void keyspace_cache_init(resp_settings *set);
static void keyspace_cache_release(resp_settings *set);

void resp_settings_init(resp_server *s)
{
    resp_settings *set = &s->set;
    const bs_config *cfg = &s->cfg;
    set->requirepass = bs_strdup(cfg->redis.requirepass);
    set->databases = cfg->redis.databases;
    set->maxclients = cfg->redis.maxclients;
    set->timeout = cfg->redis.timeout;
    set->tcp_keepalive = cfg->redis.tcp_keepalive;
    set->proto_max_bulk_len = (long long)cfg->redis.proto_max_bulk_len;
    set->info_keyspace_interval = cfg->redis.info_keyspace_interval;
    set->client_query_buffer_limit = 1024LL * 1024 * 1024;
    static const long long obuf_defaults[3][3] = {
        {0, 0, 0}, {256LL << 20, 64LL << 20, 60}, {32LL << 20, 8LL << 20, 60}};
    memcpy(set->obuf, obuf_defaults, sizeof obuf_defaults);
    set->max_pipeline = 1024;
    resp_tunables *t = bs_calloc(1, sizeof *t);
    memcpy(t->v, tun_defaults, sizeof t->v);
    set->tunables = t;
    keyspace_cache_init(set);
}

void resp_settings_free(resp_settings *set)
{
    bs_free(set->requirepass);
    bs_free(set->tunables);
    set->requirepass = NULL;
    set->tunables = NULL;
    keyspace_cache_release(set);
}

/* ---- CONFIG parameters ---------------------------------------------------------------- */

typedef enum pkind {
    K_INT,     /* long long in resp_settings at off, [min, max] */
    K_MEM,     /* the same, with Redis's memory units (1mb, 1gb...) */
    K_TUN,     /* an encoding tunable: integer in tun[off] */
    K_TUNMEM,  /* the same with memory units */
    K_TUNBOOL, /* yes/no tunable in tun[off] */
    K_PASS,    /* requirepass */
    K_OBUF,    /* client-output-buffer-limit */
    K_FIXED,   /* a constant that may only be "set" to itself */
    K_RO,      /* computed, immutable */
} pkind;

typedef struct param {
    const char *name;
    pkind kind;
    long long min, max;
    size_t off;
    const char *fixed;    /* K_FIXED: the value; K_RO: which one (see ro_value) */
    const char *why;      /* K_FIXED: why no other value is accepted */
    const char *cfg_path; /* the bs_config key kept in step, or NULL */
    const char *alias_of; /* the canonical param's name, or NULL */
} param;

#define SET_OFF(f) offsetof(resp_settings, f)
#define LL_MAX 9223372036854775807LL

static const param params[] = {
    {"requirepass", K_PASS, 0, 0, 0, NULL, NULL, "redis.requirepass", NULL},
    {"databases", K_RO, 0, 0, 0, "databases", NULL, NULL, NULL},
    {"maxclients", K_INT, 1, 4294967295LL, SET_OFF(maxclients), NULL, NULL, "redis.maxclients",
     NULL},
    {"timeout", K_INT, 0, INT_MAX, SET_OFF(timeout), NULL, NULL, "redis.timeout", NULL},
    {"tcp-keepalive", K_INT, 0, INT_MAX, SET_OFF(tcp_keepalive), NULL, NULL, "redis.tcp-keepalive",
     NULL},
    {"proto-max-bulk-len", K_MEM, 1024 * 1024, LL_MAX, SET_OFF(proto_max_bulk_len), NULL, NULL,
     "redis.proto-max-bulk-len", NULL},
    {"client-query-buffer-limit", K_MEM, 1024 * 1024, LL_MAX, SET_OFF(client_query_buffer_limit),
     NULL, NULL, NULL, NULL},
    {"client-output-buffer-limit", K_OBUF, 0, 0, 0, NULL, NULL, NULL, NULL},
    /* Basalt's own: how often INFO keyspace counts (see info_keyspace). */
    {"info-keyspace-interval", K_INT, 0, 86400, SET_OFF(info_keyspace_interval), NULL, NULL,
     "redis.info-keyspace-interval", NULL},
    {"bind", K_RO, 0, 0, 0, "bind", NULL, NULL, NULL},
    {"port", K_RO, 0, 0, 0, "port", NULL, NULL, NULL},
    {"dir", K_RO, 0, 0, 0, "dir", NULL, NULL, NULL},
    {"logfile", K_RO, 0, 0, 0, "logfile", NULL, NULL, NULL},
    {"loglevel", K_RO, 0, 0, 0, "loglevel", NULL, NULL, NULL},
    {"save", K_FIXED, 0, 0, 0, "", "Basalt writes no RDB snapshots: every write is durable", NULL,
     NULL},
    {"appendonly", K_FIXED, 0, 0, 0, "yes", "Basalt always logs every write (Raft log)", NULL,
     NULL},
    {"appendfsync", K_FIXED, 0, 0, 0, "always", "Basalt syncs every write before replying", NULL,
     NULL},
    {"maxmemory", K_FIXED, 0, 0, 0, "0", "Basalt keeps data on disk and has no memory limit", NULL,
     NULL},
    {"maxmemory-policy", K_FIXED, 0, 0, 0, "noeviction", "Basalt never evicts keys", NULL, NULL},
    {"notify-keyspace-events", K_FIXED, 0, 0, 0, "", "keyspace notifications are not supported",
     NULL, NULL},
    {"daemonize", K_RO, 0, 0, 0, "no", NULL, NULL, NULL},
    {"supervised", K_RO, 0, 0, 0, "no", NULL, NULL, NULL},
    {"pidfile", K_RO, 0, 0, 0, "", NULL, NULL, NULL},
    {"protected-mode", K_RO, 0, 0, 0, "no", NULL, NULL, NULL},
    {"hz", K_RO, 0, 0, 0, "10", NULL, NULL, NULL},
    {"io-threads", K_RO, 0, 0, 0, "1", NULL, NULL, NULL},
    {"cluster-enabled", K_RO, 0, 0, 0, "no", NULL, NULL, NULL},
    /* Encoding tunables: accepted, reported, no effect. */
    {"hash-max-listpack-entries", K_TUN, 0, LONG_MAX, TUN_HASH_ENTRIES, NULL, NULL, NULL, NULL},
    {"hash-max-ziplist-entries", K_TUN, 0, LONG_MAX, TUN_HASH_ENTRIES, NULL, NULL, NULL,
     "hash-max-listpack-entries"},
    {"hash-max-listpack-value", K_TUN, 0, LONG_MAX, TUN_HASH_VALUE, NULL, NULL, NULL, NULL},
    {"hash-max-ziplist-value", K_TUN, 0, LONG_MAX, TUN_HASH_VALUE, NULL, NULL, NULL,
     "hash-max-listpack-value"},
    {"list-max-listpack-size", K_TUN, INT_MIN, INT_MAX, TUN_LIST_SIZE, NULL, NULL, NULL, NULL},
    {"list-max-ziplist-size", K_TUN, INT_MIN, INT_MAX, TUN_LIST_SIZE, NULL, NULL, NULL,
     "list-max-listpack-size"},
    {"list-compress-depth", K_TUN, 0, INT_MAX, TUN_LIST_DEPTH, NULL, NULL, NULL, NULL},
    {"set-max-intset-entries", K_TUN, 0, LONG_MAX, TUN_SET_INTSET, NULL, NULL, NULL, NULL},
    {"set-max-listpack-entries", K_TUN, 0, LONG_MAX, TUN_SET_ENTRIES, NULL, NULL, NULL, NULL},
    {"set-max-listpack-value", K_TUN, 0, LONG_MAX, TUN_SET_VALUE, NULL, NULL, NULL, NULL},
    {"zset-max-listpack-entries", K_TUN, 0, LONG_MAX, TUN_ZSET_ENTRIES, NULL, NULL, NULL, NULL},
    {"zset-max-ziplist-entries", K_TUN, 0, LONG_MAX, TUN_ZSET_ENTRIES, NULL, NULL, NULL,
     "zset-max-listpack-entries"},
    {"zset-max-listpack-value", K_TUN, 0, LONG_MAX, TUN_ZSET_VALUE, NULL, NULL, NULL, NULL},
    {"zset-max-ziplist-value", K_TUN, 0, LONG_MAX, TUN_ZSET_VALUE, NULL, NULL, NULL,
     "zset-max-listpack-value"},
    {"stream-node-max-bytes", K_TUNMEM, 0, LONG_MAX, TUN_STREAM_BYTES, NULL, NULL, NULL, NULL},
    {"stream-node-max-entries", K_TUN, 0, LL_MAX, TUN_STREAM_ENTRIES, NULL, NULL, NULL, NULL},
    {"hll-sparse-max-bytes", K_TUNMEM, 0, LONG_MAX, TUN_HLL_BYTES, NULL, NULL, NULL, NULL},
    {"activerehashing", K_TUNBOOL, 0, 1, TUN_REHASH, NULL, NULL, NULL, NULL},
    {"lazyfree-lazy-eviction", K_TUNBOOL, 0, 1, TUN_LAZY_EVICTION, NULL, NULL, NULL, NULL},
    {"lazyfree-lazy-expire", K_TUNBOOL, 0, 1, TUN_LAZY_EXPIRE, NULL, NULL, NULL, NULL},
    {"lazyfree-lazy-server-del", K_TUNBOOL, 0, 1, TUN_LAZY_SERVER_DEL, NULL, NULL, NULL, NULL},
    {"lazyfree-lazy-user-del", K_TUNBOOL, 0, 1, TUN_LAZY_USER_DEL, NULL, NULL, NULL, NULL},
    {"lazyfree-lazy-user-flush", K_TUNBOOL, 0, 1, TUN_LAZY_USER_FLUSH, NULL, NULL, NULL, NULL},
};

#define NPARAMS (sizeof params / sizeof params[0])

static const param *param_find(bs_slice name);

/* The param whose value p shares. */
static const param *canonical(const param *p)
{
    if (!p->alias_of)
        return p;
    const param *c = param_find(bs_slice_from_str(p->alias_of));
    BS_ASSERT(c && !c->alias_of);
    return c;
}

static long long *setting_field(resp_server *s, const param *p)
{
    return (long long *)((char *)&s->set + p->off);
}

static const char *loglevel_name(int level)
{
    switch (level) {
    case BS_LOG_LEVEL_TRACE:
    case BS_LOG_LEVEL_DEBUG:
        return "debug";
    case BS_LOG_LEVEL_INFO:
        return "notice";
    default:
        return "warning";
    }
}

/* s's bytes for a "%.*s" (never NULL, even for an empty slice). */
static const char *cs(bs_slice s)
{
    return s.ptr ? (const char *)s.ptr : "";
}

static void append_ll(bs_buf *out, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    bs_buf_append(out, tmp, (size_t)n);
}

static void param_value(resp_server *s, const param *p, bs_buf *out)
{
    p = canonical(p);
    switch (p->kind) {
    case K_INT:
    case K_MEM:
        append_ll(out, *setting_field(s, p));
        return;
    case K_TUN:
    case K_TUNMEM:
        append_ll(out, s->set.tunables->v[p->off]);
        return;
    case K_TUNBOOL: {
        const char *v = s->set.tunables->v[p->off] ? "yes" : "no";
        bs_buf_append(out, v, strlen(v));
        return;
    }
    case K_PASS:
        bs_buf_append(out, s->set.requirepass, strlen(s->set.requirepass));
        return;
    case K_OBUF: {
        static const char *const names[3] = {"normal", "slave", "pubsub"};
        char tmp[256];
        int n = 0;
        for (int i = 0; i < 3; i++)
            n += snprintf(tmp + n, sizeof tmp - (size_t)n, "%s%s %lld %lld %lld", i ? " " : "",
                          names[i], s->set.obuf[i][0], s->set.obuf[i][1], s->set.obuf[i][2]);
        bs_buf_append(out, tmp, (size_t)n);
        return;
    }
    case K_FIXED:
        bs_buf_append(out, p->fixed, strlen(p->fixed));
        return;
    case K_RO:
        break;
    }
    const char *what = p->fixed;
    if (!strcmp(what, "databases")) {
        append_ll(out, s->set.databases);
    } else if (!strcmp(what, "port")) {
        append_ll(out, s->port);
    } else if (!strcmp(what, "bind")) {
        const char *h = s->host[0] ? s->host : "*";
        bs_buf_append(out, h, strlen(h));
    } else if (!strcmp(what, "dir")) {
        char *real = realpath(s->cfg.storage.data_dir, NULL);
        const char *d = real ? real : s->cfg.storage.data_dir;
        bs_buf_append(out, d, strlen(d));
        free(real); /* realpath's buffer comes from malloc */
    } else if (!strcmp(what, "logfile")) {
        bs_buf_append(out, s->cfg.log.file_filename, strlen(s->cfg.log.file_filename));
    } else if (!strcmp(what, "loglevel")) {
        const char *l = loglevel_name(s->cfg.log.level);
        bs_buf_append(out, l, strlen(l));
    } else {
        bs_buf_append(out, what, strlen(what));
    }
}

/* Redis's memtoull(): digits then an optional unit b, k, kb, m, mb, g, gb (any case). */
static bool parse_memory(bs_slice v, long long *out)
{
    size_t i = 0;
    while (i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9')
        i++;
    if (i == 0 || i > 19)
        return false;
    unsigned long long mul;
    bs_slice unit = bs_slice_make(v.ptr + i, v.len - i);
    if (unit.len == 0 || resp_arg_is(unit, "b"))
        mul = 1;
    else if (resp_arg_is(unit, "k"))
        mul = 1000;
    else if (resp_arg_is(unit, "kb"))
        mul = 1024;
    else if (resp_arg_is(unit, "m"))
        mul = 1000 * 1000;
    else if (resp_arg_is(unit, "mb"))
        mul = 1024 * 1024;
    else if (resp_arg_is(unit, "g"))
        mul = 1000ULL * 1000 * 1000;
    else if (resp_arg_is(unit, "gb"))
        mul = 1024ULL * 1024 * 1024;
    else
        return false;
    unsigned long long n = 0;
    for (size_t j = 0; j < i; j++)
        n = n * 10 + (unsigned)(v.ptr[j] - '0');
    if (n > (unsigned long long)LL_MAX / mul)
        return false;
    *out = (long long)(n * mul);
    return true;
}

/* A validated new value, applied only once every pair of a CONFIG SET passed. */
typedef struct pending_set {
    const param *p;
    long long num;
    long long obuf[3][3];
    bs_slice text;
} pending_set;

/* Checks one value; on failure writes Redis's reason into why. */
static bool param_check(resp_server *s, const param *p, bs_slice v, pending_set *ps, char *why,
                        size_t cap)
{
    p = canonical(p);
    ps->p = p;
    ps->text = v;
    switch (p->kind) {
    case K_INT:
    case K_TUN:
        if (!resp_parse_ll(v, &ps->num)) {
            snprintf(why, cap, "argument couldn't be parsed into an integer");
            return false;
        }
        break;
    case K_MEM:
    case K_TUNMEM:
        if (!parse_memory(v, &ps->num)) {
            snprintf(why, cap, "argument must be a memory value");
            return false;
        }
        break;
    case K_TUNBOOL:
        if (resp_arg_is(v, "yes"))
            ps->num = 1;
        else if (resp_arg_is(v, "no"))
            ps->num = 0;
        else {
            snprintf(why, cap, "argument must be 'yes' or 'no'");
            return false;
        }
        return true;
    case K_PASS:
        return true;
    case K_OBUF: {
        /* "<class> <hard> <soft> <seconds>" repeated. */
        memcpy(ps->obuf, s->set.obuf, sizeof ps->obuf);
        bs_slice words[64];
        size_t n = 0, i = 0;
        while (i < v.len) {
            while (i < v.len && v.ptr[i] == ' ')
                i++;
            size_t st = i;
            while (i < v.len && v.ptr[i] != ' ')
                i++;
            if (i > st) {
                if (n == 64) {
                    snprintf(why, cap, "Wrong number of arguments in buffer limit configuration.");
                    return false;
                }
                words[n++] = bs_slice_make(v.ptr + st, i - st);
            }
        }
        if (n % 4 != 0) {
            snprintf(why, cap, "Wrong number of arguments in buffer limit configuration.");
            return false;
        }
        for (size_t w = 0; w < n; w += 4) {
            int cls;
            if (resp_arg_is(words[w], "normal"))
                cls = OBUF_NORMAL;
            else if (resp_arg_is(words[w], "slave") || resp_arg_is(words[w], "replica"))
                cls = OBUF_REPLICA;
            else if (resp_arg_is(words[w], "pubsub"))
                cls = OBUF_PUBSUB;
            else {
                snprintf(why, cap, "Invalid client class specified in buffer limit configuration.");
                return false;
            }
            long long hard, soft, secs;
            if (!parse_memory(words[w + 1], &hard) || !parse_memory(words[w + 2], &soft) ||
                !resp_parse_ll(words[w + 3], &secs) || secs < 0) {
                snprintf(why, cap,
                         "Error in hard, soft or soft_seconds setting in buffer limit "
                         "configuration.");
                return false;
            }
            ps->obuf[cls][0] = hard;
            ps->obuf[cls][1] = soft;
            ps->obuf[cls][2] = secs;
        }
        return true;
    }
    case K_FIXED:
        if (v.len == strlen(p->fixed) && resp_arg_is(v, p->fixed))
            return true;
        snprintf(why, cap, "%s", p->why);
        return false;
    case K_RO:
        snprintf(why, cap, "can't set immutable config");
        return false;
    }
    if (ps->num < p->min || ps->num > p->max) {
        snprintf(why, cap, "argument must be between %lld and %lld inclusive", p->min, p->max);
        return false;
    }
    return true;
}

static void param_apply(resp_server *s, const pending_set *ps)
{
    const param *p = ps->p;
    char text[64];
    switch (p->kind) {
    case K_INT:
    case K_MEM:
        *setting_field(s, p) = ps->num;
        if (p->cfg_path) {
            snprintf(text, sizeof text, "%lld", ps->num);
            /* In range by the checks above, so the copy accepts it. */
            int rc = bs_config_set(&s->cfg, p->cfg_path, text, NULL);
            BS_ASSERT(rc == BS_OK);
        }
        break;
    case K_TUN:
    case K_TUNMEM:
    case K_TUNBOOL:
        s->set.tunables->v[p->off] = ps->num;
        break;
    case K_PASS: {
        bs_free(s->set.requirepass);
        char *pw = bs_malloc(ps->text.len + 1);
        if (ps->text.len)
            memcpy(pw, ps->text.ptr, ps->text.len);
        pw[ps->text.len] = '\0';
        s->set.requirepass = pw;
        (void)bs_config_set(&s->cfg, "redis.requirepass", pw, NULL); /* strings always fit */
        break;
    }
    case K_OBUF:
        memcpy(s->set.obuf, ps->obuf, sizeof ps->obuf);
        break;
    case K_FIXED:
    case K_RO:
        break;
    }
}

static const param *param_find(bs_slice name)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (resp_arg_is(name, params[i].name))
            return &params[i];
    return NULL;
}

static const bs_config_item *item_find(bs_slice name)
{
    size_t n;
    const bs_config_item *items = bs_config_items(&n);
    for (size_t i = 0; i < n; i++)
        if (resp_arg_is(name, items[i].path))
            return &items[i];
    return NULL;
}

/* One CONFIG GET match: a Redis param or a Basalt setting, and the name to report. */
typedef struct cfg_match {
    const param *p;
    const bs_config_item *item;
    bs_slice name;
} cfg_match;

static bool match_seen(const cfg_match *m, size_t n, const param *p, const bs_config_item *it)
{
    for (size_t i = 0; i < n; i++)
        if ((p && m[i].p == p) || (it && m[i].item == it))
            return true;
    return false;
}

static void config_get_cmd(resp_req *req)
{
    resp_server *s = req->srv;
    size_t nitems;
    const bs_config_item *items = bs_config_items(&nitems);
    size_t cap = NPARAMS + nitems, n = 0;
    cfg_match *m = bs_calloc(cap, sizeof *m);
    for (size_t a = 2; a < req->argc; a++) {
        bs_slice pat = resp_req_arg(req, a);
        bool glob = pat.len && (memchr(pat.ptr, '*', pat.len) || memchr(pat.ptr, '?', pat.len) ||
                                memchr(pat.ptr, '[', pat.len));
        if (!glob) {
            /* An exact name is reported as the client spelled it, as Redis does. */
            const param *p = param_find(pat);
            const bs_config_item *it = p ? NULL : item_find(pat);
            if ((p || it) && !match_seen(m, n, p, it))
                m[n++] = (cfg_match){p, it, pat};
            continue;
        }
        for (size_t i = 0; i < NPARAMS; i++) {
            bs_slice nm = bs_slice_from_str(params[i].name);
            if (!match_seen(m, n, &params[i], NULL) && resp_glob_match(pat, nm, true))
                m[n++] = (cfg_match){&params[i], NULL, nm};
        }
        for (size_t i = 0; i < nitems; i++) {
            bs_slice nm = bs_slice_from_str(items[i].path);
            if (!match_seen(m, n, NULL, &items[i]) && resp_glob_match(pat, nm, true))
                m[n++] = (cfg_match){NULL, &items[i], nm};
        }
    }
    resp_reply_map(&req->o, n);
    bs_buf v = BS_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        resp_reply_bulk_slice(&req->o, m[i].name);
        bs_buf_reset(&v);
        if (m[i].p)
            param_value(s, m[i].p, &v);
        else
            (void)bs_config_get(&s->cfg, m[i].item->path, &v, NULL); /* path from the schema */
        resp_reply_bulk(&req->o, v.ptr, v.len);
    }
    bs_buf_free(&v);
    bs_free(m);
    resp_req_finish(req);
}

static void config_set_cmd(resp_req *req)
{
    resp_server *s = req->srv;
    if (req->argc % 2 != 0) {
        resp_reply_error_str(&req->o, RESP_ERR_SYNTAX);
        resp_req_finish(req);
        return;
    }
    size_t npairs = (req->argc - 2) / 2;
    pending_set *ps = bs_calloc(npairs, sizeof *ps);
    char why[160];
    for (size_t i = 0; i < npairs; i++) {
        bs_slice name = resp_req_arg(req, 2 + 2 * i);
        const param *p = param_find(name);
        bool immutable = !p && item_find(name);
        if (!p && !immutable) {
            resp_reply_errorf(&req->o,
                              "Unknown option or number of arguments for CONFIG SET - "
                              "'%.*s'",
                              (int)name.len, cs(name));
            goto done;
        }
        bool ok;
        if (immutable) {
            snprintf(why, sizeof why, "can't set immutable config");
            ok = false;
        } else {
            ok = param_check(s, p, resp_req_arg(req, 3 + 2 * i), &ps[i], why, sizeof why);
        }
        for (size_t j = 0; ok && j < i; j++)
            if (ps[j].p == ps[i].p) {
                snprintf(why, sizeof why, "duplicate parameter");
                ok = false;
            }
        if (!ok) {
            resp_reply_errorf(&req->o,
                              "CONFIG SET failed (possibly related to argument '%.*s') "
                              "- %s",
                              (int)name.len, cs(name), why);
            goto done;
        }
    }
    for (size_t i = 0; i < npairs; i++)
        param_apply(s, &ps[i]);
    resp_conns_apply_limits(s);
    resp_reply_ok(&req->o);
done:
    bs_free(ps);
    resp_req_finish(req);
}

static void config_resetstat_cmd(resp_req *req)
{
    resp_server_reset_stats(req->srv);
    resp_reply_ok(&req->o);
    resp_req_finish(req);
}

static void config_rewrite_cmd(resp_req *req)
{
    resp_reply_error_str(&req->o, "CONFIG REWRITE is not supported: Basalt's settings live in "
                                  "its TOML file");
    resp_req_finish(req);
}

static void config_help_cmd(resp_req *req)
{
    static const char *const lines[] = {
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        NULL,
    };
    resp_reply_help(&req->o, "CONFIG", lines);
    resp_req_finish(req);
}

/* ---- INFO --------------------------------------------------------------------------------- */

enum {
    SEC_SERVER,
    SEC_CLIENTS,
    SEC_MEMORY,
    SEC_PERSISTENCE,
    SEC_STATS,
    SEC_REPLICATION,
    SEC_CPU,
    SEC_MODULES,
    SEC_COMMANDSTATS,
    SEC_ERRORSTATS,
    SEC_LATENCYSTATS,
    SEC_CLUSTER,
    SEC_KEYSPACE,
    SEC_BASALT,
    SEC__COUNT
};

static const char *const sec_names[SEC__COUNT] = {
    "server",  "clients",      "memory",     "persistence",  "stats",   "replication", "cpu",
    "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace",    "basalt",
};

static const char *const sec_titles[SEC__COUNT] = {
    "Server",  "Clients",      "Memory",     "Persistence",  "Stats",   "Replication", "CPU",
    "Modules", "Commandstats", "Errorstats", "Latencystats", "Cluster", "Keyspace",    "Basalt",
};

static void addf(bs_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(bs_buf *out, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof tmp)
        n = (int)sizeof tmp - 1;
    bs_buf_append(out, tmp, (size_t)n);
}

/* Redis's bytesToHuman(). */
static void human(char *out, size_t cap, double n)
{
    static const char units[] = "KMGTP";
    if (n < 1024) {
        snprintf(out, cap, "%lluB", (unsigned long long)n);
        return;
    }
    int u = -1;
    while (n >= 1024 && u < 4) {
        n /= 1024;
        u++;
    }
    snprintf(out, cap, "%.2f%c", n, units[u]);
}

static void section_header(bs_buf *out, int sec, bool *first)
{
    if (!*first)
        bs_buf_append(out, "\r\n", 2);
    *first = false;
    addf(out, "# %s\r\n", sec_titles[sec]);
}

static void info_server(resp_server *s, bs_buf *out)
{
    struct utsname u;
    if (uname(&u) != 0)
        memset(&u, 0, sizeof u);
    char exe[512] = "";
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[el > 0 ? el : 0] = '\0';
    int64_t now = resp_now_ms();
    int64_t up = (now - s->start_ms) / 1000;
    const char *method = event_base_get_method(net_loop_base(s->loop));
    addf(out,
         "redis_version:%s\r\nbasalt_version:%s\r\nredis_git_sha1:00000000\r\n"
         "redis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\n"
         "os:%s %s %s\r\narch_bits:%d\r\nmonotonic_clock:POSIX clock_gettime\r\n"
         "multiplexing_api:%s\r\natomicvar_api:c11-builtin\r\ngcc_version:%d.%d.%d\r\n"
         "process_id:%ld\r\nprocess_supervised:no\r\nrun_id:%s\r\ntcp_port:%u\r\n"
         "server_time_usec:%lld\r\nuptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\n"
         "hz:10\r\nconfigured_hz:10\r\nlru_clock:%lld\r\nexecutable:%s\r\nconfig_file:\r\n"
         "io_threads_active:0\r\n",
         RESP_REDIS_VERSION, RESP_BASALT_VERSION, u.sysname, u.release, u.machine,
         (int)(sizeof(void *) * 8), method ? method : "?",
#ifdef __GNUC__
         __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
         0, 0, 0,
#endif
         (long)getpid(), s->run_id, (unsigned)s->port, (long long)now * 1000, (long long)up,
         (long long)(up / 86400), (long long)((now / 1000) & ((1 << 24) - 1)), exe);
}

static void info_clients(resp_server *s, bs_buf *out)
{
    size_t max_in = 0, max_out = 0;
    for (resp_conn *c = s->conns; c; c = c->next) {
        size_t in = resp_parser_pending(&c->parser), o = resp_conn_out_bytes(c);
        if (in > max_in)
            max_in = in;
        if (o > max_out)
            max_out = o;
    }
    addf(out,
         "connected_clients:%zu\r\ncluster_connections:0\r\nmaxclients:%lld\r\n"
         "client_recent_max_input_buffer:%zu\r\nclient_recent_max_output_buffer:%zu\r\n"
         "blocked_clients:0\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n",
         s->nconns, s->set.maxclients, max_in, max_out);
}

static void info_memory(resp_server *s, bs_buf *out)
{
    struct mallinfo2 mi = mallinfo2();
    size_t used = mi.uordblks + mi.hblkhd;
    long page = sysconf(_SC_PAGESIZE);
    size_t rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long size_pages = 0, rss_pages = 0;
        if (fscanf(f, "%lu %lu", &size_pages, &rss_pages) == 2)
            rss = rss_pages * (size_t)page;
        fclose(f);
    }
    if (used > s->mem_peak)
        s->mem_peak = used;
    long phys = sysconf(_SC_PHYS_PAGES);
    size_t total = phys > 0 ? (size_t)phys * (size_t)page : 0;
    char h_used[32], h_rss[32], h_peak[32], h_total[32];
    human(h_used, sizeof h_used, (double)used);
    human(h_rss, sizeof h_rss, (double)rss);
    human(h_peak, sizeof h_peak, (double)s->mem_peak);
    human(h_total, sizeof h_total, (double)total);
    addf(out,
         "used_memory:%zu\r\nused_memory_human:%s\r\nused_memory_rss:%zu\r\n"
         "used_memory_rss_human:%s\r\nused_memory_peak:%zu\r\nused_memory_peak_human:%s\r\n"
         "total_system_memory:%zu\r\ntotal_system_memory_human:%s\r\n"
         "maxmemory:0\r\nmaxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\n"
         "mem_fragmentation_ratio:%.2f\r\nmem_allocator:libc\r\n",
         used, h_used, rss, h_rss, s->mem_peak, h_peak, total, h_total,
         used ? (double)rss / (double)used : 0.0);
}

static void info_persistence(resp_server *s, bs_buf *out)
{
    addf(out,
         "loading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:0\r\n"
         "rdb_bgsave_in_progress:0\r\nrdb_last_save_time:%lld\r\nrdb_last_bgsave_status:ok\r\n"
         "rdb_last_bgsave_time_sec:-1\r\nrdb_current_bgsave_time_sec:-1\r\nrdb_saves:0\r\n"
         "aof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n"
         "aof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\n"
         "aof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_last_write_status:ok\r\n",
         (long long)(s->start_ms / 1000));
}

static void info_stats(resp_server *s, bs_buf *out)
{
    uint64_t ops = 0;
    for (int i = 0; i < 16; i++)
        ops += s->ops_samples[i];
    addf(out,
         "total_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
         "instantaneous_ops_per_sec:%llu\r\ntotal_net_input_bytes:%llu\r\n"
         "total_net_output_bytes:%llu\r\nrejected_connections:%llu\r\nexpired_keys:0\r\n"
         "evicted_keys:0\r\nevicted_clients:0\r\nkeyspace_hits:0\r\nkeyspace_misses:0\r\n"
         "pubsub_channels:0\r\npubsub_patterns:0\r\nunexpected_error_replies:0\r\n"
         "total_error_replies:%llu\r\nclient_query_buffer_limit_disconnections:%llu\r\n"
         "client_output_buffer_limit_disconnections:%llu\r\n",
         (unsigned long long)s->stat_conns, (unsigned long long)s->stat_commands,
         (unsigned long long)(ops / 16), (unsigned long long)s->stat_net_in,
         (unsigned long long)s->stat_net_out, (unsigned long long)s->stat_rejected_conns,
         (unsigned long long)s->stat_errors, (unsigned long long)s->stat_qbuf_disconnects,
         (unsigned long long)s->stat_obuf_disconnects);
}

static void info_replication(resp_server *s, bs_buf *out)
{
    addf(out,
         "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n"
         "master_replid:%s\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n"
         "master_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n"
         "repl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\n"
         "repl_backlog_histlen:0\r\n",
         s->run_id);
}

static double tv_sec(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void info_cpu(bs_buf *out)
{
    struct rusage self, children, thread;
    memset(&self, 0, sizeof self);
    memset(&children, 0, sizeof children);
    memset(&thread, 0, sizeof thread);
    (void)getrusage(RUSAGE_SELF, &self);
    (void)getrusage(RUSAGE_CHILDREN, &children);
    (void)getrusage(RUSAGE_THREAD, &thread); /* the loop thread: INFO runs on it */
    addf(out,
         "used_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\nused_cpu_sys_children:%.6f\r\n"
         "used_cpu_user_children:%.6f\r\nused_cpu_sys_main_thread:%.6f\r\n"
         "used_cpu_user_main_thread:%.6f\r\n",
         tv_sec(self.ru_stime), tv_sec(self.ru_utime), tv_sec(children.ru_stime),
         tv_sec(children.ru_utime), tv_sec(thread.ru_stime), tv_sec(thread.ru_utime));
}

static void info_commandstats(resp_server *s, bs_buf *out)
{
    size_t n = resp_commands_count();
    for (size_t i = 0; i < n; i++) {
        const resp_cmd_stats *st = &s->cmd_stats[i];
        if (!st->calls && !st->rejected && !st->failed)
            continue;
        addf(out,
             "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
             "failed_calls=%llu\r\n",
             resp_commands_at(i)->fullname, (unsigned long long)st->calls,
             (unsigned long long)st->usec, st->calls ? (double)st->usec / (double)st->calls : 0.0,
             (unsigned long long)st->rejected, (unsigned long long)st->failed);
    }
}

static void info_errorstats(resp_server *s, bs_buf *out)
{
    for (size_t i = 0; i < s->nerrstats; i++)
        addf(out, "errorstat_%s:count=%llu\r\n", s->errstats[i].code,
             (unsigned long long)s->errstats[i].count);
}

static void info_basalt(resp_server *s, bs_buf *out)
{
    addf(out, "basalt_version:%s\r\n", RESP_BASALT_VERSION);
    if (s->client) {
        client_store_info si;
        memset(&si, 0, sizeof si);
        client_store_info_get(s->client, &si);
        addf(out,
             "store_id:%llu\r\ncluster_id:%llu\r\nregions:%zu\r\nleaders:%zu\r\n"
             "raft_rounds:%llu\r\nraft_fsyncs:%llu\r\nraft_proposals:%llu\r\n"
             "raft_proposals_acked:%llu\r\nraft_proposals_failed:%llu\r\n"
             "raft_entries_applied:%llu\r\nraft_log_gc_compactions:%llu\r\n"
             "raft_messages_sent:%llu\r\nraft_messages_received:%llu\r\n"
             "client_requests:%llu\r\nclient_retries:%llu\r\nclient_region_errors:%llu\r\n",
             (unsigned long long)si.store_id, (unsigned long long)si.cluster_id, si.regions,
             si.leaders, (unsigned long long)si.stats.rounds, (unsigned long long)si.stats.fsyncs,
             (unsigned long long)si.stats.proposals, (unsigned long long)si.stats.proposals_acked,
             (unsigned long long)si.stats.proposals_failed,
             (unsigned long long)si.stats.entries_applied,
             (unsigned long long)si.stats.log_gc_compactions,
             (unsigned long long)si.stats.messages_sent,
             (unsigned long long)si.stats.messages_received, (unsigned long long)si.requests,
             (unsigned long long)si.retries, (unsigned long long)si.region_errors);
        /* MULTI/EXEC's Percolator transactions (client_txns_of). */
        client_txns_stats ts;
        client_txns *t = client_txns_of(s->client);
        memset(&ts, 0, sizeof ts);
        if (t)
            client_txns_stats_get(t, &ts);
        addf(out,
             "txn_begun:%llu\r\ntxn_committed:%llu\r\ntxn_one_pc:%llu\r\n"
             "txn_conflicts:%llu\r\ntxn_watch_failures:%llu\r\ntxn_failures:%llu\r\n"
             "txn_locks_resolved:%llu\r\ntxn_tso_requests:%llu\r\ntxn_tso_batches:%llu\r\n"
             "txn_running:%zu\r\n",
             (unsigned long long)ts.begun, (unsigned long long)ts.committed,
             (unsigned long long)ts.one_pc, (unsigned long long)ts.conflicts,
             (unsigned long long)ts.watch_failures, (unsigned long long)ts.failures,
             (unsigned long long)ts.locks_resolved, (unsigned long long)ts.tso_requests,
             (unsigned long long)ts.tso_batches, ts.running);
    }
    struct statvfs vfs;
    addf(out, "data_dir:%s\r\n", s->cfg.storage.data_dir);
    if (statvfs(s->cfg.storage.data_dir, &vfs) == 0)
        addf(out, "storage_capacity:%llu\r\nstorage_available:%llu\r\n",
             (unsigned long long)vfs.f_blocks * vfs.f_frsize,
             (unsigned long long)vfs.f_bavail * vfs.f_frsize);
}

/* ---- INFO keyspace ---------------------------------------------------------------------
 *
 * A database's key count is client_count, which reads every live key of the keyspace:
 * O(keys). Monitoring tools call INFO every few seconds, so INFO does not count on every
 * call. It keeps the last completed count of every database (one "count" = client_count
 * of databases 0..min(databases, INFO_MAX_DBS)-1, issued together) and, with N =
 * info-keyspace-interval seconds ([redis] in the config file, CONFIG SET; default 5):
 *   - a new count starts when an INFO finds the last one begun more than N seconds ago and
 *     none is running, so there is at most one count per N seconds, and none at all while
 *     nobody asks;
 *   - INFO answers at once from the last completed count when it began at most 2N seconds
 *     ago (so a poller every P < 2N seconds never waits), and otherwise (the first INFO,
 *     or after a quiet spell) waits for the running count;
 *   - N = 0: every INFO starts its own count and waits for it, exact as of the INFO.
 * So what INFO keyspace reports is each database's live keys as counted by a count begun
 * at most 2N seconds before the INFO (later if a count takes longer than that). DBSIZE
 * always counts. Counts started later replace earlier ones, whichever completes first. */
typedef struct ks_count ks_count;

struct resp_keyspace_cache {
    pthread_mutex_t mu;
    int refs;             /* guarded by mu: the server's settings + each count in flight */
    bool have;            /* a count completed */
    uint64_t seq;         /* the held count's number (later counts replace earlier ones) */
    int64_t started_ms;   /* monotonic ms when the held count began */
    size_t ndb;
    uint64_t counts[INFO_MAX_DBS]; /* UINT64_MAX: that database's count failed */
    uint64_t next_seq;
    ks_count *shared;     /* the count INFOs share, while it runs */
};

/* The state of one INFO waiting for its keyspace section. */
typedef struct info_ctx {
    resp_req *req;
    bs_buf text;  /* sections before keyspace */
    bs_buf after; /* sections after keyspace */
    bool keyspace_first;
    struct info_ctx *next; /* waiters of one count */
} info_ctx;

/* One count of every database, in flight. */
struct ks_count {
    struct resp_keyspace_cache *cache;
    uint64_t seq;
    int64_t started_ms;
    size_t ndb;
    uint64_t counts[INFO_MAX_DBS];
    int pending;       /* atomic: databases not counted yet, + 1 while issuing */
    info_ctx *waiters; /* guarded by cache->mu */
};

typedef struct ks_db {
    ks_count *k;
    size_t db;
} ks_db;

static void keyspace_cache_init(resp_settings *set)
{
    struct resp_keyspace_cache *c = bs_calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->refs = 1;
    c->next_seq = 1;
    set->keyspace_cache = c;
}

/* Drops one reference (mu held); frees the cache with the last one. */
static void keyspace_cache_unref_locked(struct resp_keyspace_cache *c)
{
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last) {
        pthread_mutex_destroy(&c->mu);
        bs_free(c);
    }
}

/* The settings' reference: counts in flight keep the cache until they complete. */
static void keyspace_cache_release(resp_settings *set)
{
    if (!set->keyspace_cache)
        return;
    pthread_mutex_lock(&set->keyspace_cache->mu);
    keyspace_cache_unref_locked(set->keyspace_cache);
    set->keyspace_cache = NULL;
}

/* Answers one INFO with its keyspace section from counts[0..ndb), and frees x. */
static void info_finish(info_ctx *x, const uint64_t *counts, size_t ndb)
{
    bs_buf *t = &x->text;
    if (!x->keyspace_first)
        bs_buf_append(t, "\r\n", 2);
    bs_buf_append(t, "# Keyspace\r\n", 12);
    for (size_t i = 0; i < ndb; i++)
        if (counts[i] != UINT64_MAX && counts[i] > 0)
            addf(t, "db%zu:keys=%llu,expires=0,avg_ttl=0\r\n", i, (unsigned long long)counts[i]);
    bs_buf_append(t, x->after.ptr, x->after.len);
    resp_reply_verbatim(&x->req->o, "txt", t->ptr, t->len);
    resp_req_finish(x->req);
    bs_buf_free(&x->text);
    bs_buf_free(&x->after);
    bs_free(x);
}

/* A new count (mu held): takes a reference on the cache. */
static ks_count *ks_count_new(struct resp_keyspace_cache *c, size_t ndb, int64_t now)
{
    ks_count *k = bs_calloc(1, sizeof *k);
    k->cache = c;
    k->seq = c->next_seq++;
    k->started_ms = now;
    k->ndb = ndb;
    k->pending = (int)ndb + 1;
    c->refs++;
    return k;
}

static void ks_count_done(ks_count *k)
{
    struct resp_keyspace_cache *c = k->cache;
    pthread_mutex_lock(&c->mu);
    if (!c->have || k->seq > c->seq) {
        c->have = true;
        c->seq = k->seq;
        c->started_ms = k->started_ms;
        c->ndb = k->ndb;
        memcpy(c->counts, k->counts, k->ndb * sizeof k->counts[0]);
    }
    if (c->shared == k)
        c->shared = NULL;
    info_ctx *w = k->waiters;
    k->waiters = NULL;
    keyspace_cache_unref_locked(c); /* unlocks */
    while (w) {
        info_ctx *next = w->next;
        info_finish(w, k->counts, k->ndb);
        w = next;
    }
    bs_free(k);
}

static void ks_count_db_done(void *arg, client_result *res)
{
    ks_db *d = arg;
    ks_count *k = d->k;
    k->counts[d->db] = res->code == BS_OK ? res->count : UINT64_MAX;
    bs_free(d);
    if (__atomic_sub_fetch(&k->pending, 1, __ATOMIC_ACQ_REL) == 0)
        ks_count_done(k);
}

/* Issues k's counts; k may be done and freed before this returns. */
static void ks_count_run(ks_count *k, client *cl)
{
    size_t ndb = k->ndb;
    for (size_t i = 0; i < ndb; i++) {
        ks_db *d = bs_malloc(sizeof *d);
        d->k = k;
        d->db = i;
        client_count(cl, (uint32_t)i, ks_count_db_done, d);
    }
    if (__atomic_sub_fetch(&k->pending, 1, __ATOMIC_ACQ_REL) == 0)
        ks_count_done(k);
}

/* The keyspace section of INFO x (see above): answered now, or when a count completes. */
static void info_keyspace(resp_server *s, info_ctx *x)
{
    struct resp_keyspace_cache *c = s->set.keyspace_cache;
    size_t ndb = x->req->client
                     ? (size_t)(s->set.databases < INFO_MAX_DBS ? s->set.databases : INFO_MAX_DBS)
                     : 0;
    int64_t n_ms = s->set.info_keyspace_interval * 1000;
    int64_t now = bs_clock_mono_ms();
    ks_count *start = NULL;
    bool answer_now = false;
    uint64_t snap[INFO_MAX_DBS];
    size_t snap_n = 0;
    pthread_mutex_lock(&c->mu);
    if (n_ms == 0) {
        start = ks_count_new(c, ndb, now);
        start->waiters = x;
    } else {
        int64_t age = c->have ? now - c->started_ms : INT64_MAX;
        if (age > n_ms && !c->shared) {
            start = ks_count_new(c, ndb, now);
            c->shared = start;
        }
        if (age <= 2 * n_ms) {
            answer_now = true;
            snap_n = c->ndb;
            memcpy(snap, c->counts, snap_n * sizeof snap[0]);
        } else {
            x->next = c->shared->waiters;
            c->shared->waiters = x;
        }
    }
    pthread_mutex_unlock(&c->mu);
    /* x belongs to the count now unless answered here */
    if (answer_now)
        info_finish(x, snap, snap_n);
    if (start)
        ks_count_run(start, s->client);
}

static void info_cmd(resp_req *req)
{
    resp_server *s = req->srv;
    bool want[SEC__COUNT] = {false};
    static const int defaults[] = {SEC_SERVER,     SEC_CLIENTS,     SEC_MEMORY,   SEC_PERSISTENCE,
                                   SEC_STATS,      SEC_REPLICATION, SEC_CPU,      SEC_MODULES,
                                   SEC_ERRORSTATS, SEC_CLUSTER,     SEC_KEYSPACE, SEC_BASALT};
    if (req->argc == 1) {
        for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
            want[defaults[i]] = true;
    }
    for (size_t a = 1; a < req->argc; a++) {
        bs_slice name = resp_req_arg(req, a);
        if (resp_arg_is(name, "default")) {
            for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
                want[defaults[i]] = true;
        } else if (resp_arg_is(name, "all") || resp_arg_is(name, "everything")) {
            for (int i = 0; i < SEC__COUNT; i++)
                want[i] = true;
        } else {
            for (int i = 0; i < SEC__COUNT; i++)
                if (resp_arg_is(name, sec_names[i]))
                    want[i] = true;
        }
    }
    info_ctx *x = bs_calloc(1, sizeof *x);
    x->req = req;
    bool first = true;
    for (int sec = 0; sec < SEC__COUNT; sec++) {
        if (!want[sec])
            continue;
        if (sec == SEC_KEYSPACE) {
            x->keyspace_first = first;
            first = false;
            continue;
        }
        bs_buf *out = want[SEC_KEYSPACE] && sec > SEC_KEYSPACE ? &x->after : &x->text;
        section_header(out, sec, &first);
        switch (sec) {
        case SEC_SERVER:
            info_server(s, out);
            break;
        case SEC_CLIENTS:
            info_clients(s, out);
            break;
        case SEC_MEMORY:
            info_memory(s, out);
            break;
        case SEC_PERSISTENCE:
            info_persistence(s, out);
            break;
        case SEC_STATS:
            info_stats(s, out);
            break;
        case SEC_REPLICATION:
            info_replication(s, out);
            break;
        case SEC_CPU:
            info_cpu(out);
            break;
        case SEC_COMMANDSTATS:
            info_commandstats(s, out);
            break;
        case SEC_ERRORSTATS:
            info_errorstats(s, out);
            break;
        case SEC_CLUSTER:
            bs_buf_append(out, "cluster_enabled:0\r\n", 19);
            break;
        case SEC_BASALT:
            info_basalt(s, out);
            break;
        default:
            break; /* modules, latencystats: empty */
        }
    }
    if (!want[SEC_KEYSPACE]) {
        resp_reply_verbatim(&req->o, "txt", x->text.ptr, x->text.len);
        bs_buf_free(&x->text);
        bs_buf_free(&x->after);
        bs_free(x);
        resp_req_finish(req);
        return;
    }
    info_keyspace(s, x);
}

/* ---- TIME, SHUTDOWN, DEBUG ------------------------------------------------------------------ */

static void time_cmd(resp_req *req)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    resp_reply_array(&req->o, 2);
    resp_reply_bulk_int(&req->o, (long long)ts.tv_sec);
    resp_reply_bulk_int(&req->o, (long long)(ts.tv_nsec / 1000));
    resp_req_finish(req);
}

static void shutdown_cmd(resp_req *req)
{
    bool abort_ = false, nosave = false, save = false, other = false;
    for (size_t i = 1; i < req->argc; i++) {
        bs_slice a = resp_req_arg(req, i);
        if (resp_arg_is(a, "nosave"))
            nosave = true;
        else if (resp_arg_is(a, "save"))
            save = true;
        else if (resp_arg_is(a, "now") || resp_arg_is(a, "force"))
            other = true;
        else if (resp_arg_is(a, "abort"))
            abort_ = true;
        else {
            resp_reply_error_str(&req->o, RESP_ERR_SYNTAX);
            resp_req_finish(req);
            return;
        }
    }
    if ((abort_ && (nosave || save || other)) || (nosave && save)) {
        resp_reply_error_str(&req->o, RESP_ERR_SYNTAX);
        resp_req_finish(req);
        return;
    }
    if (abort_) {
        /* Basalt's shutdown is not a process that can be interrupted. */
        resp_reply_error_str(&req->o, "No shutdown in progress.");
        resp_req_finish(req);
        return;
    }
    /* As when Redis exits, the client gets no reply, only a closed connection; the server
     * binary polls resp_server_shutdown_requested() and stops everything. */
    BS_LOG_INFO("SHUTDOWN requested by a client", "addr=%s", req->conn->addr);
    __atomic_store_n(&req->srv->shutdown_requested, 1, __ATOMIC_RELEASE);
    conn_req_of(req)->noreply = true;
    conn_req_of(req)->close_after = true;
    req->conn->closing = true;
    resp_req_finish(req);
}

/* DEBUG SLEEP: the reply comes after the delay, from a timer, so the connection's later
 * requests wait behind it (the rest of the server does not, unlike Redis where the whole
 * server sleeps). Tests use it to finish requests out of order. */
struct resp_sleep {
    resp_req *req;   /* DEBUG SLEEP's request, or NULL for a resp_after wait */
    void (*fn)(void *arg, bool fired);
    void *arg;
    net_timer *timer;
    resp_server *srv;
    struct resp_sleep *next;
};

static void sleep_unlink(resp_server *s, struct resp_sleep *z)
{
    for (struct resp_sleep **pp = &s->sleeps; *pp; pp = &(*pp)->next)
        if (*pp == z) {
            *pp = z->next;
            return;
        }
}

/* Ends a wait: DEBUG SLEEP replies; a resp_after wait calls back (fired: the time passed,
 * rather than the server stopping). z is unlinked already. */
static void sleep_end(struct resp_sleep *z, bool fired)
{
    net_timer_free(z->timer);
    if (z->req) {
        resp_reply_ok(&z->req->o);
        resp_req_finish(z->req); /* when cancelled its conn is closed: the request is freed */
    } else {
        z->fn(z->arg, fired);
    }
    bs_free(z);
}

static void sleep_done(void *arg)
{
    struct resp_sleep *z = arg;
    sleep_unlink(z->srv, z);
    sleep_end(z, true);
}

void resp_sleeps_cancel(resp_server *s)
{
    while (s->sleeps) {
        struct resp_sleep *z = s->sleeps;
        s->sleeps = z->next;
        sleep_end(z, false);
    }
}

static struct resp_sleep *sleep_start(resp_server *s, int64_t ms)
{
    struct resp_sleep *z = bs_calloc(1, sizeof *z);
    z->srv = s;
    z->timer = net_timer_new(s->loop, sleep_done, z);
    z->next = s->sleeps;
    s->sleeps = z;
    net_timer_arm(z->timer, ms);
    return z;
}

void resp_after(resp_server *s, int64_t ms, void (*fn)(void *arg, bool fired), void *arg)
{
    struct resp_sleep *z = sleep_start(s, ms);
    z->fn = fn;
    z->arg = arg;
}

static void debug_cmd(resp_req *req)
{
    bs_slice sub = resp_req_arg(req, 1);
    if (resp_arg_is(sub, "help") && req->argc == 2) {
        static const char *const lines[] = {
            "SLEEP <seconds>",
            "    Delay the reply to this connection for <seconds> (a decimal number).",
            NULL,
        };
        resp_reply_help(&req->o, "DEBUG", lines);
        resp_req_finish(req);
        return;
    }
    if (!resp_arg_is(sub, "sleep") || req->argc != 3) {
        resp_reply_subcommand_error(req);
        resp_req_finish(req);
        return;
    }
    /* Redis parses with strtod and ignores what it cannot read (0 then). */
    char num[64];
    bs_slice v = resp_req_arg(req, 2);
    size_t n = v.len < sizeof num - 1 ? v.len : sizeof num - 1;
    if (n)
        memcpy(num, v.ptr, n);
    num[n] = '\0';
    double secs = strtod(num, NULL);
    if (!(secs > 0) || !isfinite(secs)) {
        resp_reply_ok(&req->o);
        resp_req_finish(req);
        return;
    }
    if (secs > 86400.0)
        secs = 86400.0;
    sleep_start(req->srv, (int64_t)(secs * 1000.0))->req = req;
}

/* ---- the table -------------------------------------------------------------------------- */

#define ADMIN_F (RESP_CMD_ADMIN | RESP_CMD_NOSCRIPT | RESP_CMD_LOADING | RESP_CMD_STALE)

static const resp_command config_subs[] = {
    {"get", -3, ADMIN_F, 0, 0, 0, "server",
     "Returns the effective values of configuration "
     "parameters.",
     "2.0.0", config_get_cmd, NULL},
    {"help", 2, RESP_CMD_LOADING | RESP_CMD_STALE, 0, 0, 0, "server",
     "Returns helpful text "
     "about the different subcommands.",
     "5.0.0", config_help_cmd, NULL},
    {"resetstat", 2, ADMIN_F, 0, 0, 0, "server", "Resets the server's statistics.", "2.0.0",
     config_resetstat_cmd, NULL},
    {"rewrite", 2, ADMIN_F, 0, 0, 0, "server", "Persists the effective configuration to file.",
     "2.8.0", config_rewrite_cmd, NULL},
    {"set", -4, ADMIN_F, 0, 0, 0, "server", "Sets configuration parameters in-flight.", "2.0.0",
     config_set_cmd, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

const resp_command resp_cmds_server[] = {
    {"config", -2, 0, 0, 0, 0, "server", "A container for server configuration commands.", "2.0.0",
     NULL, config_subs},
    {"debug", -2, ADMIN_F, 0, 0, 0, "server", "A container for debugging commands.", "1.0.0",
     debug_cmd, NULL},
    {"info", -1, RESP_CMD_LOADING | RESP_CMD_STALE, 0, 0, 0, "server",
     "Returns information and statistics about the server.", "1.0.0", info_cmd, NULL},
    {"shutdown", -1, ADMIN_F | RESP_CMD_NO_MULTI, 0, 0, 0, "server",
     "Synchronously saves the database(s) to disk and shuts down the Redis server.", "1.0.0",
     shutdown_cmd, NULL},
    {"time", 1, RESP_CMD_LOADING | RESP_CMD_STALE | RESP_CMD_FAST, 0, 0, 0, "server",
     "Returns the server time.", "2.6.0", time_cmd, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
