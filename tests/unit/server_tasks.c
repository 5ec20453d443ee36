/* The server's task progress: how many task-progress events a task makes (issue 10: one undo
 * commit made 36). The clock is simulated: the result does not depend on this machine. */
#include "check.h"
#include "server/tasks.h"

/* A task of `seconds` reporting its progress linearly every `step` seconds, started at t0:
 * the number of progress events it makes. */
static int events_of(double seconds, double step, double t0)
{
	double last_f = 0, last_t = t0, now;
	int n = 0;

	for (now = t0 + step; now <= t0 + seconds; now += step) {
		double f = (now - t0) / seconds;
		if (task_progress_due(last_f, last_t, f, now)) {
			last_f = f;
			last_t = now;
			n++;
		}
	}
	return n;
}

static void test_progress_coalesced(void)
{
	/* A 9 s task reporting every 10 ms (the undo commit of the issue): about one event
	 * per 10%, never more than ten. */
	CHECK(events_of(9, 0.01, 1000) <= 10);
	CHECK(events_of(9, 0.01, 1000) >= 8);
	/* Fast tasks: at most one a second. */
	CHECK(events_of(0.9, 0.001, 5) == 0);
	CHECK(events_of(3, 0.001, 5) <= 3);
	/* A slow task (10 min) still shows life, once per 10 s. */
	CHECK(events_of(600, 0.5, 7) <= 600 / 10);
	CHECK(events_of(600, 0.5, 7) >= 600 / 10 - 1);
}

static void test_progress_rules(void)
{
	CHECK(!task_progress_due(0.5, 0, 0.5, 100));    /* no advance: nothing to say */
	CHECK(!task_progress_due(0.5, 0, 0.4, 100));
	CHECK(task_progress_due(0.0, 0, 0.1, 1.0));     /* a 10% step after a second */
	CHECK(!task_progress_due(0.0, 0, 0.5, 0.9));    /* but not twice in a second */
	CHECK(!task_progress_due(0.0, 0, 0.05, 9.9));   /* a small step waits ... */
	CHECK(task_progress_due(0.0, 0, 0.05, 10.0));   /* ... 10 s at most */
}

int main(void)
{
	RUN(test_progress_coalesced);
	RUN(test_progress_rules);
	return check_done();
}
