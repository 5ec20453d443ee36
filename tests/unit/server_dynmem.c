/* The dynamic memory policy (src/server/dynmem.c): grows, shrinks in bounded steps, holds
 * within its hysteresis and while settling, the host's pressure taken from the most surplus
 * first, min and max bounds, and statistics it must not believe. A simulated guest shows
 * that a steady demand converges and stays (no flapping). */
#include "check.h"
#include "server/dynmem.h"

#include <string.h>

static const struct dynmem_host roomy = { .avail_mib = 64 * 1024, .low_mib = 512,
					  .stale_s = DYNMEM_STALE_S };

/* A 1024 MiB Linux guest (deflate-on-oom: balloon pages in its total) with a 1000 MiB total
 * (24 MiB hidden), its target and balloon equal, using used MiB; min 256, buffer 20. */
static struct dynmem_vm guest(int64_t target, int64_t used)
{
	struct dynmem_vm v = {
		.min_mib = 256, .max_mib = 1024, .buffer_pct = 20, .target_mib = target,
		.balloon_mib = 1024 - target, .balloon_in_total = true, .stats = true,
		.stats_age = 2, .total_mib = 1000, .since_change = 1e9,
	};

	v.avail_mib = v.total_mib - used - v.balloon_mib;
	return v;
}

static struct dynmem_vm plan1(struct dynmem_vm v, const struct dynmem_host *h)
{
	dynmem_plan(h, &v, 1);
	return v;
}

static void test_want_is_hidden_plus_used_plus_buffer(void)
{
	struct dynmem_vm v = plan1(guest(1024, 400), &roomy);

	CHECK_EQ(v.used_mib, 400);
	CHECK_EQ(v.want_mib, 24 + 400 + 80);
}

static void test_grows_at_once_to_want(void)
{
	/* target 512, the guest uses 480: it wants 24 + 480 + 96 */
	struct dynmem_vm v = plan1(guest(512, 480), &roomy);

	CHECK_EQ(v.why, DYNMEM_GROW);
	CHECK_EQ(v.new_target_mib, 600);
}

static void test_grow_capped_at_max(void)
{
	/* uses 870 of 900: wants 24 + 870 + 174 */
	struct dynmem_vm v = plan1(guest(900, 870), &roomy);

	CHECK_EQ(v.why, DYNMEM_GROW);
	CHECK_EQ(v.new_target_mib, 1024);
}

static void test_small_shortfall_waits(void)
{
	/* want 24 + 400 + 80 = 504, target 500: 4 MiB short */
	struct dynmem_vm v = plan1(guest(500, 400), &roomy);

	CHECK_EQ(v.why, DYNMEM_HOLD);
	CHECK_EQ(v.new_target_mib, 500);
}

static void test_shrinks_one_bounded_step(void)
{
	/* uses 100: wants 24 + 100 + 20 = 144, clamped to min 256; one step is 102 MiB */
	struct dynmem_vm v = plan1(guest(1024, 100), &roomy);

	CHECK_EQ(v.why, DYNMEM_SHRINK);
	CHECK_EQ(v.new_target_mib, 1024 - 102);
	CHECK_EQ(v.want_mib, 256);
}

static void test_shrink_stops_at_want(void)
{
	/* want 504, target 600: surplus 96 > hysteresis 60, less than a step */
	struct dynmem_vm v = plan1(guest(600, 400), &roomy);

	CHECK_EQ(v.why, DYNMEM_SHRINK);
	CHECK_EQ(v.new_target_mib, 504);
}

static void test_holds_within_hysteresis(void)
{
	/* want 504, target 550: 46 MiB over, the hysteresis is max(32, 55) */
	struct dynmem_vm v = plan1(guest(550, 400), &roomy);

	CHECK_EQ(v.why, DYNMEM_HOLD);
	CHECK_EQ(v.new_target_mib, 550);
}

static void test_shrink_waits_to_settle(void)
{
	struct dynmem_vm v = guest(1024, 100);

	v.since_change = DYNMEM_SETTLE_S - 1;
	v = plan1(v, &roomy);
	CHECK_EQ(v.why, DYNMEM_HOLD);
	CHECK_EQ(v.new_target_mib, 1024);
	/* settled, but the statistics are older than the change: not yet */
	v = guest(1024, 100);
	v.since_change = 20;
	v.stats_age = 25;
	v = plan1(v, &roomy);
	CHECK_EQ(v.why, DYNMEM_HOLD);
	v = guest(1024, 100);
	v.since_change = 20;
	v.stats_age = 3;
	v = plan1(v, &roomy);
	CHECK_EQ(v.why, DYNMEM_SHRINK);
}

