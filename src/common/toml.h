/* toml.h -- a strict parser for the subset of TOML 1.0 that Basalt's config file uses.
 *
 * Debian ships no C TOML library, and a config parser that guesses is worse than none: a
 * typo must stop the server at startup with the file and line, never be ignored. So this
 * parser accepts a small subset and rejects everything else with "name:line: reason":
 *   - tables [a] and dotted tables [a.b] (each defined once; a table may be created
 *     implicitly by [a.b] and defined later as [a]);
 *   - key = value with bare keys (A-Za-z0-9_-) or quoted keys ("..." / '...', whose text
 *     may not contain '.' or control characters, so a dotted path names one key);
 *   - basic strings "..." with \b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX, literal strings
 *     '...'; decimal integers with optional sign and '_' between digits, no leading zeros;
 *     floats (fraction and/or exponent, inf, nan); true/false; arrays of scalars that may
 *     span lines, hold comments and end with a trailing comma;
 *   - '#' comments, LF or CRLF line ends, UTF-8 text.
 * Not supported (an error, never ignored): multi-line strings, dotted keys on the left of
 * '=', inline tables, arrays of tables, nested arrays, hex/octal/binary integers, dates.
 * Duplicate keys, a key redefined as a table and a table defined twice are errors.
 *
 * Thread affinity: none; a document belongs to its caller. */
#ifndef BASALT_COMMON_TOML_H
#define BASALT_COMMON_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef enum bs_toml_type {
    BS_TOML_STRING = 1,
    BS_TOML_INTEGER,
    BS_TOML_FLOAT,
    BS_TOML_BOOL,
    BS_TOML_ARRAY,
} bs_toml_type;

typedef struct bs_toml_value bs_toml_value;
struct bs_toml_value {
    bs_toml_type type;
    union {
        struct {
            char *ptr;  /* owned, NUL-terminated; may also hold NUL bytes from \u0000 */
            size_t len; /* bytes before the terminating NUL */
        } str;
        int64_t i;
        double f;
        bool b;
        struct {
            bs_toml_value *items; /* owned; scalars only */
            size_t len;
        } arr;
    } u;
};

/* One "key = value" line, with the table it sits in. */
typedef struct bs_toml_kv {
    char *table; /* "rocksdb.defaultcf", "" at top level; owned */
    char *key;   /* "write-buffer-size"; owned */
    char *path;  /* "rocksdb.defaultcf.write-buffer-size" (key alone at top level); owned */
    int line;    /* 1-based line of the key */
    bs_toml_value value;
} bs_toml_kv;

/* One explicit [table] header. */
typedef struct bs_toml_table {
    char *path; /* "rocksdb.defaultcf"; owned */
    int line;
} bs_toml_table;

typedef struct bs_toml_doc {
    bs_toml_kv *kvs; /* in file order */
    size_t nkvs;
    bs_toml_table *tables; /* in file order */
    size_t ntables;
    size_t kvs_cap, tables_cap; /* private */
} bs_toml_doc;

/* Parses len bytes of text (need not be NUL-terminated; NUL bytes are an error). name is
 * used only in messages ("conf/basalt.toml:12: ..."). On BS_OK *doc holds the document:
 * the caller owns it and frees it with bs_toml_doc_free(). On BS_ECONFIG err says where
 * and why, and *doc is empty (nothing to free, freeing is harmless). */
int bs_toml_parse(const char *name, const char *text, size_t len, bs_toml_doc *doc,
                  bs_err *err);

/* Releases everything the document owns and leaves it empty. doc may be NULL. */
void bs_toml_doc_free(bs_toml_doc *doc);

/* Parses one value with the syntax of the right-hand side of '=' (surrounding blanks
 * allowed, nothing else). On BS_OK the caller owns *out: free with bs_toml_value_free().
 * On BS_ECONFIG err->msg says why (no file or line) and *out needs no freeing. */
int bs_toml_parse_value(const char *text, size_t len, bs_toml_value *out, bs_err *err);

/* Releases what a value owns (strings, array items). v may be NULL. */
void bs_toml_value_free(bs_toml_value *v);

/* "string", "integer", "float", "boolean", "array"; static, borrowed. */
const char *bs_toml_type_name(bs_toml_type t);

#endif
