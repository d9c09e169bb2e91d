/* assert.c -- the failure path of BS_ASSERT: report and abort so a core is left behind. */
#include "common/assert.h"

#include <stdio.h>
#include <stdlib.h>

void bs_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "basalt: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
    fflush(stderr);
    abort();
}