static void test_grow_does_not_wait_to_settle(void)
{
	struct dynmem_vm v = guest(512, 480);

	v.since_change = 0.5;
	v = plan1(v, &roomy);
	CHECK_EQ(v.why, DYNMEM_GROW);
}

static void test_never_below_min(void)
{
	struct dynmem_vm v = guest(300, 10);

	v = plan1(v, &roomy);
	CHECK_EQ(v.want_mib, 256);
	CHECK_EQ(v.why, DYNMEM_SHRINK);
	CHECK_EQ(v.new_target_mib, 256);
	v = plan1(guest(256, 10), &roomy);
	CHECK_EQ(v.why, DYNMEM_HOLD);
	CHECK_EQ(v.new_target_mib, 256);
}

static void test_clamped_into_bounds_even_without_stats(void)
{
	/* min raised to 700 while the target was 512 (a PATCH of a running VM) */
	struct dynmem_vm v = guest(512, 100);

	v.min_mib = 700;
	v.stats = false;
	v = plan1(v, &roomy);
	CHECK_EQ(v.why, DYNMEM_CLAMP);
	CHECK_EQ(v.new_target_mib, 700);
	/* dynamic memory turned off (min = max): back to all of it */
	v = guest(512, 100);
	v.min_mib = 1024;
	v = plan1(v, &roomy);
	CHECK_EQ(v.why, DYNMEM_CLAMP);
	CHECK_EQ(v.new_target_mib, 1024);
	/* a target above max (cannot be asked for, but not believed either) */
	v = guest(1024, 100);
	v.target_mib = 2000;
	v = plan1(v, &roomy);
	CHECK_EQ(v.new_target_mib, 1024);
}

static void test_min_equal_max_holds(void)
{
	struct dynmem_vm v = guest(1024, 100);

	v.min_mib = 1024;
	v = plan1(v, &roomy);
	CHECK_EQ(v.why, DYNMEM_HOLD);
	CHECK_EQ(v.new_target_mib, 1024);
}

static void test_no_stats_left_alone(void)
{
	struct dynmem_vm v = guest(1024, 100);

	v.stats = false;
	v = plan1(v, &roomy);
	CHECK_EQ(v.why, DYNMEM_NO_STATS);
	CHECK_EQ(v.new_target_mib, 1024);
	CHECK_EQ(v.used_mib, -1);
}

static void test_stale_left_alone(void)
{
	struct dynmem_vm v = guest(512, 480);

	v.stats_age = DYNMEM_STALE_S + 1;
	v = plan1(v, &roomy);
	CHECK_EQ(v.why, DYNMEM_STALE);
	CHECK_EQ(v.new_target_mib, 512);
	v = guest(512, 480);
	v.stats_age = -1;
	CHECK_EQ(plan1(v, &roomy).why, DYNMEM_STALE);
}

static void test_absurd_left_alone(void)
{
	struct dynmem_vm v;

	v = guest(1024, 100);
	v.avail_mib = v.total_mib + 1;                 /* more available than total */
	CHECK_EQ(plan1(v, &roomy).why, DYNMEM_ABSURD);
	CHECK_EQ(plan1(v, &roomy).new_target_mib, 1024);
	v = guest(512, 500);
	v.total_mib = 5000;                            /* more than its RAM */
	CHECK_EQ(plan1(v, &roomy).why, DYNMEM_ABSURD);
	CHECK_EQ(plan1(v, &roomy).new_target_mib, 512);
	v = guest(512, 500);
	v.total_mib = 0;
	CHECK_EQ(plan1(v, &roomy).why, DYNMEM_ABSURD);
	v = guest(512, 500);
	v.avail_mib = -5;
	CHECK_EQ(plan1(v, &roomy).why, DYNMEM_ABSURD);
	v = guest(512, 500);
	v.balloon_mib = 4096;                          /* a balloon bigger than RAM */
	CHECK_EQ(plan1(v, &roomy).why, DYNMEM_ABSURD);
	v = guest(512, 100);
	v.avail_mib = v.total_mib - 10;                /* used below 0 with its balloon */
	CHECK_EQ(plan1(v, &roomy).why, DYNMEM_ABSURD);
	v = guest(1024, 100);
	v.balloon_in_total = false;                    /* total + balloon beyond RAM */
	v.balloon_mib = 100;
	CHECK_EQ(plan1(v, &roomy).why, DYNMEM_ABSURD);
}

static void test_balloon_outside_total(void)
{
	/* without deflate-on-oom the guest's total shrinks with its balloon */
	struct dynmem_vm v = guest(1024, 0);

	v.target_mib = 724;
	v.balloon_mib = 300;
	v.balloon_in_total = false;
	v.total_mib = 700;
	v.avail_mib = 700 - 500;
	v = plan1(v, &roomy);
	CHECK_EQ(v.used_mib, 500);
	CHECK_EQ(v.want_mib, 24 + 500 + 100);
	CHECK_EQ(v.why, DYNMEM_SHRINK); /* 100 over, the hysteresis is 72 */
	CHECK_EQ(v.new_target_mib, 624);
}

