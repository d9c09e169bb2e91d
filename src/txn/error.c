/* error.c -- txn_error: the raw API's error object and its reply texts.
 *
 * A raw command reports two things at once: a bs_err code for control flow, and the exact
 * text a front end sends back. The Redis kinds carry Redis's own wording (t_string.c), so
 * the RESP layer can reply "-ERR <text>" without knowing the command; the others carry the
 * string TiKV puts in RawXxxResponse.error. One table keeps kind and text together. */
#include <stdio.h>
#include <string.h>

#include "txn/txn_int.h"

static const char *const kind_text[] = {
    [TXN_ERR_NONE] = "",
    [TXN_ERR_INVALID_KEY_MODE] = "invalid key mode",
    [TXN_ERR_INVALID_ARGUMENT] = "invalid argument",
    [TXN_ERR_KEY_BEING_WRITTEN] = "key is being written",
    [TXN_ERR_TS_NOT_READY] = "causal timestamp not ready (max timestamp not synced)",
    [TXN_ERR_NOT_INTEGER] = "value is not an integer or out of range",
    [TXN_ERR_OVERFLOW] = "increment or decrement would overflow",
    [TXN_ERR_NOT_FLOAT] = "value is not a valid float",
    [TXN_ERR_NAN_OR_INF] = "increment would produce NaN or Infinity",
    [TXN_ERR_STRING_TOO_LONG] = "string exceeds maximum allowed size (proto-max-bulk-len)",
    [TXN_ERR_SYNTAX] = "syntax error",
    [TXN_ERR_PROPOSAL_FAILED] = "proposal failed",
    [TXN_ERR_CHAIN_BROKEN] = "an earlier write of this key failed to apply",
    [TXN_ERR_STORAGE] = "storage error",
    [TXN_ERR_KEY_IS_LOCKED] = "key is locked by a transaction",
};

const char *txn_error_kind_text(txn_error_kind kind)
{
    if ((size_t)kind >= sizeof(kind_text) / sizeof(kind_text[0]) || !kind_text[kind])
        return "unknown error";
    return kind_text[kind];
}

void txn_error_clear(txn_error *e)
{
    if (!e)
        return;
    e->code = BS_OK;
    e->kind = TXN_ERR_NONE;
    e->msg[0] = '\0';
}

int txn_error_set(txn_error *e, int code, txn_error_kind kind, const char *detail)
{
    if (!e)
        return code;
    e->code = code;
    e->kind = kind;
    snprintf(e->msg, sizeof(e->msg), "%s",
             detail && *detail ? detail : txn_error_kind_text(kind));
    return code;
}

int txn_error_from_bs(txn_error *e, const bs_err *err)
{
    int code = err && err->code != BS_OK ? err->code : BS_EINTERNAL;
    return txn_error_set(e, code, TXN_ERR_STORAGE, err ? err->msg : NULL);
}
