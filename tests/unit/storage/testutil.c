/* testutil.c -- temporary directories, PRNG and random keys for the storage tests. */
#include "storage/testutil.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tu_rng_seed(tu_rng *r, uint64_t seed)
{
    r->s = seed ? seed : 0x9E3779B97F4A7C15ull;
}

uint64_t tu_rng_next(tu_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

uint64_t tu_rng_below(tu_rng *r, uint64_t n)
{
    return tu_rng_next(r) % n;
}

void tu_rand_key(tu_rng *r, bs_buf *b, size_t max_len)
{
    static const uint8_t special[] = {0x00, 0xFF, 0x01, 0xFE, 0xF7, 0xF8, 'a', 'b'};
    size_t len = (size_t)tu_rng_below(r, max_len + 1);
    bs_buf_reset(b);
    for (size_t i = 0; i < len; i++) {
        uint64_t x = tu_rng_next(r);
        uint8_t c = (x & 3) ? special[(x >> 8) % sizeof(special)] : (uint8_t)(x >> 16);
        bs_buf_append_byte(b, c);
    }
}

int tu_count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    size_t sl = strlen(suffix);
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

int tu_dir_file_contains(const char *dir, const char *name_prefix, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int found = 0;
    if (!d)
        return -1;
    while (!found && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, name_prefix, strlen(name_prefix)) != 0)
            continue;
        char *p = tu_path_join(dir, de->d_name);
        FILE *f = fopen(p, "r");
        bs_free(p);
        if (!f)
            continue;
        char line[1024];
        while (!found && fgets(line, sizeof(line), f))
            found = strstr(line, needle) != NULL;
        fclose(f);
    }
    closedir(d);
    return found;
}