static void test_buffer_zero_and_large(void)
{
	struct dynmem_vm v = guest(1024, 400);

	v.buffer_pct = 0;
	CHECK_EQ(plan1(v, &roomy).want_mib, 424);
	v.buffer_pct = DYNMEM_BUFFER_MAX;
	CHECK_EQ(plan1(v, &roomy).want_mib, 1024);
}

static void test_growth_limited_by_host(void)
{
	struct dynmem_host h = { .avail_mib = 512 + 60, .low_mib = 512, .stale_s = DYNMEM_STALE_S };
	struct dynmem_vm v[2] = { guest(512, 480), guest(400, 300) };

	/* shortfalls: 600 - 512 = 88 and 384 - 400 < 0 (holds); the host spares 60 */
	dynmem_plan(&h, v, 2);
	CHECK_EQ(v[0].why, DYNMEM_GROW_LIMITED);
	CHECK_EQ(v[0].new_target_mib, 572);
	/* nothing to spare: no growth */
	h.avail_mib = 400;
	v[0] = guest(512, 480);
	dynmem_plan(&h, v, 1);
	CHECK_EQ(v[0].why, DYNMEM_GROW_LIMITED);
	CHECK_EQ(v[0].new_target_mib, 512);
}

static void test_growth_to_largest_shortfall_first(void)
{
	struct dynmem_host h = { .avail_mib = 512 + 20, .low_mib = 512, .stale_s = DYNMEM_STALE_S };
	struct dynmem_vm v[2] = { guest(512, 420), guest(300, 260) };

	/* wants 24 + 420 + 84 = 528 (16 short) and 24 + 260 + 52 = 336 (36 short): the second
	 * gets all 20 */
	dynmem_plan(&h, v, 2);
	CHECK_EQ(v[1].new_target_mib, 320);
	CHECK_EQ(v[1].why, DYNMEM_GROW_LIMITED);
	CHECK_EQ(v[0].new_target_mib, 512);
	CHECK_EQ(v[0].why, DYNMEM_GROW_LIMITED);
}

static void test_pressure_takes_most_surplus_first(void)
{
	/* the host is 100 MiB short; A is 200 over its want (504), B 400 over (504) but both
	 * settling (no shrink of their own): B gives all 100 */
	struct dynmem_host h = { .avail_mib = 412, .low_mib = 512, .stale_s = DYNMEM_STALE_S };
	struct dynmem_vm v[2] = { guest(704, 400), guest(904, 400) };

	v[0].since_change = v[1].since_change = 1;
	dynmem_plan(&h, v, 2);
	CHECK_EQ(v[1].why, DYNMEM_PRESSURE);
	CHECK_EQ(v[1].new_target_mib, 804);
	CHECK_EQ(v[0].why, DYNMEM_HOLD);
	CHECK_EQ(v[0].new_target_mib, 704);
}

static void test_pressure_spreads_then_takes_buffers(void)
{
	/* 700 short: surpluses over want are 200 (A) and 400 (B), 600 in all; the last 100
	 * comes out of a buffer (A's and B's are 80 each: B has the most left over its bare
	 * 424 after giving: both at 504, the first found gives) */
	struct dynmem_host h = { .avail_mib = 0, .low_mib = 700, .stale_s = DYNMEM_STALE_S };
	struct dynmem_vm v[2] = { guest(704, 400), guest(904, 400) };

	v[0].since_change = v[1].since_change = 1;
	dynmem_plan(&h, v, 2);
	CHECK_EQ(v[0].why, DYNMEM_PRESSURE);
	CHECK_EQ(v[1].why, DYNMEM_PRESSURE);
	CHECK_EQ(v[0].new_target_mib + v[1].new_target_mib, 704 + 904 - 700);
	CHECK(v[0].new_target_mib >= 424 && v[1].new_target_mib >= 424);
}

static void test_pressure_never_below_min(void)
{
	struct dynmem_host h = { .avail_mib = 0, .low_mib = 100000, .stale_s = DYNMEM_STALE_S };
	struct dynmem_vm v = guest(1024, 100);

	v.min_mib = 600;
	v.since_change = 1;
	v = plan1(v, &h);
	CHECK_EQ(v.new_target_mib, 600);
}

