/* Dynamic memory's loop (dynmem.h has the policy): every DYNMEM_PERIOD_S the supervisor's
 * dynamic memory thread asks each VM this host runs (running, not being saved, migrated or
 * stopped) for its balloon's figures over the control socket, reads the host's available
 * memory, plans new targets (dynmem_plan) and sets each changed one through
 * sup_balloon_target, the path of PUT /api/v1/vms/NAME/balloon (event vm-memory-target
 * with by "policy"). A VM whose target a user set by hand (the PUT) is left alone until its
 * memory_min_mib, memory_buffer_pct or memory_mib is written again, a PUT {"auto": true}
 * hands it back, or it starts again. What the loop saw last is kept per VM for the API
 * (sup_dynmem_json). */
#include "server/sup.h"
#include "server/sup_int.h"
#include "server/dynmem.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/vmctl.h"
#include "util/clock.h"
#include "util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DYNMEM_PERIOD_S 5
#define DYNMEM_CALL_MS 2000

/* What the loop keeps of one VM's run. */
struct dm_vm {
	int64_t id;
	char name[64];
	pid_t mon;              /* its run (0: not seen yet): another monitor is another run */
	bool manual;            /* a user set its target: the policy leaves it alone */
	int64_t man_min, man_max;
	int man_buf;            /* the settings when that was: a change ends it */
	double changed;         /* clock_mono of the policy's last change (0: none) */
	double changed_at;      /* its wall time */
	double checked_at;      /* the last step's wall time (0: none) */
	bool seen;              /* in the step that runs */
	struct dynmem_vm last;  /* the last step's plan (last.why) */
	bool planned;           /* last is valid: the VM was in that plan */
	bool failed;            /* the last target could not be set */
};

struct sup_dynmem {
	struct supervisor *s;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_mutex_t send;   /* one balloon target on its way at a time, taken before lock:
	                         * a user's (sup_dynmem_user_target) and the policy's never
	                         * cross between the policy's look at manual and its send */
	pthread_cond_t cond;
	bool stop, started;
	struct dm_vm *vms;
	size_t n, cap;
};

static struct dm_vm *dm_find(struct sup_dynmem *d, int64_t id, bool add)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->vms[i].id == id)
			return &d->vms[i];
	if (!add)
		return NULL;
	if (d->n == d->cap) {
		size_t nc = d->cap ? 2 * d->cap : 16;
		struct dm_vm *nv = realloc(d->vms, nc * sizeof(*nv));

		if (!nv)
			return NULL;
		d->vms = nv;
		d->cap = nc;
	}
	memset(&d->vms[d->n], 0, sizeof(d->vms[0]));
	d->vms[d->n].id = id;
	return &d->vms[d->n++];
}

int sup_balloon_target(struct server *srv, struct dbc *c, int64_t id, const char *name,
		       int64_t target_mib, const char *who, json_t *data, json_t **reply)
{
	json_t *msg = json_pack("{s:s,s:I}", "cmd", "balloon", "target_mib", (json_int_t)target_mib);
	int rc;

	*reply = NULL;
	if (!msg) {
		json_decref(data);
		return -ENOMEM;
	}
	rc = vmctl_send(srv, id, msg, DYNMEM_CALL_MS * 2 + 1000, reply);
	json_decref(msg);
	if (rc) {
		json_decref(data);
		return rc;
	}
	if (!data)
		data = json_object();
	json_object_set_new(data, "target_mib", json_integer(target_mib));
	if (who)
		events_emit(srv, c, "vm-memory-target", "vm", name, who, data,
			    "%s: memory target %lld MiB set by %s", name, (long long)target_mib, who);
	else
		events_emit(srv, c, "vm-memory-target", "vm", name, NULL, data,
			    "%s: memory target %lld MiB (dynamic memory: %s)", name,
			    (long long)target_mib,
			    json_string_value(json_object_get(data, "reason")) ?: "policy");
	return 0;
}

void sup_dynmem_manual(struct server *srv, int64_t id, bool manual, int64_t min_mib,
		       int buffer_pct, int64_t max_mib)
{
	struct sup_dynmem *d = srv->sup ? srv->sup->dyn : NULL;
	struct dm_vm *v;

	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	v = dm_find(d, id, manual);
	if (v) {
		/* the run it set it in is the one that runs: the next step's (a restart
		 * before it seen as another run would drop the user's target) */
		if (manual)
			v->mon = 0;
		v->manual = manual;
		v->man_min = min_mib;
		v->man_buf = buffer_pct;
		v->man_max = max_mib;
	}
	pthread_mutex_unlock(&d->lock);
}

