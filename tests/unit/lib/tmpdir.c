/* tmpdir.c -- the one implementation of the tests' temporary directories. */
#include "lib/tmpdir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

char *tu_dir_new(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s/basalt-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        abort();
    }
    return bs_strdup(buf);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void tu_dir_remove(char *path)
{
    if (!path)
        return;
    (void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); /* best effort cleanup */
    bs_free(path);
}

char *tu_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = bs_malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}
