/* tmpdir.h -- fresh directories for tests that open engines, linked into every unit test.
 *
 * Each test binary runs with its own TMPDIR (tests/unit/run.sh makes and removes it), so a
 * directory made here never collides with another test's. */
#ifndef BASALT_TESTS_LIB_TMPDIR_H
#define BASALT_TESTS_LIB_TMPDIR_H

/* Creates $TMPDIR/basalt-<tag>-XXXXXX (/tmp when TMPDIR is unset). Returns the path
 * (caller owns; release with tu_dir_remove). Aborts the test binary on failure. */
char *tu_dir_new(const char *tag);

/* Removes path and everything under it (best effort), then frees path. NULL is fine. */
void tu_dir_remove(char *path);

/* dir + "/" + name (caller owns; bs_free). */
char *tu_path_join(const char *dir, const char *name);

#endif