int sup_dynmem_user_target(struct server *srv, struct dbc *c, int64_t id, const char *name,
			   int64_t target_mib, const char *who, json_t *data, json_t **reply,
			   int64_t min_mib, int buffer_pct, int64_t max_mib)
{
	struct sup_dynmem *d = srv->sup ? srv->sup->dyn : NULL;
	int rc;

	if (d)
		pthread_mutex_lock(&d->send);
	rc = sup_balloon_target(srv, c, id, name, target_mib, who, data, reply);
	if (!rc)
		sup_dynmem_manual(srv, id, true, min_mib, buffer_pct, max_mib);
	if (d)
		pthread_mutex_unlock(&d->send);
	return rc;
}

/* One VM of a step: its identity, its settings and what its balloon said. */
struct step_vm {
	int64_t id;
	char name[64];
	pid_t mon;
	int64_t min, max;       /* settings: min 0 for memory_mib */
	int buf;
	struct dynmem_vm p;
	bool ok;                /* its balloon answered */
};

static int64_t stat_mib(const json_t *st, const char *k, bool *have)
{
	const json_t *v = json_object_get(st, k);

	*have = json_is_integer(v);
	return *have ? (int64_t)(json_integer_value(v) >> 20) : 0;
}

/* Read VM x's settings and ask its balloon. 0 when it is one for the plan. */
static int step_read(struct server *srv, struct dbc *c, struct step_vm *x)
{
	struct inv_vm_status st;
	struct inv_vm_hw hw;
	struct inv_vm vm;
	json_t *b = NULL, *stats;
	bool have_total, have_avail, have_free;
	int64_t avail, fr;
	int rc;

	if (inv_vm_get_status(c, x->id, &st))
		return -ENOENT;
	rc = strcmp(st.state, INV_VM_RUNNING) ? -EBUSY : 0;
	inv_vm_status_clear(&st);
	if (rc || inv_vm_hw_get(c, x->id, &hw) || !hw.balloon || inv_vm_get(c, x->id, &vm))
		return -ENOENT;
	x->max = vm.memory_mib;
	inv_vm_clear(&vm);
	x->min = hw.memory_min_mib;
	x->buf = hw.memory_buffer_pct;
	rc = vmctl_call(srv, x->id, "balloon", DYNMEM_CALL_MS, &b);
	if (rc) {
		json_decref(b);
		return rc;
	}
	memset(&x->p, 0, sizeof(x->p));
	/* the VMM's RAM is the maximum (memory_mib cannot change while it runs) */
	x->p.max_mib = json_integer_value(json_object_get(b, "ram_mib"));
	x->p.min_mib = x->min > 0 && x->min < x->p.max_mib ? x->min : x->p.max_mib;
	x->p.buffer_pct = x->buf;
	x->p.target_mib = json_integer_value(json_object_get(b, "target_mib"));
	x->p.balloon_mib = json_integer_value(json_object_get(b, "balloon_mib"));
	x->p.balloon_in_total = json_is_true(json_object_get(b, "deflate_on_oom"));
	stats = json_object_get(b, "stats");
	x->p.total_mib = stat_mib(stats, "total", &have_total);
	avail = stat_mib(stats, "available", &have_avail);
	fr = stat_mib(stats, "free", &have_free);
	x->p.avail_mib = have_avail ? avail : fr;
	x->p.stats = json_is_true(json_object_get(b, "driver")) && have_total &&
		     (have_avail || have_free);
	x->p.stats_age = json_number_value(json_object_get(stats, "age_seconds"));
	json_decref(b);
	x->ok = x->p.max_mib > 0;
	return x->ok ? 0 : -EPROTO;
}

/* The host's available memory and its low mark (max(256 MiB, 5% of its RAM)), in MiB. */
static void host_memory(struct dynmem_host *h)
{
	char b[4096], *s;
	int64_t total = 0;

	h->avail_mib = -1;
	h->stale_s = DYNMEM_STALE_S;
	if (!sup_read_small("/proc/meminfo", b, sizeof(b))) {
		if ((s = strstr(b, "MemTotal:")))
			total = strtoll(s + 9, NULL, 10) / 1024;
		if ((s = strstr(b, "MemAvailable:")))
			h->avail_mib = strtoll(s + 13, NULL, 10) / 1024;
	}
	h->low_mib = total / 20 > 256 ? total / 20 : 256;
}

/* The VMs this host runs that a step looks at (not being saved, migrated or stopped). */
static struct step_vm *step_list(struct supervisor *s, size_t *n)
{
	struct step_vm *x = NULL, *nx;
	size_t cap = 0;
	struct runvm *v;

