/* config.c -- binds TOML documents and flag text to bs_config through the schema.
 *
 * Every value, from the file, a flag or a default, goes through one path: convert to a
 * candidate of the row's type (parse_toml / parse_text), check range and the row's own
 * check, then commit into the struct (freeing what it replaces). So a setting can never
 * hold a value the file could not have given it, and a failed set leaves the old value.
 * Error text names the key TiKV-style ("[raftstore] raft-entry-max-size: ..."); the
 * caller adds "file:line: " or nothing for flags. */
#include "common/config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/toml.h"

/* Largest config file read: far beyond any real one, small enough to refuse junk. */
#define CONFIG_FILE_MAX (4u << 20)

typedef struct candidate {
    char *s; /* owned until committed */
    bool b;
    int64_t i;
    double f;
    uint64_t u;
    int e;
    bs_config_strv sv; /* owned until committed */
    bs_config_enumv ev;
} candidate;

static void candidate_free(candidate *c)
{
    bs_free(c->s);
    for (size_t i = 0; i < c->sv.n; i++)
        bs_free(c->sv.v[i]);
    bs_free(c->sv.v);
    memset(c, 0, sizeof(*c));
}

static void *field_of(bs_config *cfg, const bs_config_item *it)
{
    return (char *)cfg + it->offset;
}

static const void *cfield_of(const bs_config *cfg, const bs_config_item *it)
{
    return (const char *)cfg + it->offset;
}

