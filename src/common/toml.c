/* toml.c -- the strict TOML-subset parser (see toml.h for the accepted language).
 *
 * A single forward pass over the text with a cursor that counts lines. Every table and
 * key path seen so far sits in a small open-addressing hash with its kind (value,
 * implicitly created table, explicitly defined table), which is what the duplicate rules
 * need and keeps hostile inputs with many keys linear. */
#include "common/toml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/buf.h"

enum { KIND_VALUE = 1, KIND_TABLE_IMPLICIT, KIND_TABLE_EXPLICIT };

typedef struct path_slot {
    char *path; /* owned; NULL when the slot is free */
    int kind;
} path_slot;

typedef struct parser {
    const char *name; /* for messages; NULL when parsing a lone value */
    const char *p, *end;
    int line;
    bs_err *err;
    char *table; /* current table path, "" at top level; owned */
    path_slot *slots;
    size_t nslots, used;
    bs_toml_doc *doc;
} parser;

const char *bs_toml_type_name(bs_toml_type t)
{
    switch (t) {
    case BS_TOML_STRING: return "string";
    case BS_TOML_INTEGER: return "integer";
    case BS_TOML_FLOAT: return "float";
    case BS_TOML_BOOL: return "boolean";
    case BS_TOML_ARRAY: return "array";
    }
    return "?";
}

