/* hiredis_test.c -- a hiredis program against a running server: the C client library most
 * Redis clients wrap. Built and run by tests/clients/run.sh:
 *
 *   hiredis_test HOST PORT
 *
 * Prints one "PASS name" or "FAIL name: why" line per check and exits 0 when all pass.
 * Uses database 7 and keys prefixed "hiredis:" so it does not disturb other checks. */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(int ok, const char *name, const char *fmt, ...)
{
    if (ok) {
        printf("PASS hiredis: %s\n", name);
        return;
    }
    failures++;
    printf("FAIL hiredis: %s: ", name);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static int is_status(const redisReply *r, const char *s)
{
    return r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, s) == 0;
}

static const char *show(const redisReply *r)
{
    static char buf[256];
    if (!r)
        return "(no reply)";
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        snprintf(buf, sizeof buf, "type %d \"%.200s\"", r->type, r->str);
        break;
    case REDIS_REPLY_INTEGER:
        snprintf(buf, sizeof buf, "integer %lld", r->integer);
        break;
    default:
        snprintf(buf, sizeof buf, "type %d", r->type);
    }
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: hiredis_test HOST PORT\n");
        return 2;
    }
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout(argv[1], atoi(argv[2]), tv);
    if (!c || c->err) {
        printf("FAIL hiredis: connect: %s\n", c ? c->errstr : "out of memory");
        return 1;
    }
    redisSetTimeout(c, tv);
    redisReply *r;

    r = redisCommand(c, "SELECT 7");
    check(is_status(r, "OK"), "SELECT", "%s", show(r));
    freeReplyObject(r);

    r = redisCommand(c, "PING");
    check(is_status(r, "PONG"), "PING", "%s", show(r));
    freeReplyObject(r);

    /* Binary-safe values through %b. */
    static const char bin[] = "a\0b\r\nc\xff";
    r = redisCommand(c, "SET %s %b", "hiredis:bin", bin, sizeof bin - 1);
    check(is_status(r, "OK"), "SET binary", "%s", show(r));
    freeReplyObject(r);
    r = redisCommand(c, "GET %s", "hiredis:bin");
    check(r && r->type == REDIS_REPLY_STRING && r->len == sizeof bin - 1 &&
              memcmp(r->str, bin, sizeof bin - 1) == 0,
          "GET binary", "%s", show(r));
    freeReplyObject(r);

    r = redisCommand(c, "GET %s", "hiredis:missing");
    check(r && r->type == REDIS_REPLY_NIL, "GET of a missing key is nil", "%s", show(r));
    freeReplyObject(r);

    r = redisCommand(c, "DEL hiredis:n");
    freeReplyObject(r);
    r = redisCommand(c, "INCRBY hiredis:n 41");
    freeReplyObject(r);
    r = redisCommand(c, "INCR hiredis:n");
    check(r && r->type == REDIS_REPLY_INTEGER && r->integer == 42, "INCR", "%s", show(r));
    freeReplyObject(r);

    r = redisCommand(c, "MSET hiredis:a 1 hiredis:b 2");
    freeReplyObject(r);
    r = redisCommand(c, "MGET hiredis:a hiredis:nokey hiredis:b");
    check(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
              r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "1") &&
              r->element[1]->type == REDIS_REPLY_NIL && r->element[2]->type == REDIS_REPLY_STRING &&
              !strcmp(r->element[2]->str, "2"),
          "MGET with a missing key", "%s", show(r));
    freeReplyObject(r);

    r = redisCommand(c, "INCR hiredis:a x");
    check(r && r->type == REDIS_REPLY_ERROR &&
              !strcmp(r->str, "ERR wrong number of arguments for 'incr' command"),
          "error reply", "%s", show(r));
    freeReplyObject(r);

    /* A pipeline: 20000 commands appended, then every reply read back in order. */
    enum { N = 20000 };
    for (int i = 0; i < N; i++) {
        if (i % 2 == 0)
            redisAppendCommand(c, "SET hiredis:p:%d %d", i, i);
        else
            redisAppendCommand(c, "GET hiredis:p:%d", i - 1);
    }
    int bad = 0;
    for (int i = 0; i < N; i++) {
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            bad = N;
            break;
        }
        char want[32];
        snprintf(want, sizeof want, "%d", i - 1);
        if (i % 2 == 0 ? !is_status(r, "OK")
                       : !(r->type == REDIS_REPLY_STRING && !strcmp(r->str, want)))
            bad++;
        freeReplyObject(r);
    }
    check(bad == 0, "pipeline of 20000 commands in order", "%d replies wrong", bad);

    /* A 10 MB value. */
    size_t big = 10u * 1024 * 1024;
    char *v = malloc(big);
    for (size_t i = 0; i < big; i++)
        v[i] = (char)('a' + i % 26);
    r = redisCommand(c, "SET hiredis:big %b", v, big);
    freeReplyObject(r);
    r = redisCommand(c, "GET hiredis:big");
    check(r && r->type == REDIS_REPLY_STRING && (size_t)r->len == big &&
              memcmp(r->str, v, big) == 0,
          "10 MB value", "%s", show(r));
    freeReplyObject(r);
    free(v);

    r = redisCommand(c, "CLIENT SETNAME hiredis-test");
    freeReplyObject(r);
    r = redisCommand(c, "CLIENT LIST");
    check(r && r->type == REDIS_REPLY_STRING && strstr(r->str, " name=hiredis-test "),
          "CLIENT LIST shows the name", "%s", show(r));
    freeReplyObject(r);

    r = redisCommand(c, "INFO server");
    check(r && r->type == REDIS_REPLY_STRING && strstr(r->str, "redis_version:"), "INFO server",
          "%s", show(r));
    freeReplyObject(r);

    r = redisCommand(c, "FLUSHDB");
    freeReplyObject(r);
    redisFree(c);
    return failures ? 1 : 0;
}