/* why: reason buffer of BS_ERR_MSG_MAX bytes. Returns BS_ECONFIG. */
static int reason(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reason(char *why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(why, BS_ERR_MSG_MAX, fmt, ap);
    va_end(ap);
    return BS_ECONFIG;
}

/* Quotes text for a message, cutting long values. */
static const char *quoted(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
        if (i + 1 < len && o + 8 >= cap) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

static const char *type_desc(bs_config_type t)
{
    switch (t) {
    case BS_CFG_STRING: return "a string";
    case BS_CFG_BOOL: return "true or false";
    case BS_CFG_INT: return "an integer";
    case BS_CFG_FLOAT: return "a number";
    case BS_CFG_SIZE: return "a size such as \"96MiB\" or a byte count";
    case BS_CFG_DURATION: return "a duration such as \"10s\"";
    case BS_CFG_ENUM: return "a string";
    case BS_CFG_STRINGS: return "an array of strings";
    case BS_CFG_ENUMS: return "an array of strings";
    }
    return "?";
}

static int enum_lookup(const bs_config_item *it, const char *name, int *out, char *why)
{
    for (const bs_config_enum_name *n = it->names; n->name; n++) {
        if (strcmp(n->name, name) == 0) {
            *out = n->value;
            return BS_OK;
        }
    }
    char q[64], list[160];
    size_t o = 0;
    list[0] = '\0';
    for (const bs_config_enum_name *n = it->names; n->name && o < sizeof(list); n++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", n->name);
    return reason(why, "invalid value %s (expected one of: %s)",
                  quoted(name, strlen(name), q, sizeof(q)), list);
}

static const char *enum_name(const bs_config_item *it, int value)
{
    for (const bs_config_enum_name *n = it->names; n->name; n++)
        if (n->value == value)
            return n->name;
    return "?";
}

/* Range and the row's own check on a converted candidate. */
static int check_candidate(const bs_config_item *it, const candidate *c, char *why)
{
    const void *field = NULL;
    switch (it->type) {
    case BS_CFG_INT:
        if (c->i < it->min || c->i > it->max)
            return reason(why, "%" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]", c->i,
                          it->min, it->max);
        field = &c->i;
        break;
    case BS_CFG_SIZE:
    case BS_CFG_DURATION:
        if (c->u < it->umin || c->u > it->umax) {
            bs_buf v = BS_BUF_INIT, lo = BS_BUF_INIT, hi = BS_BUF_INIT;
            void (*fmt)(uint64_t, bs_buf *) =
                it->type == BS_CFG_SIZE ? bs_config_format_size : bs_config_format_duration;
            fmt(c->u, &v);
            fmt(it->umin, &lo);
            fmt(it->umax, &hi);
            reason(why, "%.*s is out of range [%.*s, %.*s]", (int)v.len, (char *)v.ptr,
                   (int)lo.len, (char *)lo.ptr, (int)hi.len, (char *)hi.ptr);
            bs_buf_free(&v);
            bs_buf_free(&lo);
            bs_buf_free(&hi);
            return BS_ECONFIG;
        }
        field = &c->u;
        break;
    case BS_CFG_FLOAT:
        if (!isfinite(c->f))
            return reason(why, "must be a finite number");
        field = &c->f;
        break;
    case BS_CFG_STRING: field = &c->s; break;
    case BS_CFG_BOOL: field = &c->b; break;
    case BS_CFG_ENUM: field = &c->e; break;
    case BS_CFG_STRINGS: field = &c->sv; break;
    case BS_CFG_ENUMS:
        if (c->ev.n == 0)
            return reason(why, "needs at least one entry");
        field = &c->ev;
        break;
    }
    if (it->check) {
        const char *r = it->check(field);
        if (r)
            return reason(why, "%s", r);
    }
    return BS_OK;
}

/* Moves the candidate into the struct; the candidate is left empty. */
static void commit(bs_config *cfg, const bs_config_item *it, candidate *c)
{
    void *f = field_of(cfg, it);
    switch (it->type) {
    case BS_CFG_STRING:
        bs_free(*(char **)f);
        *(char **)f = c->s;
        c->s = NULL;
        break;
    case BS_CFG_BOOL: *(bool *)f = c->b; break;
    case BS_CFG_INT: *(int64_t *)f = c->i; break;
    case BS_CFG_FLOAT: *(double *)f = c->f; break;
    case BS_CFG_SIZE:
    case BS_CFG_DURATION: *(uint64_t *)f = c->u; break;
    case BS_CFG_ENUM: *(int *)f = c->e; break;
    case BS_CFG_STRINGS: {
        bs_config_strv *sv = f;
        for (size_t i = 0; i < sv->n; i++)
            bs_free(sv->v[i]);
        bs_free(sv->v);
        *sv = c->sv;
        c->sv.v = NULL;
        c->sv.n = 0;
        break;
    }
    case BS_CFG_ENUMS: *(bs_config_enumv *)f = c->ev; break;
    }
}

static int string_item(const bs_toml_value *v, char **out, char *why)
{
    if (v->type != BS_TOML_STRING)
        return reason(why, "expected a string, found %s", bs_toml_type_name(v->type));
    if (strlen(v->u.str.ptr) != v->u.str.len)
        return reason(why, "string contains a NUL character");
    *out = bs_strdup(v->u.str.ptr);
    return BS_OK;
}

/* TOML value -> candidate (no range checks yet). */
static int parse_toml(const bs_config_item *it, const bs_toml_value *v, candidate *c,
                      char *why)
{
    char q[96];
    switch (it->type) {
    case BS_CFG_STRING:
        return string_item(v, &c->s, why);
    case BS_CFG_BOOL:
        if (v->type != BS_TOML_BOOL)
            break;
        c->b = v->u.b;
        return BS_OK;
    case BS_CFG_INT:
        if (v->type != BS_TOML_INTEGER)
            break;
        c->i = v->u.i;
        return BS_OK;
    case BS_CFG_FLOAT:
        if (v->type == BS_TOML_INTEGER)
            c->f = (double)v->u.i;
        else if (v->type == BS_TOML_FLOAT)
            c->f = v->u.f;
        else
            break;
        return BS_OK;
    case BS_CFG_SIZE:
        if (v->type == BS_TOML_INTEGER) {
            if (v->u.i < 0)
                return reason(why, "invalid size %" PRId64 " (negative)", v->u.i);
            c->u = (uint64_t)v->u.i;
            return BS_OK;
        }
        if (v->type != BS_TOML_STRING)
            break;
        if (strlen(v->u.str.ptr) != v->u.str.len ||
            bs_config_parse_size(v->u.str.ptr, &c->u) != BS_OK)
            return reason(why, "invalid size %s", quoted(v->u.str.ptr, v->u.str.len, q, sizeof q));
        return BS_OK;
    case BS_CFG_DURATION:
        if (v->type != BS_TOML_STRING)
            break;
        if (strlen(v->u.str.ptr) != v->u.str.len ||
            bs_config_parse_duration(v->u.str.ptr, &c->u) != BS_OK)
            return reason(why, "invalid duration %s",
                          quoted(v->u.str.ptr, v->u.str.len, q, sizeof q));
        return BS_OK;
    case BS_CFG_ENUM:
        if (v->type != BS_TOML_STRING)
            break;
        if (strlen(v->u.str.ptr) != v->u.str.len)
            return reason(why, "string contains a NUL character");
        return enum_lookup(it, v->u.str.ptr, &c->e, why);
    case BS_CFG_STRINGS:
        if (v->type != BS_TOML_ARRAY)
            break;
        if (v->u.arr.len)
            c->sv.v = bs_calloc(v->u.arr.len, sizeof(char *));
        for (size_t i = 0; i < v->u.arr.len; i++) {
            int rc = string_item(&v->u.arr.items[i], &c->sv.v[i], why);
            if (rc)
                return rc;
            c->sv.n++;
        }
        return BS_OK;
    case BS_CFG_ENUMS:
        if (v->type != BS_TOML_ARRAY)
            break;
        if (v->u.arr.len > BS_CONFIG_MAX_LEVELS)
            return reason(why, "at most %d entries, found %zu", BS_CONFIG_MAX_LEVELS,
                          v->u.arr.len);
        for (size_t i = 0; i < v->u.arr.len; i++) {
            const bs_toml_value *e = &v->u.arr.items[i];
            if (e->type != BS_TOML_STRING)
                return reason(why, "expected an array of strings, found a %s in it",
                              bs_toml_type_name(e->type));
            if (strlen(e->u.str.ptr) != e->u.str.len)
                return reason(why, "string contains a NUL character");
            int rc = enum_lookup(it, e->u.str.ptr, &c->ev.v[i], why);
            if (rc)
                return rc;
            c->ev.n++;
        }
        return BS_OK;
    }
    return reason(why, "expected %s, found %s", type_desc(it->type), bs_toml_type_name(v->type));
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Flag text -> candidate. Scalars other than strings reuse the TOML value syntax. */
static int parse_text(const bs_config_item *it, const char *text, candidate *c, char *why)
{
    char q[96];
    bs_toml_value v;
    bs_err e;
    int rc;
    switch (it->type) {
    case BS_CFG_STRING:
        c->s = bs_strdup(text);
        return BS_OK;
    case BS_CFG_SIZE:
        if (bs_config_parse_size(text, &c->u) != BS_OK)
            return reason(why, "invalid size %s", quoted(text, strlen(text), q, sizeof q));
        return BS_OK;
    case BS_CFG_DURATION:
        if (bs_config_parse_duration(text, &c->u) != BS_OK)
            return reason(why, "invalid duration %s", quoted(text, strlen(text), q, sizeof q));
        return BS_OK;
    case BS_CFG_ENUM:
        return enum_lookup(it, text, &c->e, why);
    case BS_CFG_BOOL:
    case BS_CFG_INT:
    case BS_CFG_FLOAT:
        rc = bs_toml_parse_value(text, strlen(text), &v, &e);
        if (rc == BS_OK && v.type == BS_TOML_ARRAY) {
            bs_toml_value_free(&v);
            rc = BS_ECONFIG;
        }
        if (rc != BS_OK)
            return reason(why, "expected %s, found %s", type_desc(it->type),
                          quoted(text, strlen(text), q, sizeof q));
        rc = parse_toml(it, &v, c, why);
        bs_toml_value_free(&v);
        return rc;
    case BS_CFG_STRINGS:
    case BS_CFG_ENUMS: {
        const char *p = text;
        while (is_blank(*p))
            p++;
        if (!*p)
            return BS_OK; /* empty list */
        for (;;) {
            const char *start = p, *comma = strchr(p, ',');
            const char *stop = comma ? comma : p + strlen(p);
            while (start < stop && is_blank(*start))
                start++;
            const char *end = stop;
            while (end > start && is_blank(end[-1]))
                end--;
            if (end == start)
                return reason(why, "empty entry in list %s",
                              quoted(text, strlen(text), q, sizeof q));
            char *item = bs_malloc((size_t)(end - start) + 1);
            memcpy(item, start, (size_t)(end - start));
            item[end - start] = '\0';
            if (it->type == BS_CFG_STRINGS) {
                c->sv.v = bs_realloc(c->sv.v, (c->sv.n + 1) * sizeof(char *));
                c->sv.v[c->sv.n++] = item;
            } else {
                if (c->ev.n == BS_CONFIG_MAX_LEVELS) {
                    bs_free(item);
                    return reason(why, "at most %d entries", BS_CONFIG_MAX_LEVELS);
                }
                rc = enum_lookup(it, item, &c->ev.v[c->ev.n], why);
                bs_free(item);
                if (rc)
                    return rc;
                c->ev.n++;
            }
            if (!comma)
                return BS_OK;
            p = comma + 1;
        }
    }
    }
    return reason(why, "unsupported type");
}

/* "[table] key" or "key" for messages. */
static void describe_path(const char *path, char *out, size_t cap)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        snprintf(out, cap, "%s", path);
    else
        snprintf(out, cap, "[%.*s] %s", (int)(dot - path), path, dot + 1);
}

static bool is_section(const char *path)
{
    size_t n, len = strlen(path);
    const bs_config_item *items = bs_config_items(&n);
    for (size_t i = 0; i < n; i++)
        if (strncmp(items[i].path, path, len) == 0 && items[i].path[len] == '.')
            return true;
    return false;
}

/* ---- public API ------------------------------------------------------------------ */

void bs_config_defaults(bs_config *cfg)
{
    size_t n;
    const bs_config_item *items = bs_config_items(&n);
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < n; i++) {
        bs_toml_value v;
        candidate c;
        char why[BS_ERR_MSG_MAX];
        memset(&c, 0, sizeof(c));
        int rc = bs_toml_parse_value(items[i].def, strlen(items[i].def), &v, NULL);
        BS_ASSERT(rc == BS_OK); /* a default that does not parse is a bug in the schema */
        rc = parse_toml(&items[i], &v, &c, why);
        if (rc == BS_OK)
            rc = check_candidate(&items[i], &c, why);
        BS_ASSERT(rc == BS_OK);
        commit(cfg, &items[i], &c);
        candidate_free(&c);
        bs_toml_value_free(&v);
    }
}

void bs_config_free(bs_config *cfg)
{
    if (!cfg)
        return;
    size_t n;
    const bs_config_item *items = bs_config_items(&n);
    for (size_t i = 0; i < n; i++) {
        void *f = field_of(cfg, &items[i]);
        if (items[i].type == BS_CFG_STRING) {
            bs_free(*(char **)f);
        } else if (items[i].type == BS_CFG_STRINGS) {
            bs_config_strv *sv = f;
            for (size_t j = 0; j < sv->n; j++)
                bs_free(sv->v[j]);
            bs_free(sv->v);
        }
    }
    memset(cfg, 0, sizeof(*cfg));
}

int bs_config_set(bs_config *cfg, const char *path, const char *text, bs_err *err)
{
    const bs_config_item *it = bs_config_find(path);
    if (!it)
        return bs_err_setf(err, BS_ECONFIG, "%s: unknown configuration key", path);
    candidate c;
    char why[BS_ERR_MSG_MAX];
    memset(&c, 0, sizeof(c));
    int rc = parse_text(it, text, &c, why);
    if (rc == BS_OK)
        rc = check_candidate(it, &c, why);
    if (rc == BS_OK)
        commit(cfg, it, &c);
    else
        bs_err_setf(err, BS_ECONFIG, "%s: %s", path, why);
    candidate_free(&c);
    return rc;
}

int bs_config_load_buffer(bs_config *cfg, const char *name, const void *bytes, size_t len,
                          bs_err *err)
{
    bs_toml_doc doc;
    int rc = bs_toml_parse(name, bytes, len, &doc, err);
    if (rc)
        return rc;
    char where[160];
    for (size_t i = 0; i < doc.ntables && rc == BS_OK; i++) {
        if (!bs_config_find(doc.tables[i].path) && !is_section(doc.tables[i].path))
            rc = bs_err_setf(err, BS_ECONFIG, "%s:%d: unknown section [%s]", name,
                             doc.tables[i].line, doc.tables[i].path);
        else if (bs_config_find(doc.tables[i].path))
            rc = bs_err_setf(err, BS_ECONFIG, "%s:%d: [%s]: %s is a key, not a section", name,
                             doc.tables[i].line, doc.tables[i].path, doc.tables[i].path);
    }
    for (size_t i = 0; i < doc.nkvs && rc == BS_OK; i++) {
        const bs_toml_kv *kv = &doc.kvs[i];
        describe_path(kv->path, where, sizeof(where));
        const bs_config_item *it = bs_config_find(kv->path);
        if (!it) {
            rc = bs_err_setf(err, BS_ECONFIG, "%s:%d: %s: %s", name, kv->line, where,
                             is_section(kv->path) ? "is a section, not a key"
                                                  : "unknown configuration key");
            break;
        }
        candidate c;
        char why[BS_ERR_MSG_MAX];
        memset(&c, 0, sizeof(c));
        rc = parse_toml(it, &kv->value, &c, why);
        if (rc == BS_OK)
            rc = check_candidate(it, &c, why);
        if (rc == BS_OK)
            commit(cfg, it, &c);
        else
            bs_err_setf(err, BS_ECONFIG, "%s:%d: %s: %s", name, kv->line, where, why);
        candidate_free(&c);
    }
    bs_toml_doc_free(&doc);
    if (rc == BS_OK && (rc = bs_config_validate(cfg, err)) != BS_OK)
        bs_err_wrapf(err, "%s", name);
    return rc;
}

int bs_config_load(bs_config *cfg, const char *path, bs_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return bs_err_setf(err, BS_EIO, "%s: cannot open: %s", path, strerror(errno));
    bs_buf b = BS_BUF_INIT;
    char chunk[8192];
    size_t n;
    int rc = BS_OK;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > CONFIG_FILE_MAX) {
            rc = bs_err_setf(err, BS_ECONFIG, "%s: larger than %u bytes", path,
                             CONFIG_FILE_MAX);
            break;
        }
        bs_buf_append(&b, chunk, n);
    }
    if (rc == BS_OK && ferror(f))
        rc = bs_err_setf(err, BS_EIO, "%s: read error", path);
    (void)fclose(f); /* read-only stream: nothing to lose on close */
    if (rc == BS_OK)
        rc = bs_config_load_buffer(cfg, path, b.ptr ? (const void *)b.ptr : "", b.len, err);
    bs_buf_free(&b);
    return rc;
}