static int perr(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(parser *ps, const char *fmt, ...)
{
    char what[BS_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (ps->name)
        return bs_err_setf(ps->err, BS_ECONFIG, "%s:%d: %s", ps->name, ps->line, what);
    return bs_err_setf(ps->err, BS_ECONFIG, "%s", what);
}

/* ---- path index ------------------------------------------------------------------ */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static path_slot *slot_find(parser *ps, const char *path)
{
    if (ps->nslots == 0)
        return NULL;
    size_t i = hash_str(path) & (ps->nslots - 1);
    while (ps->slots[i].path) {
        if (strcmp(ps->slots[i].path, path) == 0)
            return &ps->slots[i];
        i = (i + 1) & (ps->nslots - 1);
    }
    return NULL;
}

static void slot_insert(parser *ps, const char *path, int kind)
{
    if ((ps->used + 1) * 2 > ps->nslots) {
        size_t n = ps->nslots ? ps->nslots * 2 : 64;
        path_slot *old = ps->slots;
        size_t oldn = ps->nslots;
        ps->slots = bs_calloc(n, sizeof(path_slot));
        ps->nslots = n;
        for (size_t j = 0; j < oldn; j++) {
            if (!old[j].path)
                continue;
            size_t i = hash_str(old[j].path) & (n - 1);
            while (ps->slots[i].path)
                i = (i + 1) & (n - 1);
            ps->slots[i] = old[j];
        }
        bs_free(old);
    }
    size_t i = hash_str(path) & (ps->nslots - 1);
    while (ps->slots[i].path)
        i = (i + 1) & (ps->nslots - 1);
    ps->slots[i].path = bs_strdup(path);
    ps->slots[i].kind = kind;
    ps->used++;
}

/* ---- values ---------------------------------------------------------------------- */

void bs_toml_value_free(bs_toml_value *v)
{
    if (!v)
        return;
    if (v->type == BS_TOML_STRING) {
        bs_free(v->u.str.ptr);
    } else if (v->type == BS_TOML_ARRAY) {
        for (size_t i = 0; i < v->u.arr.len; i++)
            bs_toml_value_free(&v->u.arr.items[i]);
        bs_free(v->u.arr.items);
    }
    memset(v, 0, sizeof(*v));
}

void bs_toml_doc_free(bs_toml_doc *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->nkvs; i++) {
        bs_free(doc->kvs[i].table);
        bs_free(doc->kvs[i].key);
        bs_free(doc->kvs[i].path);
        bs_toml_value_free(&doc->kvs[i].value);
    }
    for (size_t i = 0; i < doc->ntables; i++)
        bs_free(doc->tables[i].path);
    bs_free(doc->kvs);
    bs_free(doc->tables);
    memset(doc, 0, sizeof(*doc));
}

/* ---- lexing helpers -------------------------------------------------------------- */

static bool at_end(const parser *ps)
{
    return ps->p >= ps->end;
}

static int peek(const parser *ps)
{
    return at_end(ps) ? -1 : (unsigned char)*ps->p;
}

static void skip_blanks(parser *ps)
{
    while (!at_end(ps) && (*ps->p == ' ' || *ps->p == '\t'))
        ps->p++;
}

static bool is_bare_key_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static bool is_control(int c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* A '#' comment up to (not including) the line end. */
static int skip_comment(parser *ps)
{
    if (peek(ps) != '#')
        return BS_OK;
    while (!at_end(ps) && *ps->p != '\n' && *ps->p != '\r') {
        if (is_control((unsigned char)*ps->p))
            return perr(ps, "control character 0x%02x in comment", (unsigned char)*ps->p);
        ps->p++;
    }
    return BS_OK;
}

/* Consumes LF or CRLF. Returns 1 when a line end was consumed, 0 when there is none, or
 * -1 after reporting a lone CR. */
static int take_newline(parser *ps)
{
    if (peek(ps) == '\n') {
        ps->p++;
        ps->line++;
        return 1;
    }
    if (peek(ps) == '\r') {
        if (ps->p + 1 < ps->end && ps->p[1] == '\n') {
            ps->p += 2;
            ps->line++;
            return 1;
        }
        perr(ps, "carriage return not followed by a line feed");
        return -1;
    }
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void put_utf8(bs_buf *b, uint32_t cp)
{
    if (cp < 0x80) {
        bs_buf_append_byte(b, (uint8_t)cp);
    } else if (cp < 0x800) {
        bs_buf_append_byte(b, (uint8_t)(0xc0 | (cp >> 6)));
        bs_buf_append_byte(b, (uint8_t)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        bs_buf_append_byte(b, (uint8_t)(0xe0 | (cp >> 12)));
        bs_buf_append_byte(b, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
        bs_buf_append_byte(b, (uint8_t)(0x80 | (cp & 0x3f)));
    } else {
        bs_buf_append_byte(b, (uint8_t)(0xf0 | (cp >> 18)));
        bs_buf_append_byte(b, (uint8_t)(0x80 | ((cp >> 12) & 0x3f)));
        bs_buf_append_byte(b, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
        bs_buf_append_byte(b, (uint8_t)(0x80 | (cp & 0x3f)));
    }
}

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 when it is not valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* ---- strings --------------------------------------------------------------------- */

/* After the opening '"'. On BS_OK out holds the decoded bytes (NUL-terminated). */
static int parse_basic_string(parser *ps, bs_buf *out)
{
    for (;;) {
        if (at_end(ps) || *ps->p == '\n' || *ps->p == '\r')
            return perr(ps, "unterminated string");
        unsigned char c = (unsigned char)*ps->p++;
        if (c == '"')
            break;
        if (is_control(c))
            return perr(ps, "control character 0x%02x in string", c);
        if (c != '\\') {
            bs_buf_append_byte(out, c);
            continue;
        }
        int e = peek(ps);
        if (e < 0)
            return perr(ps, "unterminated string");
        ps->p++;
        switch (e) {
        case 'b': bs_buf_append_byte(out, '\b'); break;
        case 't': bs_buf_append_byte(out, '\t'); break;
        case 'n': bs_buf_append_byte(out, '\n'); break;
        case 'f': bs_buf_append_byte(out, '\f'); break;
        case 'r': bs_buf_append_byte(out, '\r'); break;
        case '"': bs_buf_append_byte(out, '"'); break;
        case '\\': bs_buf_append_byte(out, '\\'); break;
        case 'u':
        case 'U': {
            int digits = e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int i = 0; i < digits; i++) {
                int h = at_end(ps) ? -1 : hexval((unsigned char)*ps->p);
                if (h < 0)
                    return perr(ps, "\\%c escape needs %d hex digits", e, digits);
                cp = (cp << 4) | (uint32_t)h;
                ps->p++;
            }
            if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return perr(ps, "\\%c%0*X is not a Unicode scalar value", e, digits, cp);
            put_utf8(out, cp);
            break;
        }
        default:
            if (e >= 0x20 && e < 0x7f)
                return perr(ps, "invalid escape \\%c in string", e);
            return perr(ps, "invalid escape in string");
        }
    }
    bs_buf_append_byte(out, '\0');
    out->len--;
    return BS_OK;
}

/* After the opening '\''. */
static int parse_literal_string(parser *ps, bs_buf *out)
{
    for (;;) {
        if (at_end(ps) || *ps->p == '\n' || *ps->p == '\r')
            return perr(ps, "unterminated string");
        unsigned char c = (unsigned char)*ps->p++;
        if (c == '\'')
            break;
        if (is_control(c))
            return perr(ps, "control character 0x%02x in string", c);
        bs_buf_append_byte(out, c);
    }
    bs_buf_append_byte(out, '\0');
    out->len--;
    return BS_OK;
}

static bool starts_with3(const parser *ps, char q)
{
    return ps->end - ps->p >= 3 && ps->p[0] == q && ps->p[1] == q && ps->p[2] == q;
}

/* ---- keys ------------------------------------------------------------------------ */

/* One key segment: bare, "quoted" or 'literal'. On BS_OK *out is owned by the caller. */
static int parse_key_part(parser *ps, char **out)
{
    int c = peek(ps);
    bs_buf b = BS_BUF_INIT;
    int rc;
    if (c == '"' || c == '\'') {
        if (starts_with3(ps, (char)c))
            return perr(ps, "multi-line strings are not supported as keys");
        ps->p++;
        rc = c == '"' ? parse_basic_string(ps, &b) : parse_literal_string(ps, &b);
        if (rc) {
            bs_buf_free(&b);
            return rc;
        }
        if (b.len == 0) {
            bs_buf_free(&b);
            return perr(ps, "empty quoted key");
        }
        for (size_t i = 0; i < b.len; i++) {
            if (b.ptr[i] == '.' || b.ptr[i] < 0x20 || b.ptr[i] == 0x7f) {
                bs_buf_free(&b);
                return perr(ps, "quoted key may not contain '.' or control characters");
            }
        }
    } else {
        while (!at_end(ps) && is_bare_key_char((unsigned char)*ps->p))
            bs_buf_append_byte(&b, (uint8_t)*ps->p++);
        if (b.len == 0) {
            bs_buf_free(&b);
            if (c < 0)
                return perr(ps, "expected a key");
            if (c >= 0x20 && c < 0x7f)
                return perr(ps, "expected a key, found '%c'", c);
            return perr(ps, "expected a key, found byte 0x%02x", c);
        }
        bs_buf_append_byte(&b, '\0');
    }
    *out = (char *)bs_buf_detach(&b, NULL);
    return BS_OK;
}

static char *join_path(const char *table, const char *key)
{
    if (!*table)
        return bs_strdup(key);
    size_t a = strlen(table), k = strlen(key);
    char *p = bs_malloc(a + 1 + k + 1);
    memcpy(p, table, a);
    p[a] = '.';
    memcpy(p + a + 1, key, k + 1);
    return p;
}

/* ---- numbers and other bare values ----------------------------------------------- */

static bool is_value_end(int c)
{
    return c < 0 || c == ' ' || c == '\t' || c == ',' || c == ']' || c == '#' || c == '\n' ||
           c == '\r';
}

/* digits with single '_' between digits: [0-9](_?[0-9])*. Advances *s; false if none. */
static bool scan_digits(const char **s, const char *end)
{
    const char *p = *s;
    if (p >= end || *p < '0' || *p > '9')
        return false;
    p++;
    while (p < end) {
        if (*p >= '0' && *p <= '9') {
            p++;
        } else if (*p == '_' && p + 1 < end && p[1] >= '0' && p[1] <= '9') {
            p += 2;
        } else {
            break;
        }
    }
    *s = p;
    return true;
}

/* tok[0..n) is the whole token (no delimiters inside). */
static int parse_number(parser *ps, const char *tok, size_t n, bs_toml_value *out)
{
    const char *s = tok, *end = tok + n;
    char buf[128];
    bool is_float = false;

    if (s < end && (*s == '+' || *s == '-'))
        s++;
    if ((size_t)(end - s) == 3 && (memcmp(s, "inf", 3) == 0 || memcmp(s, "nan", 3) == 0)) {
        out->type = BS_TOML_FLOAT;
        out->u.f = s[0] == 'i' ? INFINITY : NAN;
        if (tok[0] == '-')
            out->u.f = -out->u.f;
        return BS_OK;
    }
    const char *int_start = s;
    if (!scan_digits(&s, end))
        goto bad;
    if (*int_start == '0' && s - int_start > 1)
        return perr(ps, "leading zeros are not allowed in %.*s", (int)n, tok);
    if (s < end && *s == '.') {
        s++;
        if (!scan_digits(&s, end))
            goto bad;
        is_float = true;
    }
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < end && (*s == '+' || *s == '-'))
            s++;
        if (!scan_digits(&s, end))
            goto bad;
        is_float = true;
    }
    if (s != end)
        goto bad;
    if (n >= sizeof(buf))
        return perr(ps, "number %.*s... is too long", 32, tok);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (tok[i] != '_')
            buf[k++] = tok[i];
    buf[k] = '\0';
    errno = 0;
    char *stop;
    if (is_float) {
        double f = strtod(buf, &stop);
        if (*stop != '\0' || isinf(f))
            return perr(ps, "float %s is out of range", buf);
        out->type = BS_TOML_FLOAT;
        out->u.f = f;
    } else {
        long long v = strtoll(buf, &stop, 10);
        if (*stop != '\0' || errno == ERANGE)
            return perr(ps, "integer %s is out of range", buf);
        out->type = BS_TOML_INTEGER;
        out->u.i = (int64_t)v;
    }
    return BS_OK;
bad:
    if (n > 40)
        return perr(ps, "invalid value %.*s...", 40, tok);
    return perr(ps, "invalid value %.*s", (int)n, tok);
}

static int parse_value(parser *ps, bs_toml_value *out, bool allow_array);

static int skip_array_filler(parser *ps)
{
    for (;;) {
        skip_blanks(ps);
        if (peek(ps) == '#') {
            int rc = skip_comment(ps);
            if (rc)
                return rc;
        }
        int nl = take_newline(ps);
        if (nl < 0)
            return BS_ECONFIG;
        if (nl == 0)
            return BS_OK;
    }
}

/* After the opening '['. */
static int parse_array(parser *ps, bs_toml_value *out)
{
    size_t cap = 0;
    out->type = BS_TOML_ARRAY;
    out->u.arr.items = NULL;
    out->u.arr.len = 0;
    for (;;) {
        int rc = skip_array_filler(ps);
        if (rc)
            return rc;
        if (peek(ps) == ']') {
            ps->p++;
            return BS_OK;
        }
        if (at_end(ps))
            return perr(ps, "unterminated array");
        if (out->u.arr.len == cap) {
            cap = cap ? cap * 2 : 4;
            out->u.arr.items = bs_realloc(out->u.arr.items, cap * sizeof(bs_toml_value));
        }
        bs_toml_value *item = &out->u.arr.items[out->u.arr.len];
        memset(item, 0, sizeof(*item));
        rc = parse_value(ps, item, false);
        if (rc)
            return rc;
        out->u.arr.len++;
        rc = skip_array_filler(ps);
        if (rc)
            return rc;
        if (peek(ps) == ',') {
            ps->p++;
            continue;
        }
        if (peek(ps) == ']') {
            ps->p++;
            return BS_OK;
        }
        if (at_end(ps))
            return perr(ps, "unterminated array");
        return perr(ps, "expected ',' or ']' in array");
    }
}

/* On error *out may hold a partial value; the caller frees it with bs_toml_value_free. */
static int parse_value(parser *ps, bs_toml_value *out, bool allow_array)
{
    int c = peek(ps);
    if (c < 0 || c == '\n' || c == '\r' || c == '#')
        return perr(ps, "expected a value");
    if (c == '"' || c == '\'') {
        if (starts_with3(ps, (char)c))
            return perr(ps, "multi-line strings are not supported");
        ps->p++;
        bs_buf b = BS_BUF_INIT;
        int rc = c == '"' ? parse_basic_string(ps, &b) : parse_literal_string(ps, &b);
        if (rc) {
            bs_buf_free(&b);
            return rc;
        }
        out->type = BS_TOML_STRING;
        out->u.str.len = b.len;
        out->u.str.ptr = (char *)bs_buf_detach(&b, NULL);
        return BS_OK;
    }
    if (c == '[') {
        if (!allow_array)
            return perr(ps, "nested arrays are not supported");
        ps->p++;
        return parse_array(ps, out);
    }
    if (c == '{')
        return perr(ps, "inline tables are not supported");

    const char *tok = ps->p;
    while (!at_end(ps) && !is_value_end((unsigned char)*ps->p))
        ps->p++;
    size_t n = (size_t)(ps->p - tok);
    if (n == 4 && memcmp(tok, "true", 4) == 0) {
        out->type = BS_TOML_BOOL;
        out->u.b = true;
        return BS_OK;
    }
    if (n == 5 && memcmp(tok, "false", 5) == 0) {
        out->type = BS_TOML_BOOL;
        out->u.b = false;
        return BS_OK;
    }
    if (n == 0)
        return perr(ps, "expected a value");
    return parse_number(ps, tok, n, out);
}

/* ---- document -------------------------------------------------------------------- */

static int parse_table_header(parser *ps)
{
    int line = ps->line;
    ps->p++; /* '[' */
    if (peek(ps) == '[')
        return perr(ps, "arrays of tables ([[...]]) are not supported");
    bs_buf path = BS_BUF_INIT;
    int rc = BS_OK;
    for (;;) {
        skip_blanks(ps);
        char *part = NULL;
        rc = parse_key_part(ps, &part);
        if (rc)
            break;
        if (path.len)
            bs_buf_append_byte(&path, '.');
        bs_buf_append(&path, part, strlen(part));
        bs_free(part);
        skip_blanks(ps);
        if (peek(ps) == '.') {
            ps->p++;
            continue;
        }
        if (peek(ps) == ']') {
            ps->p++;
            break;
        }
        rc = perr(ps, "expected '.' or ']' in table header");
        break;
    }
    if (rc) {
        bs_buf_free(&path);
        return rc;
    }
    bs_buf_append_byte(&path, '\0');
    char *full = (char *)bs_buf_detach(&path, NULL);

    /* Every proper prefix becomes (or already is) a table. */
    for (char *dot = strchr(full, '.'); dot; dot = strchr(dot + 1, '.')) {
        *dot = '\0';
        path_slot *s = slot_find(ps, full);
        if (s && s->kind == KIND_VALUE) {
            rc = perr(ps, "[%s.%s]: %s is already a key, not a table", full, dot + 1, full);
        } else if (!s) {
            slot_insert(ps, full, KIND_TABLE_IMPLICIT);
        }
        *dot = '.';
        if (rc) {
            bs_free(full);
            return rc;
        }
    }
    path_slot *s = slot_find(ps, full);
    if (s && s->kind == KIND_VALUE)
        rc = perr(ps, "[%s]: %s is already a key, not a table", full, full);
    else if (s && s->kind == KIND_TABLE_EXPLICIT)
        rc = perr(ps, "duplicate table [%s]", full);
    else if (s)
        s->kind = KIND_TABLE_EXPLICIT;
    else
        slot_insert(ps, full, KIND_TABLE_EXPLICIT);
    if (rc) {
        bs_free(full);
        return rc;
    }

    bs_toml_doc *doc = ps->doc;
    if (doc->ntables == doc->tables_cap) {
        doc->tables_cap = doc->tables_cap ? doc->tables_cap * 2 : 16;
        doc->tables = bs_realloc(doc->tables, doc->tables_cap * sizeof(bs_toml_table));
    }
    doc->tables[doc->ntables].path = bs_strdup(full);
    doc->tables[doc->ntables].line = line;
    doc->ntables++;
    bs_free(ps->table);
    ps->table = full;
    return BS_OK;
}

static int parse_keyval(parser *ps)
{
    int line = ps->line;
    char *key = NULL;
    int rc = parse_key_part(ps, &key);
    if (rc)
        return rc;
    skip_blanks(ps);
    if (peek(ps) == '.') {
        bs_free(key);
        return perr(ps, "dotted keys are not supported; put the key under a [table]");
    }
    if (peek(ps) != '=') {
        rc = perr(ps, "expected '=' after key %s", key);
        bs_free(key);
        return rc;
    }
    ps->p++;
    skip_blanks(ps);
    char *path = join_path(ps->table, key);
    if (slot_find(ps, path)) {
        rc = ps->table[0] ? perr(ps, "[%s] %s: duplicate key", ps->table, key)
                          : perr(ps, "%s: duplicate key", key);
        bs_free(key);
        bs_free(path);
        return rc;
    }
    bs_toml_value v;
    memset(&v, 0, sizeof(v));
    rc = parse_value(ps, &v, true);
    if (rc) {
        bs_toml_value_free(&v);
        bs_free(key);
        bs_free(path);
        return rc;
    }
    slot_insert(ps, path, KIND_VALUE);
    bs_toml_doc *doc = ps->doc;
    if (doc->nkvs == doc->kvs_cap) {
        doc->kvs_cap = doc->kvs_cap ? doc->kvs_cap * 2 : 32;
        doc->kvs = bs_realloc(doc->kvs, doc->kvs_cap * sizeof(bs_toml_kv));
    }
    bs_toml_kv *kv = &doc->kvs[doc->nkvs++];
    kv->table = bs_strdup(ps->table);
    kv->key = key;
    kv->path = path;
    kv->line = line;
    kv->value = v;
    return BS_OK;
}

/* Rejects NUL bytes and invalid UTF-8 up front, naming the line. */
static int check_text(parser *ps)
{
    const unsigned char *s = (const unsigned char *)ps->p;
    size_t n = (size_t)(ps->end - ps->p);
    int line = 1;
    for (size_t i = 0; i < n;) {
        if (s[i] == '\n')
            line++;
        if (s[i] == 0) {
            ps->line = line;
            return perr(ps, "NUL byte in file");
        }
        size_t k = utf8_seq_len(s + i, n - i);
        if (k == 0) {
            ps->line = line;
            return perr(ps, "invalid UTF-8");
        }
        i += k;
    }
    return BS_OK;
}

static void parser_free(parser *ps)
{
    for (size_t i = 0; i < ps->nslots; i++)
        bs_free(ps->slots[i].path);
    bs_free(ps->slots);
    bs_free(ps->table);
}

int bs_toml_parse(const char *name, const char *text, size_t len, bs_toml_doc *doc,
                  bs_err *err)
{
    parser ps;
    memset(&ps, 0, sizeof(ps));
    memset(doc, 0, sizeof(*doc));
    if (!text)
        text = ""; /* len must then be 0; avoids arithmetic on a null pointer */
    ps.name = name ? name : "<config>";
    ps.p = text;
    ps.end = text + len;
    ps.line = 1;
    ps.err = err;
    ps.doc = doc;
    ps.table = bs_strdup("");

    int rc = check_text(&ps);
    /* A UTF-8 byte order mark is allowed at the very start. */
    if (!rc && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        ps.p += 3;
    while (!rc && !at_end(&ps)) {
        skip_blanks(&ps);
        int c = peek(&ps);
        if (c == '[')
            rc = parse_table_header(&ps);
        else if (c >= 0 && c != '#' && c != '\n' && c != '\r')
            rc = parse_keyval(&ps);
        if (rc)
            break;
        skip_blanks(&ps);
        rc = skip_comment(&ps);
        if (rc || at_end(&ps))
            break;
        int nl = take_newline(&ps);
        if (nl < 0) {
            rc = BS_ECONFIG;
        } else if (nl == 0) {
            c = peek(&ps);
            if (c >= 0x20 && c < 0x7f)
                rc = perr(&ps, "unexpected '%c' after value (expected end of line)", c);
            else
                rc = perr(&ps, "unexpected byte 0x%02x (expected end of line)", c);
        }
    }
    parser_free(&ps);
    if (rc) {
        bs_toml_doc_free(doc);
        return rc;
    }
    return BS_OK;
}

int bs_toml_parse_value(const char *text, size_t len, bs_toml_value *out, bs_err *err)
{
    parser ps;
    memset(&ps, 0, sizeof(ps));
    memset(out, 0, sizeof(*out));
    if (!text)
        text = "";
    ps.name = NULL;
    ps.p = text;
    ps.end = text + len;
    ps.line = 1;
    ps.err = err;
    int rc = check_text(&ps);
    if (!rc) {
        skip_blanks(&ps);
        rc = parse_value(&ps, out, true);
    }
    if (!rc) {
        skip_blanks(&ps);
        if (!at_end(&ps))
            rc = perr(&ps, "unexpected text after value");
    }
    parser_free(&ps);
    if (rc)
        bs_toml_value_free(out);
    return rc;
}
