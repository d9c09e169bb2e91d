/* test_log.c -- TiKV line format under a pinned clock, escaping, level filtering (a
 * disabled level evaluates nothing), the key renderer and whole lines under threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

/* 2026/11/21 16:03:00.123 UTC */
#define FIXED_MS 1795276980123LL

static char log_path[512];

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(log_path, sizeof(log_path), "%s/basalt-test-log-%d.log", tmp ? tmp : "/tmp",
             (int)getpid());
    unlink(log_path);
    bs_err err;
    if (bs_log_open_file(log_path, &err) != BS_OK)
        return -1;
    setenv("TZ", "UTC", 1);
    tzset();
    bs_clock_set_wall_override(FIXED_MS);
    bs_log_set_level(BS_LOG_LEVEL_INFO);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bs_log_use_stderr();
    bs_clock_set_wall_override(-1);
    bs_log_set_redact(false);
    unlink(log_path);
    return 0;
}

/* Returns the log written so far (caller frees) and empties the file. */
static char *take_log(void)
{
    FILE *f = fopen(log_path, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_int_equal(truncate(log_path, 0), 0);
    return strdup(buf);
}

static void expect_log(const char *want)
{
    char *got = take_log();
    assert_string_equal(got, want);
    free(got);
}

static void test_line_format(void **state)
{
    (void)state;
    char want[512];
    int line = __LINE__ + 1;
    BS_LOG_INFO("region split", "region_id=%llu new_region_id=%d", 7ULL, 8);
    snprintf(want, sizeof want,
             "[2026/11/21 16:03:00.123 +00:00] [INFO] [test_log.c:%d] [\"region split\"] "
             "[region_id=7] [new_region_id=8]\n", line);
    expect_log(want);

    line = __LINE__ + 1;
    BS_LOG_WARN("Welcome");
    snprintf(want, sizeof want,
             "[2026/11/21 16:03:00.123 +00:00] [WARN] [test_log.c:%d] [Welcome]\n", line);
    expect_log(want);

    line = __LINE__ + 1;
    BS_LOG_ERROR("", "path=%s", "/tmp/a b");
    snprintf(want, sizeof want,
             "[2026/11/21 16:03:00.123 +00:00] [ERROR] [test_log.c:%d] [] [path=\"/tmp/a b\"]\n",
             line);
    expect_log(want);

    bs_log_write(BS_LOG_LEVEL_FATAL, "src/x/some-file.c", 9, "m", " ");
    expect_log("[2026/11/21 16:03:00.123 +00:00] [FATAL] [some-file.c:9] [m]\n");
}

static void test_local_zone_offset(void **state)
{
    (void)state;
    /* POSIX zone strings need no tzdata: "XYZ-8" is UTC+8, "ABC+5:30" is UTC-5:30. */
    setenv("TZ", "XYZ-8", 1);
    tzset();
    bs_log_write(BS_LOG_LEVEL_INFO, "f.c", 1, "m", " ");
    expect_log("[2026/11/22 00:03:00.123 +08:00] [INFO] [f.c:1] [m]\n");
    setenv("TZ", "ABC+5:30", 1);
    tzset();
    bs_log_write(BS_LOG_LEVEL_INFO, "f.c", 1, "m", " ");
    expect_log("[2026/11/21 10:33:00.123 -05:30] [INFO] [f.c:1] [m]\n");
    setenv("TZ", "UTC", 1);
    tzset();
}

static void test_escaping(void **state)
{
    (void)state;
    bs_log_write(BS_LOG_LEVEL_INFO, "f.c", 1, "failed to \"fetch\" [URL]",
                 " url=%s attempt=%d", "http://example.com", 3);
    expect_log("[2026/11/21 16:03:00.123 +00:00] [INFO] [f.c:1] "
               "[\"failed to \\\"fetch\\\" [URL]\"] [url=http://example.com] [attempt=3]\n");

    bs_log_write(BS_LOG_LEVEL_INFO, "f.c", 1, "m", " a=%s b=%s c=%s d=%s e=%s", "x]y",
                 "tab\there", "nl\nq\"\\", "ctl\x01\x7f", "k=v");
    expect_log("[2026/11/21 16:03:00.123 +00:00] [INFO] [f.c:1] [m] [a=\"x]y\"] "
               "[b=\"tab\\there\"] [c=\"nl\\nq\\\"\\\\\"] [d=\"ctl\\u0001\\u007f\"] "
               "[e=\"k=v\"]\n");

    /* UTF-8 passes through; an empty value stays empty. */
    bs_log_write(BS_LOG_LEVEL_INFO, "f.c", 1, "欢迎", " who=%s empty=%s", "日本", "");
    expect_log("[2026/11/21 16:03:00.123 +00:00] [INFO] [f.c:1] [欢迎] [who=日本] [empty=]\n");

    /* A space flag inside a conversion is not a field boundary; text without '=' is a
     * field of its own. */
    bs_log_write(BS_LOG_LEVEL_INFO, "f.c", 1, "m", " n=% d lone", 5);
    expect_log("[2026/11/21 16:03:00.123 +00:00] [INFO] [f.c:1] [m] [n=\" 5 lone\"]\n");

    /* A value holding the internal separator cannot shift fields: the whole text becomes
     * one escaped field. */
    bs_log_write(BS_LOG_LEVEL_INFO, "f.c", 1, "m", " a=%s b=%d", "x\x1fy", 2);
    expect_log("[2026/11/21 16:03:00.123 +00:00] [INFO] [f.c:1] [m] "
               "[a=\"x\\u001fy\\u001fb=2\"]\n");
}

static int evaluations;

static int count_evaluation(void)
{
    return ++evaluations;
}

static void test_level_filtering(void **state)
{
    (void)state;
    evaluations = 0;
    BS_LOG_DEBUG("hidden", "n=%d", count_evaluation());
    BS_LOG_TRACE("hidden", "n=%d", count_evaluation());
    assert_int_equal(evaluations, 0);
    expect_log("");

    bs_log_set_level(BS_LOG_LEVEL_ERROR);
    BS_LOG_WARN("hidden", "n=%d", count_evaluation());
    assert_int_equal(evaluations, 0);
    BS_LOG_ERROR("shown", "n=%d", count_evaluation());
    assert_int_equal(evaluations, 1);
    char *got = take_log();
    assert_non_null(strstr(got, "[ERROR]"));
    assert_non_null(strstr(got, "[shown] [n=1]\n"));
    free(got);

    bs_log_set_level(BS_LOG_LEVEL_TRACE);
    BS_LOG_TRACE("t", "n=%d", count_evaluation());
    assert_int_equal(evaluations, 2);
    got = take_log();
    assert_non_null(strstr(got, "[TRACE]"));
    free(got);
    bs_log_set_level(BS_LOG_LEVEL_INFO);
    assert_int_equal(bs_log_get_level(), BS_LOG_LEVEL_INFO);
}

static void test_parse_level(void **state)
{
    (void)state;
    bs_log_level l;
    assert_int_equal(bs_log_parse_level("info", &l), BS_OK);
    assert_int_equal(l, BS_LOG_LEVEL_INFO);
    assert_int_equal(bs_log_parse_level("WARN", &l), BS_OK);
    assert_int_equal(l, BS_LOG_LEVEL_WARN);
    assert_int_equal(bs_log_parse_level("warning", &l), BS_OK);
    assert_int_equal(l, BS_LOG_LEVEL_WARN);
    assert_int_equal(bs_log_parse_level("Trace", &l), BS_OK);
    assert_int_equal(l, BS_LOG_LEVEL_TRACE);
    assert_int_equal(bs_log_parse_level("critical", &l), BS_OK);
    assert_int_equal(l, BS_LOG_LEVEL_FATAL);
    l = BS_LOG_LEVEL_DEBUG;
    assert_int_equal(bs_log_parse_level("off", &l), BS_EINVAL);
    assert_int_equal(bs_log_parse_level("", &l), BS_EINVAL);
    assert_int_equal(l, BS_LOG_LEVEL_DEBUG);
    assert_string_equal(bs_log_level_name(BS_LOG_LEVEL_WARN), "WARN");
    assert_string_equal(bs_log_level_name(BS_LOG_LEVEL_FATAL), "FATAL");
}

static void test_log_key(void **state)
{
    (void)state;
    char out[BS_LOG_KEY_CAP];
    assert_string_equal(bs_log_key(bs_slice_make("user:1", 6), out, sizeof out), "user:1");
    assert_string_equal(bs_log_key(bs_slice_make("k\0 \r\n\"=[]\\\xff", 11), out, sizeof out),
                        "k\\x00\\x20\\x0d\\x0a\\x22\\x3d\\x5b\\x5d\\x5c\\xff");
    assert_string_equal(bs_log_key(BS_SLICE_NULL, out, sizeof out), "");

    /* Long keys are cut with a note of their full length, and never overflow. */
    uint8_t big[1000];
    memset(big, 'a', sizeof big);
    const char *r = bs_log_key(bs_slice_make(big, sizeof big), out, sizeof out);
    assert_true(strlen(r) < sizeof out);
    assert_non_null(strstr(r, "...(len=1000)"));
    assert_int_equal(strspn(r, "a"), strlen(r) - strlen("...(len=1000)"));
    memset(big, 0, sizeof big);
    char small[24];
    r = bs_log_key(bs_slice_make(big, sizeof big), small, sizeof small);
    assert_true(strlen(r) < sizeof small);
    assert_string_equal(r, "\\x00\\x00...(len=1000)");
    char cramped[16];
    r = bs_log_key(bs_slice_make(big, sizeof big), cramped, sizeof cramped);
    assert_string_equal(r, "...(len=1000)"); /* no room for even one escaped byte */
    /* A key that exactly fits is not cut. */
    char exact[4];
    assert_string_equal(bs_log_key(bs_slice_make("abc", 3), exact, sizeof exact), "abc");
    char tiny[2];
    assert_string_equal(bs_log_key(bs_slice_make("abc", 3), tiny, sizeof tiny), "");

    bs_log_set_redact(true);
    assert_true(bs_log_get_redact());
    assert_string_equal(bs_log_key(bs_slice_make("secret", 6), out, sizeof out), "?");
    bs_log_set_redact(false);

    /* A rendered key never needs quoting in a line. */
    BS_LOG_INFO("key is locked", "key=%s",
                bs_log_key(bs_slice_make("a b\x01", 4), out, sizeof out));
    char *got = take_log();
    assert_non_null(strstr(got, "[\"key is locked\"] [key=a\\x20b\\x01]\n"));
    free(got);
}

#define THREADS 4
#define LINES 300

static void *log_many(void *arg)
{
    long id = (long)arg;
    char val[300];
    memset(val, 'a' + (int)id, sizeof val - 1);
    val[sizeof val - 1] = '\0';
    for (int i = 0; i < LINES; i++)
        BS_LOG_INFO("worker", "id=%ld i=%d pad=%s", id, i, val);
    return NULL;
}

static void test_lines_stay_whole_under_threads(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, log_many, (void *)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    char *got = take_log();
    int lines = 0;
    for (char *p = got, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = '\0';
        assert_true(strncmp(p, "[2026/11/21 16:03:00.123 +00:00] [INFO] [test_log.c:", 52) == 0);
        char *pad = strstr(p, "[pad=");
        assert_non_null(pad);
        char c = pad[5];
        assert_int_equal(strspn(pad + 5, (char[]){c, 0}), 299);
        assert_string_equal(pad + 5 + 299, "]");
        lines++;
    }
    assert_int_equal(lines, THREADS * LINES);
    free(got);
}

static void test_open_file_error(void **state)
{
    (void)state;
    bs_err err;
    assert_int_equal(bs_log_open_file("/nonexistent-dir/x/y.log", &err), BS_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x/y.log"));
    /* The sink is unchanged. */
    BS_LOG_INFO("still here");
    char *got = take_log();
    assert_non_null(strstr(got, "[\"still here\"]"));
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_format),
        cmocka_unit_test(test_local_zone_offset),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_level_filtering),
        cmocka_unit_test(test_parse_level),
        cmocka_unit_test(test_log_key),
        cmocka_unit_test(test_lines_stay_whole_under_threads),
        cmocka_unit_test(test_open_file_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