static void test_pressure_counts_pending_inflation(void)
{
	/* 100 short, but the guest is still inflating 100 MiB it was asked for: nothing more */
	struct dynmem_host h = { .avail_mib = 412, .low_mib = 512, .stale_s = DYNMEM_STALE_S };
	struct dynmem_vm v = guest(904, 400);

	v.balloon_mib = 1024 - 904 - 100;
	v.avail_mib = v.total_mib - 400 - v.balloon_mib;
	v.since_change = 1;
	v = plan1(v, &h);
	CHECK_EQ(v.why, DYNMEM_HOLD);
	CHECK_EQ(v.new_target_mib, 904);
}

static void test_pressure_leaves_bad_stats_alone(void)
{
	struct dynmem_host h = { .avail_mib = 0, .low_mib = 1000, .stale_s = DYNMEM_STALE_S };
	struct dynmem_vm v[2] = { guest(1024, 100), guest(1024, 100) };

	v[0].stats = false;
	v[1].avail_mib = 5000;
	dynmem_plan(&h, v, 2);
	CHECK_EQ(v[0].new_target_mib, 1024);
	CHECK_EQ(v[1].new_target_mib, 1024);
}

static void test_unknown_host_memory_grows(void)
{
	struct dynmem_host h = { .avail_mib = -1, .low_mib = 512, .stale_s = DYNMEM_STALE_S };

	CHECK_EQ(plan1(guest(512, 480), &h).new_target_mib, 600);
}

/* A guest whose programs use `used` MiB, its balloon following the target at once: the
 * plan steps from all of its memory to its want and stays there, with the demand's noise of
 * a few MiB. */
static void test_converges_without_flapping(void)
{
	static const int noise[] = { 0, 3, -2, 5, -4, 1, 0, -3, 4, 2 };
	struct dynmem_vm v = guest(1024, 300);
	double since = 1e9;
	int changes = 0, late_changes = 0;

	for (int step = 0; step < 60; step++) {
		int64_t t = v.target_mib;

		v = guest(t, 300 + noise[step % 10]);
		v.since_change = since;
		v = plan1(v, &roomy);
		since += 5;
		if (v.new_target_mib != t) {
			changes++;
			late_changes += step >= 30;
			since = 0;
			v.target_mib = v.new_target_mib;
		}
	}
	CHECK(v.target_mib >= 24 + 300 + 60 - 8 && v.target_mib <= 24 + 300 + 60 + 70);
	CHECK(changes <= 9);
	CHECK_EQ(late_changes, 0);
}

/* The same with a demand that rises past the buffer and falls back: it grows at once,
 * and shrinks back in steps. */
static void test_follows_demand(void)
{
	struct dynmem_vm v = guest(504, 400);

	v = plan1(v, &roomy);
	CHECK_EQ(v.why, DYNMEM_HOLD);
	v = plan1(guest(504, 470), &roomy);
	CHECK_EQ(v.why, DYNMEM_GROW);
	CHECK_EQ(v.new_target_mib, 24 + 470 + 94);
	v = plan1(guest(588, 300), &roomy);
	CHECK_EQ(v.why, DYNMEM_SHRINK);
	CHECK_EQ(v.new_target_mib, 588 - 102);
}

static void test_why_names(void)
{
	CHECK(!strcmp(dynmem_why_name(DYNMEM_GROW), "grow"));
	CHECK(!strcmp(dynmem_why_name(DYNMEM_ABSURD), "absurd"));
	CHECK(!strcmp(dynmem_why_name((enum dynmem_why)99), "?"));
}

int main(void)
{
	RUN(test_want_is_hidden_plus_used_plus_buffer);
	RUN(test_grows_at_once_to_want);
	RUN(test_grow_capped_at_max);
	RUN(test_small_shortfall_waits);
	RUN(test_shrinks_one_bounded_step);
	RUN(test_shrink_stops_at_want);
	RUN(test_holds_within_hysteresis);
	RUN(test_shrink_waits_to_settle);
	RUN(test_grow_does_not_wait_to_settle);
	RUN(test_never_below_min);
	RUN(test_clamped_into_bounds_even_without_stats);
	RUN(test_min_equal_max_holds);
	RUN(test_no_stats_left_alone);
	RUN(test_stale_left_alone);
	RUN(test_absurd_left_alone);
	RUN(test_balloon_outside_total);
	RUN(test_buffer_zero_and_large);
	RUN(test_growth_limited_by_host);
	RUN(test_growth_to_largest_shortfall_first);
	RUN(test_pressure_takes_most_surplus_first);
	RUN(test_pressure_spreads_then_takes_buffers);
	RUN(test_pressure_never_below_min);
	RUN(test_pressure_counts_pending_inflation);
	RUN(test_pressure_leaves_bad_stats_alone);
	RUN(test_unknown_host_memory_grows);
	RUN(test_converges_without_flapping);
	RUN(test_follows_demand);
	RUN(test_why_names);
	return check_done();
}