	*n = 0;
	pthread_mutex_lock(&s->lock);
	for (v = s->vms; v; v = v->next) {
		if (v->incoming || v->migrate_req || v->save_req || v->stop_req || v->reset_req ||
		    v->shutdown_deadline)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			nx = realloc(x, cap * sizeof(*x));
			if (!nx)
				break;
			x = nx;
		}
		memset(&x[*n], 0, sizeof(*x));
		x[*n].id = v->id;
		x[*n].mon = v->mon_pid;
		snprintf(x[*n].name, sizeof(x[*n].name), "%s", v->name);
		(*n)++;
	}
	pthread_mutex_unlock(&s->lock);
	return x;
}

void sup_dynmem_step(struct supervisor *s)
{
	struct sup_dynmem *d = s->dyn;
	struct server *srv = s->srv;
	struct dynmem_host h;
	struct dynmem_vm *plan = NULL;
	struct step_vm *x;
	struct dbc *c;
	size_t n, np = 0, i;
	double now = clock_mono(), wall = clock_real();

	if (!d)
		return;
	x = step_list(s, &n);
	if (!n) {
		free(x);
		return;
	}
	c = inv_get(srv->db);
	if (!c) {
		free(x);
		return;
	}
	for (i = 0; i < n && !srv->stopping; i++)
		step_read(srv, c, &x[i]);
	host_memory(&h);
	plan = calloc(n, sizeof(*plan));
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->n; i++)
		d->vms[i].seen = false;
	for (i = 0; plan && i < n; i++) {
		struct dm_vm *v;

		if (!x[i].ok || !(v = dm_find(d, x[i].id, true)))
			continue;
		v->seen = true;
		snprintf(v->name, sizeof(v->name), "%s", x[i].name);
		if (v->mon && v->mon != x[i].mon) {
			/* another run: all its memory, and no manual target */
			v->manual = false;
			v->changed = v->changed_at = 0;
		}
		v->mon = x[i].mon;
		v->checked_at = wall;
		if (v->manual && (v->man_min != x[i].min || v->man_buf != x[i].buf ||
				  v->man_max != x[i].max))
			v->manual = false;
		v->planned = !v->manual;
		if (v->manual)
			continue;
		x[i].p.since_change = v->changed ? now - v->changed : 1e9;
		plan[np++] = x[i].p;
	}
	/* runs that ended, and VMs not looked at (paused, stopping): forgotten */
	for (i = 0; i < d->n;)
		if (!d->vms[i].seen && !d->vms[i].manual && d->vms[i].mon)
			d->vms[i] = d->vms[--d->n];
		else
			i++;
	pthread_mutex_unlock(&d->lock);
	if (plan)
		dynmem_plan(&h, plan, np);
	/* apply, the VMs in the order of the plan (x's order less the manual ones) */
	for (i = 0, np = 0; plan && i < n; i++) {
		struct dynmem_vm *p;
		struct dm_vm *v;
		json_t *reply = NULL;
		bool manual;
		int rc = 0;

		pthread_mutex_lock(&d->send);
		pthread_mutex_lock(&d->lock);
		v = x[i].ok ? dm_find(d, x[i].id, false) : NULL;
		if (!v || !v->planned) {
			pthread_mutex_unlock(&d->lock);
			pthread_mutex_unlock(&d->send);
			continue;
		}
		/* a user's PUT since the plan: theirs stands */
		manual = v->manual;
		pthread_mutex_unlock(&d->lock);
		p = &plan[np++];
		if (!manual && p->new_target_mib != p->target_mib) {
			json_t *data = json_pack("{s:s,s:s,s:I,s:I}", "by", "policy", "reason",
						 dynmem_why_name(p->why), "previous_mib",
						 (json_int_t)p->target_mib, "min_mib",
						 (json_int_t)p->min_mib);

			if (data && p->used_mib >= 0) {
				json_object_set_new(data, "guest_used_mib", json_integer(p->used_mib));
				json_object_set_new(data, "want_mib", json_integer(p->want_mib));
			}
			rc = sup_balloon_target(srv, c, x[i].id, x[i].name, p->new_target_mib, NULL,
						data, &reply);
			json_decref(reply);
			if (rc)
				vsrv_log("vm %s: dynamic memory: target %lld MiB not set: %s",
					 x[i].name, (long long)p->new_target_mib, strerror(-rc));
		}
		pthread_mutex_unlock(&d->send);
		pthread_mutex_lock(&d->lock);
		if ((v = dm_find(d, x[i].id, false))) {
			v->last = *p;
			v->failed = rc != 0;
			if (!rc && !manual && p->new_target_mib != p->target_mib) {
				v->changed = clock_mono();
				v->changed_at = clock_real();
			}
		}
		pthread_mutex_unlock(&d->lock);
	}
	inv_put(c);
	free(plan);
	free(x);
}

