/* cmd_docs.c -- the "arguments" of COMMAND DOCS, from one syntax line per command.
 *
 * redis-cli (7.0 and later) builds its interactive hints ("set k" -> "value [NX|XX] ...")
 * and HELP text from COMMAND DOCS: each argument is a map with a name, a type (key,
 * string, pure-token, oneof, block...), an optional token and flags (optional, multiple).
 * It asserts on the shape of that reply, so the structure must be Redis's exactly.
 * Writing those trees by hand for every command would be long and error-prone, so each
 * command has one line in a small grammar close to Redis's documentation:
 *
 *   key value            arguments (lower case; a name starting with "key" is type key)
 *   NX                   a pure token
 *   EX:seconds           a token followed by an argument ("EX seconds")
 *   TYPE:(A|B)           a token followed by a choice
 *   [ ... ]              optional;  ( ... ) a group;  a|b  a choice;  x...  repeatable
 *
 * A group of one element is that element; of several, a "block"; with '|', a "oneof".
 * Lines are written so that redis-cli renders them as Redis's own hints do. Commands without
 * a line get no "arguments" (redis-cli then shows no hint for them). */
#include <stdio.h>
#include <string.h>

#include "common/assert.h"
#include "resp/conn_int.h"

static const struct {
    const char *name;
    const char *syntax;
} docs[] = {
    /* strings */
    {"append", "key value"},
    {"decr", "key"},
    {"decrby", "key decrement"},
    {"get", "key"},
    {"getdel", "key"},
    {"getex", "key [EX:seconds|PX:milliseconds|EXAT:unix-time-seconds|"
              "PXAT:unix-time-milliseconds|PERSIST]"},
    {"getrange", "key start end"},
    {"getset", "key value"},
    {"incr", "key"},
    {"incrby", "key increment"},
    {"incrbyfloat", "key increment"},
    {"lcs", "key1 key2 [LEN] [IDX] [MINMATCHLEN:len] [WITHMATCHLEN]"},
    {"mget", "key..."},
    {"mset", "(key value)..."},
    {"msetnx", "(key value)..."},
    {"psetex", "key milliseconds value"},
    {"set", "key value [NX|XX] [GET] [EX:seconds|PX:milliseconds|EXAT:unix-time-seconds|"
            "PXAT:unix-time-milliseconds|KEEPTTL]"},
    {"setex", "key seconds value"},
    {"setnx", "key value"},
    {"setrange", "key offset value"},
    {"strlen", "key"},
    {"substr", "key start end"},
    /* keys */
    {"copy", "source destination [DB:destination-db] [REPLACE]"},
    {"dbsize", ""},
    {"del", "key..."},
    {"exists", "key..."},
    {"expire", "key seconds [NX|XX|GT|LT]"},
    {"expireat", "key unix-time-seconds [NX|XX|GT|LT]"},
    {"expiretime", "key"},
    {"flushall", "[ASYNC|SYNC]"},
    {"flushdb", "[ASYNC|SYNC]"},
    {"keys", "pattern"},
    {"memory|help", ""},
    {"memory|usage", "key [SAMPLES:count]"},
    {"persist", "key"},
    {"pexpire", "key milliseconds [NX|XX|GT|LT]"},
    {"pexpireat", "key unix-time-milliseconds [NX|XX|GT|LT]"},
    {"pexpiretime", "key"},
    {"pttl", "key"},
    {"randomkey", ""},
    {"rename", "key newkey"},
    {"renamenx", "key newkey"},
    {"scan", "cursor [MATCH:pattern] [COUNT:count] [TYPE:type]"},
    {"touch", "key..."},
    {"ttl", "key"},
    {"type", "key"},
    {"unlink", "key..."},
    /* transactions */
    {"discard", ""},
    {"exec", ""},
    {"multi", ""},
    {"unwatch", ""},
    {"watch", "key..."},
    /* connection */
    {"auth", "[username] password"},
    {"client|getname", ""},
    {"client|help", ""},
    {"client|id", ""},
    {"client|info", ""},
    {"client|kill", "(ip:port|([ID:client-id]|[TYPE:(NORMAL|MASTER|SLAVE|REPLICA|PUBSUB)]|"
                    "[USER:username]|[ADDR:ip:port]|[LADDR:ip:port]|[SKIPME:yes/no])...)"},
    {"client|list", "[TYPE:(NORMAL|MASTER|REPLICA|PUBSUB)] [ID:client-id...]"},
    {"client|no-evict", "(ON|OFF)"},
    {"client|no-touch", "(ON|OFF)"},
    {"client|reply", "(ON|OFF|SKIP)"},
    {"client|setinfo", "(LIB-NAME:libname|LIB-VER:libver)"},
    {"client|setname", "connection-name"},
    {"echo", "message"},
    {"hello", "[protover [AUTH:(username password)] [SETNAME:clientname]]"},
    {"ping", "[message]"},
    {"quit", ""},
    {"reset", ""},
    {"select", "index"},
    /* server */
    {"command", ""},
    {"command|count", ""},
    {"command|docs", "[command-name...]"},
    {"command|getkeys", "command [arg...]"},
    {"command|help", ""},
    {"command|info", "[command-name...]"},
    {"command|list", "[FILTERBY:(MODULE:module-name|ACLCAT:category|PATTERN:pattern)]"},
    {"config|get", "parameter..."},
    {"config|help", ""},
    {"config|resetstat", ""},
    {"config|rewrite", ""},
    {"config|set", "(parameter value)..."},
    {"debug", ""},
    {"info", "[section...]"},
    {"shutdown", "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"},
    {"time", ""},
};