int bs_config_validate(const bs_config *cfg, bs_err *err)
{
    if (cfg->coprocessor.region_max_size < cfg->coprocessor.region_split_size)
        return bs_err_setf(err, BS_ECONFIG,
                           "[coprocessor] region-max-size must be >= region-split-size");
    if (cfg->raftstore.raft_election_timeout_ticks <= cfg->raftstore.raft_heartbeat_ticks)
        return bs_err_setf(err, BS_ECONFIG, "[raftstore] raft-election-timeout-ticks must be "
                                            "> raft-heartbeat-ticks");
    if (cfg->raftstore.raft_entry_max_size < cfg->redis.proto_max_bulk_len)
        return bs_err_setf(err, BS_ECONFIG,
                           "[raftstore] raft-entry-max-size must be >= [redis] "
                           "proto-max-bulk-len, so any value fits in one raft entry");
    return BS_OK;
}

/* ---- rendering ------------------------------------------------------------------- */

static void append_str(bs_buf *out, const char *s)
{
    bs_buf_append(out, s, strlen(s));
}

static void append_double(bs_buf *out, double d, bool toml)
{
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    append_str(out, tmp);
    if (toml && !strpbrk(tmp, ".eEn")) /* TOML floats need a fraction or exponent */
        append_str(out, ".0");
}