static void *dynmem_thread(void *arg)
{
	struct sup_dynmem *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += DYNMEM_PERIOD_S;
		pthread_cond_timedwait(&d->cond, &d->lock, &ts);
		if (d->stop)
			break;
		pthread_mutex_unlock(&d->lock);
		sup_dynmem_step(d->s);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int sup_dynmem_start(struct supervisor *s, bool thread)
{
	struct sup_dynmem *d = calloc(1, sizeof(*d));
	pthread_condattr_t ca;

	if (!d)
		return -ENOMEM;
	d->s = s;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->send, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
	s->dyn = d;
	d->started = thread;
	if (thread && pthread_create(&d->thread, NULL, dynmem_thread, d)) {
		s->dyn = NULL;
		pthread_cond_destroy(&d->cond);
		pthread_mutex_destroy(&d->send);
		pthread_mutex_destroy(&d->lock);
		free(d);
		return -EAGAIN;
	}
	return 0;
}

void sup_dynmem_stop(struct supervisor *s)
{
	struct sup_dynmem *d = s->dyn;

	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	if (d->started)
		pthread_join(d->thread, NULL);
	s->dyn = NULL;
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->send);
	pthread_mutex_destroy(&d->lock);
	free(d->vms);
	free(d);
}

static json_t *mib_or_null(bool have, int64_t v)
{
	return have ? json_integer(v) : json_null();
}

json_t *sup_dynmem_json(struct server *srv, int64_t id, const json_t *vm)
{
	struct sup_dynmem *d = srv->sup ? srv->sup->dyn : NULL;
	const json_t *b = json_object_get(json_object_get(vm, "runtime"), "balloon");
	const json_t *st = json_object_get(b, "stats");
	int64_t max = json_integer_value(json_object_get(vm, "memory_mib"));
	int64_t min = json_integer_value(json_object_get(vm, "memory_min_mib"));
	const char *state = json_string_value(json_object_get(vm, "state")) ?: "";
	bool up = !strcmp(state, INV_VM_RUNNING) || !strcmp(state, INV_VM_PAUSED);
	bool enabled = min < max && json_is_true(json_object_get(vm, "balloon"));
	bool have_total, have_avail, have_free, manual = false, planned = false, failed = false;
	int64_t total = stat_mib(st, "total", &have_total), avail = stat_mib(st, "available", &have_avail);
	int64_t fr = stat_mib(st, "free", &have_free), used = -1;
	struct dynmem_vm last = { .used_mib = -1, .want_mib = -1 };
	double changed_at = 0, checked_at = 0;
	struct dm_vm *v;
	json_t *o;

	if (d && up) {
		/* (what it kept of a run that ended is not this VM's any more) */
		pthread_mutex_lock(&d->lock);
		if ((v = dm_find(d, id, false))) {
			manual = v->manual;
			planned = v->planned && v->checked_at > 0;
			failed = v->failed;
			last = v->last;
			changed_at = v->changed_at;
			checked_at = v->checked_at;
		}
		pthread_mutex_unlock(&d->lock);
	}
	if (have_total && (have_avail || have_free))
		used = total - (have_avail ? avail : fr) -
		       (json_is_true(json_object_get(b, "deflate_on_oom")) ?
			json_integer_value(json_object_get(b, "balloon_mib")) : 0);
	o = json_pack("{s:b,s:s,s:I,s:I,s:i}", "enabled", enabled,
		      "mode", manual ? "manual" : enabled ? "policy" : "off",
		      "min_mib", (json_int_t)min, "max_mib", (json_int_t)max,
		      "buffer_pct", (int)json_integer_value(json_object_get(vm, "memory_buffer_pct")));
	if (!o)
		return NULL;
	json_object_set_new(o, "target_mib", b ? json_incref(json_object_get(b, "target_mib")) :
			    json_null());
	json_object_set_new(o, "actual_mib", b ? json_incref(json_object_get(b, "actual_mib")) :
			    json_null());
	json_object_set_new(o, "guest_used_mib", mib_or_null(used >= 0, used));
	json_object_set_new(o, "guest_free_mib", mib_or_null(have_free, fr));
	json_object_set_new(o, "guest_available_mib", mib_or_null(have_avail, avail));
	json_object_set_new(o, "want_mib", mib_or_null(planned && last.want_mib >= 0, last.want_mib));
	json_object_set_new(o, "decision", planned ? json_string(failed ? "failed" :
					      dynmem_why_name(last.why)) : json_null());
	json_object_set_new(o, "checked", checked_at > 0 ? json_real(checked_at) : json_null());
	json_object_set_new(o, "changed", changed_at > 0 ? json_real(changed_at) : json_null());
	return o;
}
