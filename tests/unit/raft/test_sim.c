/* test_sim.c -- the deterministic simulation as a cmocka suite, a soak and a replayer.
 *
 *   test_sim                 cmocka suite: 3- and 5-node clusters, Safe and lease reads,
 *                            with membership changes; 2000 seeds in all
 *   test_sim --soak N        N seeds (cycling through the same configurations), progress
 *                            every 1000, exit status 1 on the first failure
 *   test_sim --seed S [--nodes 5] [--lease] [--steps K]
 *                            replays one seed printing the full trace
 * A failure prints the seed, the violated invariant, the recent trace and the replay
 * command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define STEPS 2000
#define HEAL_TICKS 120

static void fill(sim_opts *o, uint64_t seed, int nodes, bool lease)
{
    memset(o, 0, sizeof(*o));
    o->seed = seed;
    o->nodes = nodes;
    o->steps = STEPS;
    o->heal_ticks = HEAL_TICKS;
    o->lease = lease;
    o->membership = true;
}

static void run_range(uint64_t first, int count, int nodes, bool lease)
{
    int failures = 0;
    for (int i = 0; i < count; i++) {
        sim_opts o;
        fill(&o, first + (uint64_t)i, nodes, lease);
        if (!sim_run(&o, NULL))
            failures++;
    }
    assert_int_equal(failures, 0);
}

static void test_sim_3_nodes_safe_reads(void **state)
{
    (void)state;
    run_range(1, 800, 3, false);
}

static void test_sim_5_nodes_safe_reads(void **state)
{
    (void)state;
    run_range(10001, 500, 5, false);
}

static void test_sim_3_nodes_lease_reads(void **state)
{
    (void)state;
    run_range(20001, 400, 3, true);
}

static void test_sim_5_nodes_lease_reads(void **state)
{
    (void)state;
    run_range(30001, 300, 5, true);
}

/* The soak and the suite share configurations: seed s runs with nodes/lease chosen
 * from s, so a soak failure replays with the flags it prints. */
static void soak_config(uint64_t seed, sim_opts *o)
{
    fill(o, seed, seed % 2 ? 3 : 5, seed % 3 == 0);
}

static int soak(uint64_t n, uint64_t start)
{
    sim_stats total;
    memset(&total, 0, sizeof(total));
    for (uint64_t i = 0; i < n; i++) {
        sim_opts o;
        sim_stats st;
        soak_config(start + i, &o);
        if (!sim_run(&o, &st)) {
            printf("soak: FAILED at seed %llu after %llu seeds\n", (unsigned long long)(start + i),
                   (unsigned long long)i);
            return 1;
        }
        total.steps += st.steps;
        total.leaders += st.leaders;
        total.writes_acked += st.writes_acked;
        total.reads_checked += st.reads_checked;
        total.crashes += st.crashes;
        total.snapshots += st.snapshots;
        total.conf_changes += st.conf_changes;
        if ((i + 1) % 1000 == 0) {
            printf("soak: %llu/%llu seeds ok\n", (unsigned long long)(i + 1),
                   (unsigned long long)n);
            fflush(stdout);
        }
    }
    printf("soak: %llu seeds passed (%llu steps, %llu leaders, %llu writes acked, %llu reads "
           "checked, %llu crashes, %llu snapshots, %llu conf changes)\n",
           (unsigned long long)n, (unsigned long long)total.steps,
           (unsigned long long)total.leaders, (unsigned long long)total.writes_acked,
           (unsigned long long)total.reads_checked, (unsigned long long)total.crashes,
           (unsigned long long)total.snapshots, (unsigned long long)total.conf_changes);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--soak") == 0) {
        uint64_t start =
            argc >= 5 && strcmp(argv[3], "--start") == 0 ? strtoull(argv[4], NULL, 10) : 1;
        return soak(strtoull(argv[2], NULL, 10), start);
    }
    if (argc >= 3 && strcmp(argv[1], "--seed") == 0) {
        sim_opts o;
        fill(&o, strtoull(argv[2], NULL, 10), 3, false);
        for (int i = 3; i < argc; i++) {
            if (strcmp(argv[i], "--nodes") == 0 && i + 1 < argc)
                o.nodes = atoi(argv[++i]);
            else if (strcmp(argv[i], "--lease") == 0)
                o.lease = true;
            else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
                o.steps = atoi(argv[++i]);
        }
        o.verbose = true;
        o.out = stdout;
        sim_stats st;
        bool ok = sim_run(&o, &st);
        printf("seed %llu: %s (%llu steps, %llu leaders, %llu writes acked, %llu reads "
               "checked)\n",
               (unsigned long long)o.seed, ok ? "ok" : "FAILED", (unsigned long long)st.steps,
               (unsigned long long)st.leaders, (unsigned long long)st.writes_acked,
               (unsigned long long)st.reads_checked);
        return ok ? 0 : 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_3_nodes_safe_reads),
        cmocka_unit_test(test_sim_5_nodes_safe_reads),
        cmocka_unit_test(test_sim_3_nodes_lease_reads),
        cmocka_unit_test(test_sim_5_nodes_lease_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
