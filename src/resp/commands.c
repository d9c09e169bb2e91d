/* commands.c -- the merged command table: lookup, arity, and the COMMAND command.
 *
 * Each family of commands keeps its own table (cmd_string.c, cmd_keys.c, cmd_conn.c,
 * cmd_server.c, cmd_multi.c, and COMMAND's own here). The first use builds one registry from them: the
 * top-level commands sorted by name for a binary search, each container's subcommands
 * right after, and a Redis 7 "fullname" ("client|list") for every entry. Two families
 * defining the same name is a programming error and stops the process at start.
 *
 * Resolution follows Redis's processCommand(): lookupCommand() (a container with at least
 * one argument resolves to its subcommand), then commandCheckExistence() and
 * commandCheckArity(), with their exact error texts, including the '%.128s' truncations
 * (which also stop at a NUL byte, as C strings do in Redis's format).
 *
 * COMMAND's replies (INFO, DOCS, LIST, COUNT, GETKEYS) are built from resp_command: flags,
 * Redis's key positions, group, summary, since. What the table does not carry is derived
 * the way Redis derives it for legacy commands: ACL categories from the flags and group,
 * one key spec from (first, last, step). redis-cli's hints come from DOCS "arguments",
 * which cmd_docs.c derives from a syntax line per command. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/assert.h"
#include "resp/conn_int.h"

static void command_cmd(resp_req *req);
static void command_count_cmd(resp_req *req);
static void command_info_cmd(resp_req *req);
static void command_docs_cmd(resp_req *req);
static void command_list_cmd(resp_req *req);
static void command_getkeys_cmd(resp_req *req);
static void command_help_cmd(resp_req *req);

#define CONN_FLAGS (RESP_CMD_LOADING | RESP_CMD_STALE)

static const resp_command command_subs[] = {
    {"count", 2, CONN_FLAGS, 0, 0, 0, "server", "Returns a count of commands.", "2.8.13",
     command_count_cmd, NULL},
    {"docs", -2, CONN_FLAGS, 0, 0, 0, "server",
     "Returns documentary information about one, "
     "multiple or all commands.",
     "7.0.0", command_docs_cmd, NULL},
    {"getkeys", -4, CONN_FLAGS, 0, 0, 0, "server",
     "Extracts the key names from an arbitrary "
     "command.",
     "2.8.13", command_getkeys_cmd, NULL},
    {"help", 2, CONN_FLAGS, 0, 0, 0, "server",
     "Returns helpful text about the different "
     "subcommands.",
     "5.0.0", command_help_cmd, NULL},
    {"info", -2, CONN_FLAGS, 0, 0, 0, "server",
     "Returns information about one, multiple or "
     "all commands.",
     "2.8.13", command_info_cmd, NULL},
    {"list", -2, CONN_FLAGS, 0, 0, 0, "server", "Returns a list of command names.", "7.0.0",
     command_list_cmd, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

static const resp_command command_cmds[] = {
    {"command", -1, CONN_FLAGS, 0, 0, 0, "server",
     "Returns detailed information about all "
     "commands.",
     "2.8.13", command_cmd, command_subs},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

/* ---- the registry ------------------------------------------------------------------- */

static struct {
    resp_cmd_def *defs;
    size_t n, ntop;
} reg;

static pthread_once_t reg_once = PTHREAD_ONCE_INIT;

static int cmp_def(const void *a, const void *b)
{
    const resp_cmd_def *x = a, *y = b;
    return strcmp(x->c->name, y->c->name);
}

static void reg_build(void)
{
    const resp_command *families[] = {resp_cmds_string, resp_cmds_keys, resp_cmds_conn,
                                      resp_cmds_server, resp_cmds_multi, command_cmds};
    size_t nfam = sizeof families / sizeof families[0];
    size_t ntop = 0, nsub = 0;
    for (size_t f = 0; f < nfam; f++)
        for (const resp_command *c = families[f]; c->name; c++) {
            ntop++;
            for (const resp_command *s = c->subcommands; s && s->name; s++)
                nsub++;
        }
    reg.defs = bs_calloc(ntop + nsub, sizeof *reg.defs);
    reg.ntop = ntop;
    reg.n = ntop + nsub;
    size_t i = 0;
    for (size_t f = 0; f < nfam; f++)
        for (const resp_command *c = families[f]; c->name; c++)
            reg.defs[i++].c = c;
    qsort(reg.defs, ntop, sizeof *reg.defs, cmp_def);
    size_t next = ntop;
    for (i = 0; i < ntop; i++) {
        resp_cmd_def *d = &reg.defs[i];
        d->idx = i;
        BS_ASSERT(strlen(d->c->name) < sizeof d->fullname);
        snprintf(d->fullname, sizeof d->fullname, "%s", d->c->name);
        /* Command names are unique across families (a duplicate would shadow a handler). */
        BS_ASSERT(i == 0 || strcmp(reg.defs[i - 1].c->name, d->c->name) != 0);
        if (!d->c->subcommands)
            continue;
        d->subs = &reg.defs[next];
        for (const resp_command *s = d->c->subcommands; s->name; s++) {
            resp_cmd_def *sd = &reg.defs[next];
            sd->c = s;
            sd->parent = d;
            sd->idx = next;
            int w = snprintf(sd->fullname, sizeof sd->fullname, "%s|%s", d->c->name, s->name);
            BS_ASSERT(w > 0 && (size_t)w < sizeof sd->fullname);
            next++;
            d->nsubs++;
        }
    }
    BS_ASSERT(next == reg.n);
}

