/* err.c -- code table lookups and message formatting for bs_err. */
#include "common/err.h"

#include <stdio.h>
#include <string.h>

const char *bs_strerror(int code)
{
    switch (code) {
#define BS_ERR_TEXT(name, value, text)                                         \
    case value:                                                                \
        return text;
        BS_ERR_TABLE(BS_ERR_TEXT)
#undef BS_ERR_TEXT
    default:
        return "unknown error";
    }
}

const char *bs_errname(int code)
{
    switch (code) {
#define BS_ERR_NAME(name, value, text)                                         \
    case value:                                                                \
        return #name;
        BS_ERR_TABLE(BS_ERR_NAME)
#undef BS_ERR_NAME
    default:
        return "BS_E?";
    }
}

void bs_err_clear(bs_err *err)
{
    if (!err)
        return;
    err->code = BS_OK;
    err->msg[0] = '\0';
}

int bs_err_vsetf(bs_err *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    /* vsnprintf truncates; a cut message is better than none. */
    (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return code;
}

int bs_err_setf(bs_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bs_err_vsetf(err, code, fmt, ap);
    va_end(ap);
    return code;
}

/* Append src to dst (capacity cap, currently len bytes), truncating; returns the new len. */
static size_t append_trunc(char *dst, size_t len, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (len + 1 >= cap)
        return len;
    if (n > cap - 1 - len)
        n = cap - 1 - len;
    memcpy(dst + len, src, n);
    dst[len + n] = '\0';
    return len + n;
}

int bs_err_wrapf(bs_err *err, const char *fmt, ...)
{
    char old[BS_ERR_MSG_MAX];
    va_list ap;
    size_t len;

    if (!err)
        return BS_EINTERNAL;
    memcpy(old, err->msg, sizeof(old));
    va_start(ap, fmt);
    (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap); /* truncation is acceptable */
    va_end(ap);
    len = strlen(err->msg);
    len = append_trunc(err->msg, len, sizeof(err->msg), ": ");
    (void)append_trunc(err->msg, len, sizeof(err->msg), old[0] ? old : bs_strerror(err->code));
    return err->code;
}