/* ---- the grammar --------------------------------------------------------------------- */

enum { A_KEY, A_STRING, A_TOKEN, A_ONEOF, A_BLOCK };

typedef struct arg_node {
    int type;
    char name[48];
    char token[32];
    bool optional, multiple;
    struct arg_node *kids; /* A_ONEOF, A_BLOCK */
    size_t nkids;
} arg_node;

typedef struct parser {
    const char *s;
    size_t pos;
    bool bad;
} parser;

static void node_free(arg_node *n)
{
    for (size_t i = 0; i < n->nkids; i++)
        node_free(&n->kids[i]);
    bs_free(n->kids);
    n->kids = NULL;
    n->nkids = 0;
}

static void push(arg_node **v, size_t *n, const arg_node *x)
{
    *v = bs_realloc(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = *x;
}

static void skip_spaces(parser *p)
{
    while (p->s[p->pos] == ' ')
        p->pos++;
}

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == ':' || c == '/';
}

static void parse_alts(parser *p, arg_node *out, char close);

static void set_name(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* atom ['...'] */
static bool parse_elem(parser *p, arg_node *out)
{
    memset(out, 0, sizeof *out);
    skip_spaces(p);
    char c = p->s[p->pos];
    if (c == '[' || c == '(') {
        p->pos++;
        parse_alts(p, out, c == '[' ? ']' : ')');
        if (c == '[')
            out->optional = true;
    } else if (word_char(c)) {
        size_t st = p->pos;
        /* A token ends at its first ':' ("EX:seconds", "ADDR:ip:port"). */
        bool upper = c >= 'A' && c <= 'Z';
        while (word_char(p->s[p->pos]) && !(upper && p->s[p->pos] == ':'))
            p->pos++;
        size_t len = p->pos - st;
        if (upper && p->s[p->pos] == ':') {
            char tok[32];
            set_name(tok, sizeof tok, p->s + st, len);
            p->pos++;
            if (!parse_elem(p, out))
                return false;
            snprintf(out->token, sizeof out->token, "%s", tok);
            return true; /* "..." was taken by the inner element */
        }
        if (upper) {
            out->type = A_TOKEN;
            set_name(out->token, sizeof out->token, p->s + st, len);
            set_name(out->name, sizeof out->name, p->s + st, len);
            for (char *q = out->name; *q; q++)
                if (*q >= 'A' && *q <= 'Z')
                    *q = (char)(*q + 32);
        } else {
            set_name(out->name, sizeof out->name, p->s + st, len);
            out->type = strncmp(out->name, "key", 3) == 0 ? A_KEY : A_STRING;
        }
    } else {
        return false;
    }
    if (strncmp(p->s + p->pos, "...", 3) == 0) {
        p->pos += 3;
        out->multiple = true;
    }
    return true;
}

/* seq ('|' seq)*, up to close; fills *out as the group it forms. */
static void parse_alts(parser *p, arg_node *out, char close)
{
    arg_node *alts = NULL;
    size_t nalts = 0;
    for (;;) {
        arg_node *seq = NULL;
        size_t n = 0;
        for (;;) {
            skip_spaces(p);
            char c = p->s[p->pos];
            if (c == '|' || c == close || c == '\0')
                break;
            arg_node e;
            if (!parse_elem(p, &e)) {
                p->bad = true;
                break;
            }
            push(&seq, &n, &e);
        }
        arg_node alt;
        memset(&alt, 0, sizeof alt);
        if (n == 1) {
            alt = seq[0];
            bs_free(seq);
        } else {
            alt.type = A_BLOCK;
            snprintf(alt.name, sizeof alt.name, "%s", n ? seq[0].name : "block");
            alt.kids = seq;
            alt.nkids = n;
        }
        push(&alts, &nalts, &alt);
        if (p->bad || p->s[p->pos] != '|')
            break;
        p->pos++;
    }
    if (close == '\0') {
        if (p->s[p->pos] != '\0')
            p->bad = true; /* a stray ')' or ']' */
    } else if (p->s[p->pos] == close) {
        p->pos++;
    } else {
        p->bad = true;
    }
    if (nalts == 1) {
        *out = alts[0];
        bs_free(alts);
    } else {
        memset(out, 0, sizeof *out);
        out->type = A_ONEOF;
        snprintf(out->name, sizeof out->name, "%s", alts[0].name);
        out->kids = alts;
        out->nkids = nalts;
    }
    if (strncmp(p->s + p->pos, "...", 3) == 0) {
        p->pos += 3;
        out->multiple = true;
    }
}

static const char *type_name(int t)
{
    switch (t) {
    case A_KEY:
        return "key";
    case A_STRING:
        return "string";
    case A_TOKEN:
        return "pure-token";
    case A_ONEOF:
        return "oneof";
    default:
        return "block";
    }
}

static void reply_arg(resp_out *o, const arg_node *n)
{
    bool has_flags = n->optional || n->multiple;
    size_t fields = 2 + (n->token[0] ? 1 : 0) + (has_flags ? 1 : 0) + (n->nkids ? 1 : 0);
    resp_reply_map(o, fields);
    resp_reply_bulk_str(o, "name");
    resp_reply_bulk_str(o, n->name);
    resp_reply_bulk_str(o, "type");
    resp_reply_bulk_str(o, type_name(n->type));
    if (n->token[0]) {
        resp_reply_bulk_str(o, "token");
        resp_reply_bulk_str(o, n->token);
    }
    if (has_flags) {
        resp_reply_bulk_str(o, "flags");
        resp_reply_array(o, (n->optional ? 1 : 0) + (n->multiple ? 1 : 0));
        if (n->optional)
            resp_reply_simple_str(o, "optional");
        if (n->multiple)
            resp_reply_simple_str(o, "multiple");
    }
    if (n->nkids) {
        resp_reply_bulk_str(o, "arguments");
        resp_reply_array(o, n->nkids);
        for (size_t i = 0; i < n->nkids; i++)
            reply_arg(o, &n->kids[i]);
    }
}

static const char *syntax_of(const char *fullname)
{
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        if (!strcmp(docs[i].name, fullname))
            return docs[i].syntax;
    return NULL;
}

bool resp_docs_has_args(const char *fullname)
{
    const char *s = syntax_of(fullname);
    return s && s[0];
}

void resp_docs_reply_args(resp_out *o, const char *fullname)
{
    const char *s = syntax_of(fullname);
    BS_ASSERT(s && s[0]);
    parser p = {s, 0, false};
    arg_node top;
    parse_alts(&p, &top, '\0');
    BS_ASSERT(!p.bad); /* the table above is ours: a typo is a bug */
    /* The top level is always a list of arguments. */
    if (top.type == A_BLOCK && !top.optional && !top.multiple && !top.token[0]) {
        resp_reply_array(o, top.nkids);
        for (size_t i = 0; i < top.nkids; i++)
            reply_arg(o, &top.kids[i]);
    } else {
        resp_reply_array(o, 1);
        reply_arg(o, &top);
    }
    node_free(&top);
}
