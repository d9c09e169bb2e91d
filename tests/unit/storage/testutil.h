/* testutil.h -- helpers shared by the storage unit tests: a seeded PRNG, random binary
 * keys and RocksDB file inspection (directories come from lib/tmpdir.h). */
#ifndef BASALT_TESTS_STORAGE_TESTUTIL_H
#define BASALT_TESTS_STORAGE_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "lib/tmpdir.h" /* tu_dir_new, tu_dir_remove, tu_path_join */

/* xorshift64*: deterministic for a given seed (seed 0 is replaced by a constant). */
typedef struct tu_rng {
    uint64_t s;
} tu_rng;
void tu_rng_seed(tu_rng *r, uint64_t seed);
uint64_t tu_rng_next(tu_rng *r);
uint64_t tu_rng_below(tu_rng *r, uint64_t n); /* uniform-ish in [0, n), n > 0 */

/* Replaces b's contents with a random key of length 0..max_len whose bytes favour 0x00,
 * 0xFF and a few others, so MCE padding and markers are exercised. */
void tu_rand_key(tu_rng *r, bs_buf *b, size_t max_len);

/* Counts files in dir whose names end with suffix. */
int tu_count_files(const char *dir, const char *suffix);

/* 1 when a text line of some file in dir whose name starts with name_prefix contains
 * needle, 0 when none does, -1 when dir cannot be read. (Used to check RocksDB's OPTIONS-*
 * files: what RocksDB says it applied.) */
int tu_dir_file_contains(const char *dir, const char *name_prefix, const char *needle);

#endif