void resp_commands_init(void)
{
    pthread_once(&reg_once, reg_build);
}

size_t resp_commands_count(void)
{
    resp_commands_init();
    return reg.n;
}

size_t resp_commands_top_count(void)
{
    resp_commands_init();
    return reg.ntop;
}

const resp_cmd_def *resp_commands_at(size_t i)
{
    resp_commands_init();
    BS_ASSERT(i < reg.n);
    return &reg.defs[i];
}

/* strcasecmp of a slice against a NUL-terminated lower-case name. */
static int slice_cmp_name(bs_slice s, const char *name)
{
    size_t n = strlen(name);
    size_t m = s.len < n ? s.len : n;
    for (size_t i = 0; i < m; i++) {
        int a = s.ptr[i] >= 'A' && s.ptr[i] <= 'Z' ? s.ptr[i] + 32 : s.ptr[i];
        int b = (unsigned char)name[i];
        if (a != b)
            return a - b;
    }
    return s.len < n ? -1 : s.len > n ? 1 : 0;
}

const resp_cmd_def *resp_commands_lookup(bs_slice name)
{
    resp_commands_init();
    size_t lo = 0, hi = reg.ntop;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = slice_cmp_name(name, reg.defs[mid].c->name);
        if (c == 0)
            return &reg.defs[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const resp_cmd_def *resp_commands_lookup_sub(const resp_cmd_def *parent, bs_slice name)
{
    for (size_t i = 0; i < parent->nsubs; i++)
        if (slice_cmp_name(name, parent->subs[i].c->name) == 0)
            return &parent->subs[i];
    return NULL;
}

/* "client|list" (any case) -> its entry, as Redis's lookupCommandBySds. */
static const resp_cmd_def *lookup_fullname(bs_slice name)
{
    const uint8_t *bar = name.len ? memchr(name.ptr, '|', name.len) : NULL;
    if (!bar)
        return resp_commands_lookup(name);
    const resp_cmd_def *p = resp_commands_lookup(bs_slice_make(name.ptr, (size_t)(bar - name.ptr)));
    if (!p || !p->nsubs)
        return NULL;
    bs_slice rest = bs_slice_make(bar + 1, name.len - (size_t)(bar - name.ptr) - 1);
    if (rest.len && memchr(rest.ptr, '|', rest.len))
        return NULL;
    return resp_commands_lookup_sub(p, rest);
}

/* s's bytes for a "%.*s" (never NULL, even for an empty slice). */
static const char *cs(bs_slice s)
{
    return s.ptr ? (const char *)s.ptr : "";
}

/* The length of s as Redis's "%.Ns" would print it: up to max bytes, stopping at NUL. */
static int cstr_len(bs_slice s, size_t max)
{
    size_t n = 0;
    while (n < s.len && n < max && s.ptr[n] != '\0')
        n++;
    return (int)n;
}

static bool arity_ok(const resp_command *c, size_t argc)
{
    if (c->arity > 0)
        return argc == (size_t)c->arity;
    return argc >= (size_t)(-c->arity);
}

const resp_cmd_def *resp_commands_resolve(size_t argc, const bs_slice *argv, resp_out *o)
{
    const resp_cmd_def *base = resp_commands_lookup(argv[0]);
    const resp_cmd_def *d = base;
    if (base && argc >= 2 && base->nsubs)
        d = resp_commands_lookup_sub(base, argv[1]);
    if (!d) {
        if (base) {
            /* A container with an unknown subcommand: "Try CLIENT HELP." */
            char up[160];
            int n = cstr_len(argv[0], sizeof up - 1);
            for (int i = 0; i < n; i++) {
                char ch = (char)argv[0].ptr[i];
                up[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
            }
            up[n] = '\0';
            resp_reply_errorf(o, "unknown subcommand '%.*s'. Try %s HELP.", cstr_len(argv[1], 128),
                              cs(argv[1]), up);
            return NULL;
        }
        /* Redis quotes arguments until the text reaches 128 bytes, each one cut to what
         * is left of the 128. */
        bs_buf args = BS_BUF_INIT;
        for (size_t i = 1; i < argc && args.len < 128; i++) {
            int n = cstr_len(argv[i], 128 - args.len);
            bs_buf_append_byte(&args, '\'');
            bs_buf_append(&args, argv[i].ptr, (size_t)n);
            bs_buf_append(&args, "' ", 2);
        }
        resp_reply_errorf(o, "unknown command '%.*s', with args beginning with: %.*s",
                          cstr_len(argv[0], 128), cs(argv[0]), (int)args.len,
                          args.ptr ? (const char *)args.ptr : "");
        bs_buf_free(&args);
        return NULL;
    }
    if (!arity_ok(d->c, argc)) {
        resp_reply_errorf(o, "wrong number of arguments for '%s' command", d->fullname);
        return NULL;
    }
    return d;
}

/* ---- shared reply helpers --------------------------------------------------------------- */

void resp_reply_help(resp_out *o, const char *cmd, const char *const *lines)
{
    size_t n = 0;
    while (lines[n])
        n++;
    resp_reply_array(o, n + 3);
    char head[128];
    snprintf(head, sizeof head, "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", cmd);
    resp_reply_simple_str(o, head);
    for (size_t i = 0; i < n; i++)
        resp_reply_simple_str(o, lines[i]);
    resp_reply_simple_str(o, "HELP");
    resp_reply_simple_str(o, "    Prints this help.");
}

void resp_reply_subcommand_error(resp_req *req)
{
    bs_slice a0 = resp_req_arg(req, 0), a1 = resp_req_arg(req, req->argc > 1 ? 1 : 0);
    char up[160];
    int n = cstr_len(a0, sizeof up - 1);
    for (int i = 0; i < n; i++) {
        char ch = (char)a0.ptr[i];
        up[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
    }
    up[n] = '\0';
    resp_reply_errorf(&req->o,
                      "unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
                      cstr_len(a1, 128), cs(a1), up);
}

/* ---- COMMAND -------------------------------------------------------------------------- */

static const struct {
    unsigned flag;
    const char *name;
} flag_names[] = {
    {RESP_CMD_WRITE, "write"},     {RESP_CMD_READONLY, "readonly"}, {RESP_CMD_DENYOOM, "denyoom"},
    {RESP_CMD_ADMIN, "admin"},     {RESP_CMD_PUBSUB, "pubsub"},     {RESP_CMD_NOSCRIPT, "noscript"},
    {RESP_CMD_LOADING, "loading"}, {RESP_CMD_STALE, "stale"},       {RESP_CMD_FAST, "fast"},
    {RESP_CMD_NOAUTH, "no_auth"},  {RESP_CMD_NO_MULTI, "no_multi"},
};

/* ACL categories in Redis's order, derived from flags and group. */
static size_t acl_categories(const resp_command *c, const char **out)
{
    size_t n = 0;
    const char *g = c->group ? c->group : "";
    if (!strcmp(g, "generic") || !strcmp(g, "keyspace"))
        out[n++] = "@keyspace";
    if (c->flags & RESP_CMD_READONLY)
        out[n++] = "@read";
    if (c->flags & RESP_CMD_WRITE)
        out[n++] = "@write";
    if (!strcmp(g, "string"))
        out[n++] = "@string";
    if (c->flags & RESP_CMD_PUBSUB)
        out[n++] = "@pubsub";
    if (c->flags & RESP_CMD_ADMIN)
        out[n++] = "@admin";
    out[n++] = (c->flags & RESP_CMD_FAST) ? "@fast" : "@slow";
    if (c->flags & RESP_CMD_ADMIN)
        out[n++] = "@dangerous";
    if (!strcmp(g, "connection"))
        out[n++] = "@connection";
    if (!strcmp(g, "transactions"))
        out[n++] = "@transaction";
    return n;
}

static bool has_category(const resp_command *c, bs_slice cat)
{
    const char *cats[16];
    size_t n = acl_categories(c, cats);
    for (size_t i = 0; i < n; i++)
        if (resp_arg_is(cat, cats[i] + 1))
            return true;
    return false;
}

static void reply_key_specs(resp_out *o, const resp_command *c)
{
    if (c->first_key <= 0) {
        resp_reply_array(o, 0);
        return;
    }
    resp_reply_array(o, 1);
    resp_reply_map(o, 3);
    resp_reply_bulk_str(o, "flags");
    if (c->flags & RESP_CMD_WRITE) {
        resp_reply_set(o, 2);
        resp_reply_simple_str(o, "RW");
        resp_reply_simple_str(o, "update");
    } else {
        resp_reply_set(o, 2);
        resp_reply_simple_str(o, "RO");
        resp_reply_simple_str(o, "access");
    }
    resp_reply_bulk_str(o, "begin_search");
    resp_reply_map(o, 2);
    resp_reply_bulk_str(o, "type");
    resp_reply_bulk_str(o, "index");
    resp_reply_bulk_str(o, "spec");
    resp_reply_map(o, 1);
    resp_reply_bulk_str(o, "index");
    resp_reply_int(o, c->first_key);
    resp_reply_bulk_str(o, "find_keys");
    resp_reply_map(o, 2);
    resp_reply_bulk_str(o, "type");
    resp_reply_bulk_str(o, "range");
    resp_reply_bulk_str(o, "spec");
    resp_reply_map(o, 3);
    resp_reply_bulk_str(o, "lastkey");
    resp_reply_int(o, c->last_key < 0 ? c->last_key : c->last_key - c->first_key);
    resp_reply_bulk_str(o, "keystep");
    resp_reply_int(o, c->key_step);
    resp_reply_bulk_str(o, "limit");
    resp_reply_int(o, 0);
}

static void reply_command_info(resp_out *o, const resp_cmd_def *d)
{
    const resp_command *c = d->c;
    resp_reply_array(o, 10);
    resp_reply_bulk_str(o, d->fullname);
    resp_reply_int(o, c->arity);
    size_t nf = 0;
    for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
        if (c->flags & flag_names[i].flag)
            nf++;
    resp_reply_set(o, nf);
    for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
        if (c->flags & flag_names[i].flag)
            resp_reply_simple_str(o, flag_names[i].name);
    resp_reply_int(o, c->first_key);
    resp_reply_int(o, c->last_key);
    resp_reply_int(o, c->key_step);
    const char *cats[16];
    size_t ncat = d->nsubs && !c->fn ? 0 : acl_categories(c, cats);
    if (d->nsubs && !c->fn)
        cats[ncat++] = "@slow"; /* a pure container is "@slow" only, as in Redis */
    resp_reply_set(o, ncat);
    for (size_t i = 0; i < ncat; i++)
        resp_reply_simple_str(o, cats[i]);
    resp_reply_set(o, 0); /* tips */
    reply_key_specs(o, c);
    resp_reply_array(o, d->nsubs);
    for (size_t i = 0; i < d->nsubs; i++)
        reply_command_info(o, &d->subs[i]);
}

static void reply_command_docs(resp_out *o, const resp_cmd_def *d)
{
    const resp_command *c = d->c;
    bool args = resp_docs_has_args(d->fullname);
    size_t n = (c->summary ? 1 : 0) + (c->since ? 1 : 0) + (c->group ? 1 : 0) + (args ? 1 : 0) +
               (d->nsubs ? 1 : 0);
    resp_reply_map(o, n);
    if (c->summary) {
        resp_reply_bulk_str(o, "summary");
        resp_reply_bulk_str(o, c->summary);
    }
    if (c->since) {
        resp_reply_bulk_str(o, "since");
        resp_reply_bulk_str(o, c->since);
    }
    if (c->group) {
        resp_reply_bulk_str(o, "group");
        resp_reply_bulk_str(o, c->group);
    }
    if (args) {
        resp_reply_bulk_str(o, "arguments");
        resp_docs_reply_args(o, d->fullname);
    }
    if (d->nsubs) {
        resp_reply_bulk_str(o, "subcommands");
        resp_reply_map(o, d->nsubs);
        for (size_t i = 0; i < d->nsubs; i++) {
            resp_reply_bulk_str(o, d->subs[i].fullname);
            reply_command_docs(o, &d->subs[i]);
        }
    }
}

static void command_cmd(resp_req *req)
{
    size_t n = resp_commands_top_count();
    resp_reply_array(&req->o, n);
    for (size_t i = 0; i < n; i++)
        reply_command_info(&req->o, resp_commands_at(i));
    resp_req_finish(req);
}

static void command_count_cmd(resp_req *req)
{
    resp_reply_int(&req->o, (long long)resp_commands_top_count());
    resp_req_finish(req);
}

static void command_info_cmd(resp_req *req)
{
    if (req->argc == 2) {
        command_cmd(req);
        return;
    }
    resp_reply_array(&req->o, req->argc - 2);
    for (size_t i = 2; i < req->argc; i++) {
        const resp_cmd_def *d = lookup_fullname(resp_req_arg(req, i));
        if (d)
            reply_command_info(&req->o, d);
        else
            resp_reply_null_bulk(&req->o);
    }
    resp_req_finish(req);
}

static void command_docs_cmd(resp_req *req)
{
    if (req->argc == 2) {
        size_t n = resp_commands_top_count();
        resp_reply_map(&req->o, n);
        for (size_t i = 0; i < n; i++) {
            const resp_cmd_def *d = resp_commands_at(i);
            resp_reply_bulk_str(&req->o, d->fullname);
            reply_command_docs(&req->o, d);
        }
        resp_req_finish(req);
        return;
    }
    /* Unknown names are left out. */
    size_t found = 0;
    for (size_t i = 2; i < req->argc; i++)
        if (lookup_fullname(resp_req_arg(req, i)))
            found++;
    resp_reply_map(&req->o, found);
    for (size_t i = 2; i < req->argc; i++) {
        const resp_cmd_def *d = lookup_fullname(resp_req_arg(req, i));
        if (!d)
            continue;
        resp_reply_bulk_str(&req->o, d->fullname);
        reply_command_docs(&req->o, d);
    }
    resp_req_finish(req);
}

static void command_list_cmd(resp_req *req)
{
    enum { ALL, MODULE, ACLCAT, PATTERN } filter = ALL;
    bs_slice arg = BS_SLICE_NULL;
    bool bad = req->argc != 2;
    if (req->argc == 5 && resp_arg_is(resp_req_arg(req, 2), "filterby")) {
        bs_slice kind = resp_req_arg(req, 3);
        arg = resp_req_arg(req, 4);
        bad = false;
        if (resp_arg_is(kind, "module"))
            filter = MODULE;
        else if (resp_arg_is(kind, "aclcat"))
            filter = ACLCAT;
        else if (resp_arg_is(kind, "pattern"))
            filter = PATTERN;
        else
            bad = true;
    }
    if (bad) {
        resp_reply_error_str(&req->o, RESP_ERR_SYNTAX);
        resp_req_finish(req);
        return;
    }
    size_t n = resp_commands_count(), count = 0;
    bool *take = bs_calloc(n ? n : 1, sizeof *take);
    for (size_t i = 0; i < n; i++) {
        const resp_cmd_def *d = resp_commands_at(i);
        switch (filter) {
        case ALL:
            take[i] = true;
            break;
        case MODULE:
            take[i] = false; /* no modules */
            break;
        case ACLCAT:
            take[i] = has_category(d->c, arg);
            break;
        case PATTERN:
            take[i] = resp_glob_match(arg, bs_slice_from_str(d->fullname), true);
            break;
        }
        count += take[i];
    }
    resp_reply_array(&req->o, count);
    for (size_t i = 0; i < n; i++)
        if (take[i])
            resp_reply_bulk_str(&req->o, resp_commands_at(i)->fullname);
    bs_free(take);
    resp_req_finish(req);
}

static void command_getkeys_cmd(resp_req *req)
{
    size_t argc = req->argc - 2;
    bs_slice argv0 = resp_req_arg(req, 2);
    const resp_cmd_def *d = resp_commands_lookup(argv0);
    if (d && d->nsubs && argc >= 2)
        d = resp_commands_lookup_sub(d, resp_req_arg(req, 3));
    if (!d) {
        resp_reply_error_str(&req->o, "Invalid command specified");
    } else if (!arity_ok(d->c, argc)) {
        resp_reply_error_str(&req->o, "Invalid number of arguments specified for command");
    } else if (d->c->first_key <= 0) {
        resp_reply_error_str(&req->o, "The command has no key arguments");
    } else {
        const resp_command *c = d->c;
        long long last = c->last_key < 0 ? (long long)argc + c->last_key : c->last_key;
        long long step = c->key_step > 0 ? c->key_step : 1;
        size_t n = 0;
        for (long long i = c->first_key; i <= last && i < (long long)argc; i += step)
            n++;
        resp_reply_array(&req->o, n);
        for (long long i = c->first_key; i <= last && i < (long long)argc; i += step)
            resp_reply_bulk_slice(&req->o, resp_req_arg(req, (size_t)i + 2));
    }
    resp_req_finish(req);
}

static void command_help_cmd(resp_req *req)
{
    static const char *const lines[] = {
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        NULL,
    };
    resp_reply_help(&req->o, "COMMAND", lines);
    resp_req_finish(req);
}
