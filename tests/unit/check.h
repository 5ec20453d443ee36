/* Minimal unit-test harness: one binary per module, one line per case.
 * Usage:
 *   static void test_foo(void) { CHECK(x == 1); CHECK_EQ(a, b); }
 *   int main(void) { RUN(test_foo); return check_done(); }
 * Prints "PASS test_foo" or "FAIL test_foo: file:line: expr" (first failure of the case). */
#ifndef VSRV_TESTS_UNIT_CHECK_H
#define VSRV_TESTS_UNIT_CHECK_H

#include <stdio.h>
#include <stdint.h>
#include <inttypes.h>

static int check_case_failed;
static int check_total_failed;

#define CHECK(expr) do { if (!(expr) && !check_case_failed++) \
	printf("FAIL %s: %s:%d: %s\n", check_case_name, __FILE__, __LINE__, #expr); } while (0)
#define CHECK_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b && !check_case_failed++) \
		printf("FAIL %s: %s:%d: %s == %s (%lld != %lld)\n", check_case_name, \
		       __FILE__, __LINE__, #a, #b, _a, _b); } while (0)

static const char *check_case_name = "";

#define RUN(fn) do { check_case_name = #fn; check_case_failed = 0; fn(); \
	if (check_case_failed) check_total_failed++; else printf("PASS %s\n", #fn); \
	fflush(stdout); } while (0)

static inline int check_done(void) { return check_total_failed ? 1 : 0; }

#endif