static void append_toml_string(bs_buf *out, const char *s)
{
    bs_buf_append_byte(out, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            bs_buf_append_byte(out, '\\');
            bs_buf_append_byte(out, c);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            append_str(out, esc);
        } else {
            bs_buf_append_byte(out, c);
        }
    }
    bs_buf_append_byte(out, '"');
}

/* toml: TOML value syntax (for dump) or flag text (for get). */
static void render(const bs_config *cfg, const bs_config_item *it, bool toml, bs_buf *out)
{
    const void *f = cfield_of(cfg, it);
    char tmp[48];
    bs_buf t = BS_BUF_INIT;
    switch (it->type) {
    case BS_CFG_STRING:
        if (toml)
            append_toml_string(out, *(char *const *)f);
        else
            append_str(out, *(char *const *)f);
        break;
    case BS_CFG_BOOL: append_str(out, *(const bool *)f ? "true" : "false"); break;
    case BS_CFG_INT:
        snprintf(tmp, sizeof(tmp), "%" PRId64, *(const int64_t *)f);
        append_str(out, tmp);
        break;
    case BS_CFG_FLOAT: append_double(out, *(const double *)f, toml); break;
    case BS_CFG_SIZE:
    case BS_CFG_DURATION:
        if (it->type == BS_CFG_SIZE)
            bs_config_format_size(*(const uint64_t *)f, &t);
        else
            bs_config_format_duration(*(const uint64_t *)f, &t);
        bs_buf_append_byte(&t, '\0');
        /* A size without a unit is a plain byte count; TiKV writes it as an integer. */
        if (toml && (it->type == BS_CFG_DURATION || strpbrk((char *)t.ptr, "KMGTPiB")))
            append_toml_string(out, (char *)t.ptr);
        else
            append_str(out, (char *)t.ptr);
        bs_buf_free(&t);
        break;
    case BS_CFG_ENUM: {
        const char *name = enum_name(it, *(const int *)f);
        if (toml)
            append_toml_string(out, name);
        else
            append_str(out, name);
        break;
    }
    case BS_CFG_STRINGS:
    case BS_CFG_ENUMS: {
        size_t n = it->type == BS_CFG_STRINGS ? ((const bs_config_strv *)f)->n
                                              : ((const bs_config_enumv *)f)->n;
        if (toml)
            bs_buf_append_byte(out, '[');
        for (size_t i = 0; i < n; i++) {
            const char *s = it->type == BS_CFG_STRINGS
                                ? ((const bs_config_strv *)f)->v[i]
                                : enum_name(it, ((const bs_config_enumv *)f)->v[i]);
            if (i)
                append_str(out, ", ");
            if (toml)
                append_toml_string(out, s);
            else
                append_str(out, s);
        }
        if (toml)
            bs_buf_append_byte(out, ']');
        break;
    }
    }
}

