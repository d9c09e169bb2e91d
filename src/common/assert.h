/* assert.h -- invariant checks that stay on in release builds.
 *
 * A store that breaks an invariant must stop before it writes bad data, so BS_ASSERT is
 * never compiled out. BS_DASSERT is for expensive checks, on only when BASALT_DEBUG is
 * defined (debug, test and sanitizer builds). Bytes from the network, disk or a peer are
 * input, never invariants: validate them and return BS_ECORRUPT instead of asserting.
 * BS_TESTCASE marks a boundary a test means to reach; it compiles to nothing. */
#ifndef BASALT_COMMON_ASSERT_H
#define BASALT_COMMON_ASSERT_H

#include <stdnoreturn.h>

noreturn void bs_assert_fail(const char *expr, const char *file, int line, const char *func);

#define BS_ASSERT(x)                                                           \
    ((x) ? (void)0 : bs_assert_fail(#x, __FILE__, __LINE__, __func__))

#ifdef BASALT_DEBUG
#define BS_DASSERT(x) BS_ASSERT(x)
#else
#define BS_DASSERT(x) ((void)0)
#endif

#define BS_TESTCASE(x) ((void)0)

#define BS_UNREACHABLE() bs_assert_fail("unreachable", __FILE__, __LINE__, __func__)

#endif
