/* err.h -- Basalt's error codes and the error object every fallible call fills in.
 *
 * One X-macro table names every code, so bs_strerror() and the protocol mappings (RESP
 * error prefixes, errorpb, gRPC status) are generated from the same list and cannot drift.
 * Functions that can fail return an int code (BS_OK or a BS_E* value) and, when the caller
 * passes a non-NULL bs_err *, describe the failure in it with context added as the error
 * climbs (bs_err_wrapf). Thread affinity: none; a bs_err belongs to its caller. */
#ifndef BASALT_COMMON_ERR_H
#define BASALT_COMMON_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* X(name, value, text) */
#define BS_ERR_TABLE(X)                                                        \
    X(BS_OK, 0, "ok")                                                          \
    X(BS_NOTFOUND, 1, "not found")                                             \
    X(BS_EINVAL, 2, "invalid argument")                                        \
    X(BS_ENOMEM, 3, "out of memory")                                           \
    X(BS_EIO, 4, "I/O error")                                                  \
    X(BS_ECORRUPT, 5, "corrupt data")                                          \
    X(BS_EBUSY, 6, "resource busy")                                            \
    X(BS_ECONFIG, 7, "configuration error")                                    \
    X(BS_ERANGE, 8, "out of range")                                            \
    X(BS_EEXIST, 9, "already exists")                                          \
    X(BS_ESTATE, 10, "wrong state")                                            \
    X(BS_ETOOLARGE, 11, "too large")                                           \
    X(BS_EPROPOSAL_DROPPED, 12, "proposal dropped")                            \
    X(BS_ENOT_LEADER, 13, "not leader")                                        \
    X(BS_EINTERNAL, 14, "internal error")

enum {
#define BS_ERR_ENUM(name, value, text) name = value,
    BS_ERR_TABLE(BS_ERR_ENUM)
#undef BS_ERR_ENUM
    BS_ERR__COUNT
};

#define BS_ERR_MSG_MAX 256

typedef struct bs_err {
    int code;                 /* BS_OK or a BS_E* code */
    char msg[BS_ERR_MSG_MAX]; /* human text with context; "" when code == BS_OK */
} bs_err;

/* The fixed text of a code ("not found"); "unknown error" for codes outside the table.
 * Returns a static string: borrowed, never freed. */
const char *bs_strerror(int code);

/* The symbolic name of a code ("BS_NOTFOUND"); static, borrowed. */
const char *bs_errname(int code);

/* Reset *err to BS_OK with an empty message. err may be NULL. */
void bs_err_clear(bs_err *err);

/* Set err->code = code and format err->msg (truncated to fit). err may be NULL.
 * Returns code, so a caller can write `return bs_err_setf(err, BS_EINVAL, "...")`. */
int bs_err_setf(bs_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int bs_err_vsetf(bs_err *err, int code, const char *fmt, va_list ap);

/* Prefix context to an existing message: "ctx: old message". Keeps err->code. err may be
 * NULL. Returns err->code (or BS_EINTERNAL when err is NULL, since the code is lost). */
int bs_err_wrapf(bs_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
