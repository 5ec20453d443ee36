/* Login throttling (throttle.h): a fixed table of counters, keyed "u:NAME" and "a:ADDR". */
#include "server/throttle.h"
#include "util/clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096

struct slot {
	char key[80];            /* "" when free */
	unsigned fails;
	unsigned inflight;
	double last;             /* monotonic time of the last failure */
	double until;            /* refused before this */
};

struct throttle {
	pthread_mutex_t lock;
	struct slot s[SLOTS];
};

int throttle_create(struct throttle **out)
{
	struct throttle *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

void throttle_destroy(struct throttle *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static void make_key(char *key, size_t n, char kind, const char *v)
{
	snprintf(key, n, "%c:%s", kind, v);
}

/* The slot of key, forgetting stale counts; with create, a new one (evicting the idle slot
 * whose last failure is oldest when the table is full). NULL when none can be had. */
static struct slot *find(struct throttle *t, const char *key, double now, bool create)
{
	struct slot *freeslot = NULL, *oldest = NULL, *e;
	size_t i;

	for (i = 0; i < SLOTS; i++) {
		e = &t->s[i];
		if (e->key[0] && !e->inflight && now - e->last > THROTTLE_FORGET && now >= e->until)
			e->key[0] = '\0';
		if (!e->key[0]) {
			if (!freeslot)
				freeslot = e;
			continue;
		}
		if (!strcmp(e->key, key))
			return e;
		if (!e->inflight && (!oldest || e->last < oldest->last))
			oldest = e;
	}
	if (!create)
		return NULL;
	e = freeslot ? freeslot : oldest;
	if (e) {
		memset(e, 0, sizeof(*e));
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->last = now;
	}
	return e;
}

/* 0 when e lets one more attempt through now, else the seconds to wait. */
static unsigned wait_for(const struct slot *e, unsigned free_fails, double now)
{
	unsigned budget;

	if (!e)
		return 0;
	if (now < e->until)
		return (unsigned)(e->until - now) + 1;   /* whole seconds, rounded up */
	/* Before backoff, the free failures left; after it, one attempt at a time. */
	budget = e->fails < free_fails ? free_fails - e->fails : 1;
	return e->inflight < budget ? 0 : 1;
}

unsigned throttle_check(struct throttle *t, const char *user, const char *addr)
{
	char uk[80], ak[80];
	double now = clock_mono();
	struct slot *u, *a = NULL;
	unsigned w, wa;

	make_key(uk, sizeof(uk), 'u', user);
	if (addr)
		make_key(ak, sizeof(ak), 'a', addr);
	pthread_mutex_lock(&t->lock);
	w = wait_for(find(t, uk, now, false), THROTTLE_USER_FREE, now);
	wa = addr ? wait_for(find(t, ak, now, false), THROTTLE_ADDR_FREE, now) : 0;
	if (wa > w)
		w = wa;
	if (!w) {
		/* Each slot is marked in flight before the next lookup, which may recycle idle slots. */
		u = find(t, uk, now, true);
		if (u)
			u->inflight++;
		if (addr)
			a = find(t, ak, now, true);
		if (a)
			a->inflight++;
	}
	pthread_mutex_unlock(&t->lock);
	return w;
}

static void done_one(struct throttle *t, const char *key, unsigned free_fails, int result,
		     bool forget, double now)
{
	struct slot *e = find(t, key, now, false);
	unsigned shift;
	double delay;

	if (!e)
		return;
	if (e->inflight)
		e->inflight--;
	if (result == 0 && forget) {
		if (!e->inflight)
			e->key[0] = '\0';
		else
			e->fails = 0, e->until = 0;
		return;
	}
	if (result != -EACCES)
		return;
	e->fails++;
	e->last = now;
	if (e->fails >= free_fails) {
		shift = e->fails - free_fails;
		delay = (double)(1u << (shift > 16 ? 16 : shift));
		e->until = now + (delay > THROTTLE_MAX_DELAY ? THROTTLE_MAX_DELAY : delay);
	}
}

void throttle_done(struct throttle *t, const char *user, const char *addr, int result)
{
	char key[80];
	double now = clock_mono();

	pthread_mutex_lock(&t->lock);
	make_key(key, sizeof(key), 'u', user);
	done_one(t, key, THROTTLE_USER_FREE, result, true, now);
	if (addr) {
		make_key(key, sizeof(key), 'a', addr);
		done_one(t, key, THROTTLE_ADDR_FREE, result, false, now);
	}
	pthread_mutex_unlock(&t->lock);
}
