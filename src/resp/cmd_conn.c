/* cmd_conn.c -- connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT, CLIENT.
 *
 * They change or report the state of the connection that sent them, so they run on the
 * loop thread and finish before returning. Arguments, replies and error texts are Redis
 * 7's (networking.c's clientCommand, server.c's helloCommand / pingCommand, acl.c's
 * authCommand), including the RESP3 types: CLIENT LIST and CLIENT INFO are verbatim
 * strings, HELLO a map.
 *
 * Authentication is Redis's default user: requirepass set means the connection must AUTH
 * (or HELLO ... AUTH default <pass>) before any command not flagged RESP_CMD_NOAUTH; with
 * requirepass empty the default user is "nopass" and any password is accepted for it.
 * There are no other users. HELLO reports server "redis" and version RESP_REDIS_VERSION
 * (conn_int.h says why). */
#include <stdio.h>
#include <string.h>

#include "common/assert.h"
#include "resp/conn_int.h"

#define F_CONN (RESP_CMD_NOSCRIPT | RESP_CMD_LOADING | RESP_CMD_STALE)

/* s's bytes for a "%.*s" (never NULL, even for an empty slice). */
static const char *cs(bs_slice s)
{
    return s.ptr ? (const char *)s.ptr : "";
}

static resp_conn *conn_of(resp_req *req)
{
    return req->conn;
}

static void finish_ok(resp_req *req)
{
    resp_reply_ok(&req->o);
    resp_req_finish(req);
}

static void finish_err(resp_req *req, const char *msg)
{
    resp_reply_error_str(&req->o, msg);
    resp_req_finish(req);
}

/* Redis's validateClientAttr(): printable ASCII without spaces. Redis reads the value as a
 * C string and so stops checking at a NUL; Basalt refuses the NUL too. */
static bool valid_attr(bs_slice v)
{
    for (size_t i = 0; i < v.len; i++)
        if (v.ptr[i] < '!' || v.ptr[i] > '~')
            return false;
    return true;
}

static char *dup_slice_or_null(bs_slice v)
{
    if (v.len == 0)
        return NULL;
    char *s = bs_malloc(v.len + 1);
    memcpy(s, v.ptr, v.len);
    s[v.len] = '\0';
    return s;
}

/* Constant-time comparison, so a password cannot be guessed byte by byte from timing. */
static bool secret_eq(bs_slice a, const char *b)
{
    size_t bl = strlen(b);
    unsigned diff = (unsigned)(a.len ^ bl);
    size_t n = a.len > bl ? a.len : bl;
    for (size_t i = 0; i < n; i++) {
        unsigned x = i < a.len ? a.ptr[i] : 0;
        unsigned y = i < bl ? (unsigned char)b[i] : 0;
        diff |= x ^ y;
    }
    return diff == 0;
}

/* ACLAuthenticateUser for the default user only. */
static bool check_user_pass(resp_server *s, bs_slice user, bs_slice pass)
{
    if (user.len != 7 || memcmp(user.ptr, "default", 7) != 0)
        return false;
    if (s->set.requirepass[0] == '\0')
        return true; /* nopass */
    return secret_eq(pass, s->set.requirepass);
}

/* ---- PING ECHO QUIT RESET SELECT ---------------------------------------------------------- */

static void ping_cmd(resp_req *req)
{
    if (req->argc > 2) {
        /* The table's arity (-1) lets any count through; pingCommand() checks itself. */
        finish_err(req, "wrong number of arguments for 'ping' command");
        return;
    }
    if (req->argc == 1)
        resp_reply_simple_str(&req->o, "PONG");
    else
        resp_reply_bulk_slice(&req->o, resp_req_arg(req, 1));
    resp_req_finish(req);
}

static void echo_cmd(resp_req *req)
{
    resp_reply_bulk_slice(&req->o, resp_req_arg(req, 1));
    resp_req_finish(req);
}

static void quit_cmd(resp_req *req)
{
    resp_conn *c = conn_of(req);
    conn_req_of(req)->close_after = true;
    c->closing = true;
    finish_ok(req);
}

static void reset_cmd(resp_req *req)
{
    resp_conn *c = conn_of(req);
    /* Redis's clearClientConnectionState(); lib-name/lib-ver describe the library behind
     * the connection and stay. */
    c->db = 0;
    c->proto = 2;
    req->o.proto = 2;
    resp_conn_set_auth(c, c->srv->set.requirepass[0] == '\0');
    bs_free(c->name);
    c->name = NULL;
    c->reply_mode = REPLY_ON;
    c->no_evict = c->no_touch = false;
    resp_multi_reset(c); /* discardTransaction() and unwatchAllKeys() */
    conn_req_of(req)->noreply = false; /* replies are back on before RESET answers */
    resp_reply_simple_str(&req->o, "RESET");
    resp_req_finish(req);
}

