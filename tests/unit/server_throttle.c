/* Login throttling (src/server/throttle.c): free failures, backoff, per user and per
 * address, attempts in flight. No clock games: only the first backoff (1 s) is reached. */
#include "check.h"
#include "server/throttle.h"

#include <errno.h>

static struct throttle *t;

/* One attempt: 0 when let through (and then finished with result), else the wait. */
static unsigned attempt(const char *user, const char *addr, int result)
{
	unsigned w = throttle_check(t, user, addr);

	if (!w)
		throttle_done(t, user, addr, result);
	return w;
}

static void fresh(void)
{
	throttle_destroy(t);
	throttle_create(&t);
}

static void test_user_free_failures_then_backoff(void)
{
	int i;

	fresh();
	for (i = 0; i < THROTTLE_USER_FREE; i++)
		CHECK_EQ(attempt("alice", "10.0.0.1", -EACCES), 0);
	/* Even the right password waits now, from any address. */
	CHECK(attempt("alice", "10.0.0.2", 0) >= 1);
	CHECK(attempt("alice", "10.0.0.2", 0) <= 2);
	CHECK(attempt("alice", NULL, 0) >= 1);
	CHECK_EQ(attempt("bob", "10.0.0.1", 0), 0);
}

static void test_success_forgets_user_failures(void)
{
	int i;

	fresh();
	for (i = 0; i < THROTTLE_USER_FREE - 1; i++)
		CHECK_EQ(attempt("alice", NULL, -EACCES), 0);
	CHECK_EQ(attempt("alice", NULL, 0), 0);
	for (i = 0; i < THROTTLE_USER_FREE; i++)
		CHECK_EQ(attempt("alice", NULL, -EACCES), 0);
	CHECK(attempt("alice", NULL, 0) >= 1);
}

static void test_other_errors_not_counted(void)
{
	int i;

	fresh();
	for (i = 0; i < 3 * THROTTLE_USER_FREE; i++)
		CHECK_EQ(attempt("alice", "10.0.0.1", -EIO), 0);
}

static void test_address_counts_across_users(void)
{
	char user[16];
	int i;

	fresh();
	/* Each user name once: only the address can stop this. */
	for (i = 0; i < THROTTLE_ADDR_FREE; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		CHECK_EQ(attempt(user, "10.0.0.9", -EACCES), 0);
	}
	CHECK(attempt("admin", "10.0.0.9", 0) >= 1);
	CHECK_EQ(attempt("admin", "10.0.0.8", 0), 0);
	CHECK_EQ(attempt("admin", NULL, 0), 0);
	/* A success from the address does not reset it (one's own account would). */
	CHECK(attempt("admin", "10.0.0.9", 0) >= 1);
}

static void test_parallel_attempts_within_budget(void)
{
	int i;

	fresh();
	/* Attempts in flight count: no more than the free failures may be checked at once. */
	for (i = 0; i < THROTTLE_USER_FREE; i++)
		CHECK_EQ(throttle_check(t, "alice", NULL), 0);
	CHECK_EQ(throttle_check(t, "alice", NULL), 1);
	for (i = 0; i < THROTTLE_USER_FREE; i++)
		throttle_done(t, "alice", NULL, -EACCES);
	CHECK(throttle_check(t, "alice", NULL) >= 1);
}

static void test_many_names_do_not_break_table(void)
{
	char user[16];
	int i;

	fresh();
	/* More names than slots: old ones are recycled, and counting still works. */
	for (i = 0; i < 10000; i++) {
		snprintf(user, sizeof(user), "n%d", i);
		CHECK_EQ(attempt(user, NULL, -EACCES), 0);
	}
	for (i = 0; i < THROTTLE_USER_FREE; i++)
		CHECK_EQ(attempt("alice", NULL, -EACCES), 0);
	CHECK(attempt("alice", NULL, 0) >= 1);
}

int main(void)
{
	RUN(test_user_free_failures_then_backoff);
	RUN(test_success_forgets_user_failures);
	RUN(test_other_errors_not_counted);
	RUN(test_address_counts_across_users);
	RUN(test_parallel_attempts_within_budget);
	RUN(test_many_names_do_not_break_table);
	throttle_destroy(t);
	return check_done();
}