int bs_config_get(const bs_config *cfg, const char *path, bs_buf *out, bs_err *err)
{
    const bs_config_item *it = bs_config_find(path);
    if (!it)
        return bs_err_setf(err, BS_EINVAL, "%s: unknown configuration key", path);
    render(cfg, it, false, out);
    return BS_OK;
}

int bs_config_dump(const bs_config *cfg, FILE *out, bs_err *err)
{
    size_t n;
    const bs_config_item *items = bs_config_items(&n);
    bs_buf b = BS_BUF_INIT;
    const char *table = "";
    size_t table_len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *dot = strrchr(items[i].path, '.');
        const char *key = dot ? dot + 1 : items[i].path;
        size_t tlen = dot ? (size_t)(dot - items[i].path) : 0;
        if (tlen != table_len || strncmp(table, items[i].path, tlen) != 0) {
            table = items[i].path;
            table_len = tlen;
            if (b.len)
                bs_buf_append_byte(&b, '\n');
            bs_buf_append_byte(&b, '[');
            bs_buf_append(&b, table, tlen);
            append_str(&b, "]\n");
        }
        append_str(&b, "# ");
        append_str(&b, items[i].help);
        bs_buf_append_byte(&b, '\n');
        append_str(&b, key);
        append_str(&b, " = ");
        render(cfg, &items[i], true, &b);
        bs_buf_append_byte(&b, '\n');
    }
    int rc = BS_OK;
    if (b.len && fwrite(b.ptr, 1, b.len, out) != b.len)
        rc = bs_err_setf(err, BS_EIO, "write config: %s", strerror(errno));
    else if (fflush(out) != 0)
        rc = bs_err_setf(err, BS_EIO, "write config: %s", strerror(errno));
    bs_buf_free(&b);
    return rc;
}