static void select_cmd(resp_req *req)
{
    resp_conn *c = conn_of(req);
    long long id;
    if (!resp_parse_ll(resp_req_arg(req, 1), &id) || id < -2147483648LL || id > 2147483647LL) {
        finish_err(req, RESP_ERR_NOT_INTEGER);
        return;
    }
    if (id < 0 || id >= c->srv->set.databases) {
        finish_err(req, "DB index is out of range");
        return;
    }
    c->db = (uint32_t)id;
    finish_ok(req);
}

/* ---- AUTH and HELLO ---------------------------------------------------------------------- */

static void auth_cmd(resp_req *req)
{
    resp_conn *c = conn_of(req);
    resp_server *s = c->srv;
    if (req->argc > 3) {
        finish_err(req, RESP_ERR_SYNTAX);
        return;
    }
    bs_slice user, pass;
    if (req->argc == 2) {
        if (s->set.requirepass[0] == '\0') {
            finish_err(req, "AUTH <password> called without any password configured for the "
                            "default user. Are you sure your configuration is correct?");
            return;
        }
        user = bs_slice_from_str("default");
        pass = resp_req_arg(req, 1);
    } else {
        user = resp_req_arg(req, 1);
        pass = resp_req_arg(req, 2);
    }
    if (!check_user_pass(s, user, pass)) {
        finish_err(req, "-WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    resp_conn_set_auth(c, true);
    finish_ok(req);
}

static void hello_cmd(resp_req *req)
{
    resp_conn *c = conn_of(req);
    resp_server *s = c->srv;
    long long ver = 0;
    size_t j = 1;
    if (req->argc >= 2) {
        if (!resp_parse_ll(resp_req_arg(req, 1), &ver)) {
            finish_err(req, "Protocol version is not an integer or out of range");
            return;
        }
        j = 2;
        if (ver < 2 || ver > 3) {
            finish_err(req, "-NOPROTO unsupported protocol version");
            return;
        }
    }
    bs_slice user = BS_SLICE_NULL, pass = BS_SLICE_NULL, name = BS_SLICE_NULL;
    bool auth = false, setname = false;
    for (; j < req->argc; j++) {
        size_t more = req->argc - 1 - j;
        bs_slice opt = resp_req_arg(req, j);
        if (resp_arg_is(opt, "auth") && more >= 2) {
            user = resp_req_arg(req, j + 1);
            pass = resp_req_arg(req, j + 2);
            auth = true;
            j += 2;
        } else if (resp_arg_is(opt, "setname") && more >= 1) {
            name = resp_req_arg(req, j + 1);
            if (!valid_attr(name)) {
                finish_err(req, "Client names cannot contain spaces, newlines or special "
                                "characters.");
                return;
            }
            setname = true;
            j++;
        } else {
            resp_reply_errorf(&req->o, "Syntax error in HELLO option '%.*s'", (int)opt.len,
                              cs(opt));
            resp_req_finish(req);
            return;
        }
    }
    if (auth) {
        if (!check_user_pass(s, user, pass)) {
            finish_err(req, "-WRONGPASS invalid username-password pair or user is disabled.");
            return;
        }
        resp_conn_set_auth(c, true);
    }
    if (s->set.requirepass[0] != '\0' && !c->authenticated) {
        finish_err(req, "-NOAUTH HELLO must be called with the client already authenticated, "
                        "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                        "authenticate the client and select the RESP protocol version at the "
                        "same time");
        return;
    }
    if (setname) {
        bs_free(c->name);
        c->name = dup_slice_or_null(name);
    }
    if (ver) {
        c->proto = (int)ver;
        req->proto = (int)ver;
        req->o.proto = (int)ver; /* the reply itself already uses the new protocol */
    }
    resp_out *o = &req->o;
    resp_reply_map(o, 7);
    resp_reply_bulk_str(o, "server");
    resp_reply_bulk_str(o, "redis");
    resp_reply_bulk_str(o, "version");
    resp_reply_bulk_str(o, RESP_REDIS_VERSION);
    resp_reply_bulk_str(o, "proto");
    resp_reply_int(o, c->proto);
    resp_reply_bulk_str(o, "id");
    resp_reply_int(o, (long long)c->id);
    resp_reply_bulk_str(o, "mode");
    resp_reply_bulk_str(o, "standalone");
    resp_reply_bulk_str(o, "role");
    resp_reply_bulk_str(o, "master");
    resp_reply_bulk_str(o, "modules");
    resp_reply_array(o, 0);
    resp_req_finish(req);
}

/* ---- CLIENT ----------------------------------------------------------------------------- */

static void client_id_cmd(resp_req *req)
{
    resp_reply_int(&req->o, (long long)conn_of(req)->id);
    resp_req_finish(req);
}

static void client_setname_cmd(resp_req *req)
{
    resp_conn *c = conn_of(req);
    bs_slice name = resp_req_arg(req, 2);
    if (!valid_attr(name)) {
        finish_err(req, "Client names cannot contain spaces, newlines or special characters.");
        return;
    }
    bs_free(c->name);
    c->name = dup_slice_or_null(name);
    finish_ok(req);
}

static void client_getname_cmd(resp_req *req)
{
    resp_conn *c = conn_of(req);
    if (c->name)
        resp_reply_bulk_str(&req->o, c->name);
    else
        resp_reply_null_bulk(&req->o);
    resp_req_finish(req);
}

/* getClientTypeByName(): -1 unknown, 0 normal, 1 the kinds Basalt never has. */
static int client_type(bs_slice t)
{
    if (resp_arg_is(t, "normal"))
        return 0;
    if (resp_arg_is(t, "slave") || resp_arg_is(t, "replica") || resp_arg_is(t, "pubsub") ||
        resp_arg_is(t, "master"))
        return 1;
    return -1;
}

static void unknown_type(resp_req *req, bs_slice t)
{
    resp_reply_errorf(&req->o, "Unknown client type '%.*s'", (int)t.len, cs(t));
    resp_req_finish(req);
}

static resp_conn *conn_by_id(resp_server *s, uint64_t id)
{
    for (resp_conn *c = s->conns; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

static void client_list_cmd(resp_req *req)
{
    resp_server *s = conn_of(req)->srv;
    bs_buf text = BS_BUF_INIT;
    if (req->argc == 4 && resp_arg_is(resp_req_arg(req, 2), "type")) {
        int t = client_type(resp_req_arg(req, 3));
        if (t < 0) {
            unknown_type(req, resp_req_arg(req, 3));
            return;
        }
        if (t == 0)
            for (resp_conn *c = s->conns; c; c = c->next) {
                resp_conn_describe(c, &text);
                bs_buf_append_byte(&text, '\n');
            }
    } else if (req->argc > 3 && resp_arg_is(resp_req_arg(req, 2), "id")) {
        for (size_t j = 3; j < req->argc; j++) {
            long long id;
            if (!resp_parse_ll(resp_req_arg(req, j), &id)) {
                bs_buf_free(&text);
                finish_err(req, "Invalid client ID");
                return;
            }
            resp_conn *c = conn_by_id(s, (uint64_t)id);
            if (c && id > 0) {
                resp_conn_describe(c, &text);
                bs_buf_append_byte(&text, '\n');
            }
        }
    } else if (req->argc != 2) {
        finish_err(req, RESP_ERR_SYNTAX);
        return;
    } else {
        for (resp_conn *c = s->conns; c; c = c->next) {
            resp_conn_describe(c, &text);
            bs_buf_append_byte(&text, '\n');
        }
    }
    resp_reply_verbatim(&req->o, "txt", text.ptr, text.len);
    bs_buf_free(&text);
    resp_req_finish(req);
}

static void client_info_cmd(resp_req *req)
{
    bs_buf text = BS_BUF_INIT;
    resp_conn_describe(conn_of(req), &text);
    bs_buf_append_byte(&text, '\n');
    resp_reply_verbatim(&req->o, "txt", text.ptr, text.len);
    bs_buf_free(&text);
    resp_req_finish(req);
}

static bool slice_eq_str(bs_slice a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && (n == 0 || memcmp(a.ptr, s, n) == 0);
}

static void client_kill_cmd(resp_req *req)
{
    resp_conn *self = conn_of(req);
    resp_server *s = self->srv;
    bs_slice addr = BS_SLICE_NULL, laddr = BS_SLICE_NULL;
    bool has_addr = false, has_laddr = false, skipme = true;
    int type = -1;
    long long id = 0;
    if (req->argc == 3) {
        /* CLIENT KILL <addr>: the old form, which may kill the caller too. */
        addr = resp_req_arg(req, 2);
        has_addr = true;
        skipme = false;
    } else {
        for (size_t i = 2; i < req->argc; i += 2) {
            bs_slice opt = resp_req_arg(req, i);
            bool more = req->argc > i + 1;
            bs_slice val = more ? resp_req_arg(req, i + 1) : BS_SLICE_NULL;
            if (resp_arg_is(opt, "id") && more) {
                if (!resp_parse_ll(val, &id) || id < 1) {
                    finish_err(req, "client-id should be greater than 0");
                    return;
                }
            } else if (resp_arg_is(opt, "type") && more) {
                type = client_type(val);
                if (type < 0) {
                    unknown_type(req, val);
                    return;
                }
            } else if (resp_arg_is(opt, "addr") && more) {
                addr = val;
                has_addr = true;
            } else if (resp_arg_is(opt, "laddr") && more) {
                laddr = val;
                has_laddr = true;
            } else if (resp_arg_is(opt, "user") && more) {
                if (!slice_eq_str(val, "default")) {
                    resp_reply_errorf(&req->o, "No such user '%.*s'", (int)val.len, cs(val));
                    resp_req_finish(req);
                    return;
                }
            } else if (resp_arg_is(opt, "skipme") && more) {
                if (resp_arg_is(val, "yes"))
                    skipme = true;
                else if (resp_arg_is(val, "no"))
                    skipme = false;
                else {
                    finish_err(req, RESP_ERR_SYNTAX);
                    return;
                }
            } else {
                finish_err(req, RESP_ERR_SYNTAX);
                return;
            }
        }
    }
    long long killed = 0;
    bool kill_self = false;
    resp_conn *next;
    for (resp_conn *c = s->conns; c; c = next) {
        next = c->next;
        if (has_addr && !slice_eq_str(addr, c->addr))
            continue;
        if (has_laddr && !slice_eq_str(laddr, c->laddr))
            continue;
        if (type > 0) /* replicas, masters, pub/sub: none here */
            continue;
        if (id != 0 && c->id != (uint64_t)id)
            continue;
        if (c == self && skipme)
            continue;
        if (c == self)
            kill_self = true;
        else
            resp_conn_kill(c);
        killed++;
    }
    if (req->argc == 3) {
        if (killed == 0)
            resp_reply_error_str(&req->o, "No such client");
        else
            resp_reply_ok(&req->o);
    } else {
        resp_reply_int(&req->o, killed);
    }
    if (kill_self) {
        /* After this reply, as Redis's CLIENT_CLOSE_AFTER_REPLY. */
        conn_req_of(req)->close_after = true;
        self->closing = true;
    }
    resp_req_finish(req);
}

static void client_setinfo_cmd(resp_req *req)
{
    resp_conn *c = conn_of(req);
    bs_slice attr = resp_req_arg(req, 2), val = resp_req_arg(req, 3);
    char **dest;
    if (resp_arg_is(attr, "lib-name"))
        dest = &c->lib_name;
    else if (resp_arg_is(attr, "lib-ver"))
        dest = &c->lib_ver;
    else {
        resp_reply_errorf(&req->o, "Unrecognized option '%.*s'", (int)attr.len, cs(attr));
        resp_req_finish(req);
        return;
    }
    if (!valid_attr(val)) {
        resp_reply_errorf(&req->o, "%.*s cannot contain spaces, newlines or special characters.",
                          (int)attr.len, cs(attr));
        resp_req_finish(req);
        return;
    }
    bs_free(*dest);
    *dest = dup_slice_or_null(val);
    finish_ok(req);
}

static void on_off_cmd(resp_req *req, bool *flag)
{
    bs_slice v = resp_req_arg(req, 2);
    if (resp_arg_is(v, "on"))
        *flag = true;
    else if (resp_arg_is(v, "off"))
        *flag = false;
    else {
        finish_err(req, RESP_ERR_SYNTAX);
        return;
    }
    finish_ok(req);
}

static void client_no_evict_cmd(resp_req *req)
{
    on_off_cmd(req, &conn_of(req)->no_evict);
}

static void client_no_touch_cmd(resp_req *req)
{
    on_off_cmd(req, &conn_of(req)->no_touch);
}

static void client_reply_cmd(resp_req *req)
{
    resp_conn *c = conn_of(req);
    conn_req *r = conn_req_of(req);
    bs_slice v = resp_req_arg(req, 2);
    if (resp_arg_is(v, "on")) {
        c->reply_mode = REPLY_ON;
        r->noreply = false; /* ON is answered even when replies were off */
        finish_ok(req);
    } else if (resp_arg_is(v, "off")) {
        c->reply_mode = REPLY_OFF;
        r->noreply = true;
        finish_ok(req);
    } else if (resp_arg_is(v, "skip")) {
        if (c->reply_mode != REPLY_OFF)
            c->reply_mode = REPLY_SKIP_NEXT;
        r->noreply = true;
        finish_ok(req);
    } else {
        finish_err(req, RESP_ERR_SYNTAX);
    }
}

static void client_help_cmd(resp_req *req)
{
    static const char *const lines[] = {
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "    * ID <client-id> [<client-id> ...]",
        "      Return clients of specified IDs only.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        NULL,
    };
    resp_reply_help(&req->o, "CLIENT", lines);
    resp_req_finish(req);
}

#define ADM (RESP_CMD_ADMIN | F_CONN)

static const resp_command client_subs[] = {
    {"getname", 2, F_CONN, 0, 0, 0, "connection", "Returns the name of the connection.", "2.6.9",
     client_getname_cmd, NULL},
    {"help", 2, RESP_CMD_LOADING | RESP_CMD_STALE, 0, 0, 0, "connection",
     "Returns helpful text about the different subcommands.", "5.0.0", client_help_cmd, NULL},
    {"id", 2, F_CONN, 0, 0, 0, "connection", "Returns the unique client ID of the connection.",
     "5.0.0", client_id_cmd, NULL},
    {"info", 2, F_CONN, 0, 0, 0, "connection", "Returns information about the connection.", "6.2.0",
     client_info_cmd, NULL},
    {"kill", -3, ADM, 0, 0, 0, "connection", "Terminates open connections.", "2.4.0",
     client_kill_cmd, NULL},
    {"list", -2, ADM, 0, 0, 0, "connection", "Lists open connections.", "2.4.0", client_list_cmd,
     NULL},
    {"no-evict", 3, ADM, 0, 0, 0, "connection", "Sets the client eviction mode of the connection.",
     "7.0.0", client_no_evict_cmd, NULL},
    {"no-touch", 3, F_CONN, 0, 0, 0, "connection",
     "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", "7.2.0",
     client_no_touch_cmd, NULL},
    {"reply", 3, F_CONN, 0, 0, 0, "connection",
     "Instructs the server whether to reply to "
     "commands.",
     "3.2.0", client_reply_cmd, NULL},
    {"setinfo", 4, F_CONN, 0, 0, 0, "connection",
     "Sets information specific to the client or "
     "connection.",
     "7.2.0", client_setinfo_cmd, NULL},
    {"setname", 3, F_CONN, 0, 0, 0, "connection", "Sets the connection name.", "2.6.9",
     client_setname_cmd, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

#define NOAUTH_FLAGS (F_CONN | RESP_CMD_FAST | RESP_CMD_NOAUTH)

const resp_command resp_cmds_conn[] = {
    {"auth", -2, NOAUTH_FLAGS, 0, 0, 0, "connection", "Authenticates the connection.", "1.0.0",
     auth_cmd, NULL},
    {"client", -2, 0, 0, 0, 0, "connection", "A container for client connection commands.", "2.4.0",
     NULL, client_subs},
    {"echo", 2, RESP_CMD_LOADING | RESP_CMD_STALE | RESP_CMD_FAST, 0, 0, 0, "connection",
     "Returns the given string.", "1.0.0", echo_cmd, NULL},
    {"hello", -1, NOAUTH_FLAGS, 0, 0, 0, "connection", "Handshakes with the Redis server.", "6.0.0",
     hello_cmd, NULL},
    {"ping", -1, RESP_CMD_FAST, 0, 0, 0, "connection",
     "Returns the server's liveliness "
     "response.",
     "1.0.0", ping_cmd, NULL},
    {"quit", -1, NOAUTH_FLAGS | RESP_CMD_MULTI_CTL, 0, 0, 0, "connection",
     "Closes the connection.", "1.0.0", quit_cmd, NULL},
    {"reset", 1, NOAUTH_FLAGS | RESP_CMD_MULTI_CTL | RESP_CMD_BARRIER, 0, 0, 0, "connection",
     "Resets the connection.", "6.2.0", reset_cmd, NULL},
    {"select", 2, RESP_CMD_LOADING | RESP_CMD_STALE | RESP_CMD_FAST, 0, 0, 0, "connection",
     "Changes the selected database.", "1.0.0", select_cmd, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
