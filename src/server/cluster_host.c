/* Cluster membership: the host's registration, its lease's renewal and the watchdog that
 * stops the host's VMs before the lease can expire (cluster.h has the timing). */
#include "server/cluster_int.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* CLOCK_BOOTTIME: it goes on while the host is suspended, as the lease's time does in
 * etcd (CLOCK_MONOTONIC stops: a host resumed after T would still think its lease young). */
int64_t cluster_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int put_alive_locked(struct cluster *cl, int64_t lease, bool create, int64_t free_mib);

/* The leased key saying the host is alive: its free memory, its lease and its draining
 * mark; one writer at a time (alive_lock), so a write never carries a stale mark. */
static int put_alive(struct cluster *cl, int64_t lease, bool create)
{
	int64_t free_mib = cl->cfg.free_mib ? cl->cfg.free_mib(cl->cfg.arg) : 0;
	int rc;

	pthread_mutex_lock(&cl->alive_lock);
	rc = put_alive_locked(cl, lease, create, free_mib);
	pthread_mutex_unlock(&cl->alive_lock);
	return rc;
}

static int put_alive_locked(struct cluster *cl, int64_t lease, bool create, int64_t free_mib)
{
	char key[160], *text;
	json_t *o;
	int rc;

	snprintf(key, sizeof(key), "%s%s/alive", CLUSTER_HOSTS, cl->name);
	o = json_pack("{s:s,s:I,s:I,s:s}", "lease", "", "since", (json_int_t)time(NULL),
		      "free_memory_mib", (json_int_t)free_mib, "inventory", cl->inventory);
	if (!o)
		return -ENOMEM;
	json_object_set_new(o, "lease", json_sprintf("%llx", (long long)lease));
	pthread_mutex_lock(&cl->lock);
	if (cl->facts)
		json_object_update_missing(o, cl->facts);
	if (cl->draining)
		json_object_set_new(o, "draining", json_true());
	pthread_mutex_unlock(&cl->lock);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	if (create) {
		struct etcd_kv holder = { 0 };

		rc = etcd_cas(cl->etcd, key, 0, text, strlen(text), lease, NULL, &holder);
		if (rc == -EEXIST && holder.lease == lease)
			rc = 0;
		etcd_kv_clear(&holder);
	} else {
		rc = etcd_put(cl->etcd, key, text, strlen(text), lease, NULL);
	}
	free(text);
	if (!rc)
		cl->free_sent = free_mib;
	return rc;
}

void cluster_refresh_facts(struct cluster *cl, int64_t rev)
{
	json_t *f = cl->cfg.facts ? cl->cfg.facts(cl->cfg.arg, rev) : NULL, *old = NULL;
	int64_t lease;
	bool fenced;

	if (!f)
		return;
	pthread_mutex_lock(&cl->lock);
	if (cl->facts && json_equal(cl->facts, f)) {
		pthread_mutex_unlock(&cl->lock);
		json_decref(f);
		return;
	}
	old = cl->facts;
	cl->facts = f;
	pthread_mutex_unlock(&cl->lock);
	json_decref(old);
	fenced = cluster_lease_now(cl, &lease);
	if (!fenced && lease && put_alive(cl, lease, false))
		vsrv_log("cluster: host %s cannot publish what it has (CPUs, bridges, disks): %s",
			 cl->name, etcd_errmsg());
}

void cluster_facts_again(struct cluster *cl)
{
	cluster_refresh_facts(cl, 0);
}

/* The draining mark's key, kept across restarts (no lease). */
static void draining_key(const struct cluster *cl, char *key, size_t n)
{
	snprintf(key, n, "%s%s/draining", CLUSTER_HOSTS, cl->name);
}

int cluster_set_draining(struct cluster *cl, bool on)
{
	char key[160], text[64];
	int64_t lease;
	bool fenced;
	int rc;

	/* the lasting mark first: a host that restarts reads it (cluster_start) */
	draining_key(cl, key, sizeof(key));
	snprintf(text, sizeof(text), "{\"since\":%lld}", (long long)time(NULL));
	rc = on ? etcd_put(cl->etcd, key, text, strlen(text), 0, NULL) :
		  etcd_delete(cl->etcd, key, false, NULL);
	if (rc && !(rc == -ENOENT && !on)) {
		vsrv_log("cluster: host %s cannot record that it is %sdraining: %s", cl->name,
			 on ? "" : "not ", etcd_errmsg());
		return rc;
	}
	pthread_mutex_lock(&cl->lock);
	cl->draining = on;
	pthread_mutex_unlock(&cl->lock);
	fenced = cluster_lease_now(cl, &lease);
	if (fenced || !lease)
		return -ENOLINK;
	rc = put_alive(cl, lease, false);
	if (rc)
		vsrv_log("cluster: host %s cannot say it is %sdraining: %s", cl->name, on ? "" : "not ",
			 etcd_errmsg());
	return rc;
}

bool cluster_draining(struct cluster *cl)
{
	bool on;

	pthread_mutex_lock(&cl->lock);
	on = cl->draining;
	pthread_mutex_unlock(&cl->lock);
	return on;
}

/* A new lease and the host's keys under it. 0, -EEXIST (a live host has the name) or -errno
 * (etcd_errmsg says why). */
static int do_register(struct cluster *cl)
{
	char key[160], *text;
	int64_t lease = 0, sent = cluster_now_ms();
	json_t *info;
	int rc;

	rc = etcd_lease_grant(cl->etcd, cl->cfg.ttl, &lease, NULL);
	if (rc)
		return rc;
	rc = put_alive(cl, lease, true);
	if (rc) {
		etcd_lease_revoke(cl->etcd, lease);
		return rc;
	}
	/* What the host is: kept when it goes (GET /api/v1/hosts shows it as not alive). */
	snprintf(key, sizeof(key), "%s%s/info", CLUSTER_HOSTS, cl->name);
	info = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:I}", "name", cl->name, "address", cl->address,
			 "api_url", cl->cfg.api_url, "peer_key", cl->peer_key,
			 "cpus", (int)cl->cfg.cpus, "memory_mib", (json_int_t)cl->cfg.memory_mib,
			 "registered", (json_int_t)time(NULL));
	text = info ? json_dumps(info, JSON_COMPACT) : NULL;
	json_decref(info);
	rc = text ? etcd_put(cl->etcd, key, text, strlen(text), 0, NULL) : -ENOMEM;
	free(text);
	if (rc) {
		etcd_lease_revoke(cl->etcd, lease);
		return rc;
	}
	pthread_mutex_lock(&cl->lock);
	cl->lease = lease;
	cl->last_ok = sent;     /* the lease cannot end before sent + T */
	cl->expired = false;
	cl->fenced = false;
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	return 0;
}

/* The lease of an earlier daemon of this host (kept in cfg.lease_file), when it still lives
 * and still holds the host's alive key: renewed and taken up again. 0 when taken up. */
static int take_up(struct cluster *cl)
{
	struct etcd_kv kv = { 0 };
	char key[160], buf[32] = "";
	int64_t lease, sent, ttl;
	FILE *f;
	int rc;

	if (!cl->lease_file[0] || !(f = fopen(cl->lease_file, "re")))
		return -ENOENT;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	lease = strtoll(buf, NULL, 16);
	if (lease <= 0)
		return -ENOENT;
	snprintf(key, sizeof(key), "%s%s/alive", CLUSTER_HOSTS, cl->name);
	rc = etcd_get(cl->etcd, key, &kv);
	if (!rc && kv.lease != lease)
		rc = -ENOENT;
	etcd_kv_clear(&kv);
	sent = cluster_now_ms();
	if (!rc)
		rc = etcd_lease_keepalive(cl->etcd, lease, &ttl);
	if (rc)
		return rc;
	pthread_mutex_lock(&cl->lock);
	cl->lease = lease;
	cl->last_ok = sent;
	pthread_mutex_unlock(&cl->lock);
	vsrv_log("cluster: host %s takes its lease %llx up again (a daemon restarted within its "
		 "TTL)", cl->name, (long long)lease);
	return 0;
}

/* The watchdog's deadline into the deadline file, atomically (the monitors read it). */
static void save_deadline(struct cluster *cl)
{
	char tmp[4200];
	int64_t d;
	FILE *f;

	if (!cl->deadline_file[0])
		return;
	pthread_mutex_lock(&cl->lock);
	d = cl->last_ok + cl->fire_ms;
	pthread_mutex_unlock(&cl->lock);
	snprintf(tmp, sizeof(tmp), "%s.tmp", cl->deadline_file);
	f = fopen(tmp, "we");
	if (!f || fprintf(f, "%lld\n", (long long)d) < 0 || fclose(f) ||
	    rename(tmp, cl->deadline_file)) {
		if (f)
			fclose(f);
		vsrv_log("cluster: cannot write %s: %s", cl->deadline_file, strerror(errno));
	}
}

const char *cluster_deadline_file(const struct cluster *cl)
{
	return cl->deadline_file[0] ? cl->deadline_file : NULL;
}

static void save_lease(struct cluster *cl)
{
	FILE *f;

	if (!cl->lease_file[0])
		return;
	f = fopen(cl->lease_file, "we");
	if (!f || fprintf(f, "%llx\n", (long long)cl->lease) < 0 || fclose(f)) {
		if (f)
			fclose(f);
		vsrv_log("cluster: cannot write %s: %s", cl->lease_file, strerror(errno));
	}
}

bool cluster_lease_now(struct cluster *cl, int64_t *lease)
{
	bool fenced;

	pthread_mutex_lock(&cl->lock);
	*lease = cl->lease;
	fenced = cl->fenced || cl->expired;
	pthread_mutex_unlock(&cl->lock);
	return fenced;
}

void cluster_wait_until(struct cluster *cl, int64_t ms)
{
	int64_t left = ms - cluster_now_ms(), until;
	struct timespec ts;

	if (cl->stop || left <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	until = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (left < 250 ? left : 250);
	ts.tv_sec = until / 1000;
	ts.tv_nsec = (until % 1000) * 1000000;
	pthread_cond_timedwait(&cl->cond, &cl->lock, &ts);
}

/* The renewal thread: keepalive every T/3; after a fence, register again. */
static void *renew_thread(void *arg)
{
	struct cluster *cl = arg;
	int64_t next = cluster_now_ms() + cl->renew_ms;
	bool was_failing = false;

	pthread_mutex_lock(&cl->lock);
	while (!cl->stop) {
		int64_t lease, sent, ttl = 0;
		bool fenced;
		int rc;

		while (!cl->stop && cluster_now_ms() < next)
			cluster_wait_until(cl, next);
		if (cl->stop)
			break;
		lease = cl->lease;
		fenced = cl->fenced;
		pthread_mutex_unlock(&cl->lock);
		next = cluster_now_ms() + cl->renew_ms;
		if (fenced) {
			/* The old lease's keys (VM ownership) must go: its VMs are dead. */
			etcd_lease_revoke(cl->etcd, lease);
			rc = do_register(cl);
			if (!rc) {
				save_lease(cl);
				save_deadline(cl);
			}
			if (!rc)
				vsrv_log("cluster: host %s registered again (lease %llx) after its fence",
					 cl->name, (long long)cl->lease);
			pthread_mutex_lock(&cl->lock);
			continue;
		}
		sent = cluster_now_ms();
		rc = etcd_lease_keepalive(cl->etcd, lease, &ttl);
		if (rc && !was_failing)
			vsrv_log("cluster: host %s cannot renew its lease %llx: %s", cl->name,
				 (long long)lease, etcd_errmsg());
		was_failing = rc != 0;
		/* A failed renewal is tried again soon, not a third of T later: a leader election
		 * (the leader killed) makes renewals fail for an election timeout or two, and
		 * the watchdog fires T - M - T/3 after the failures begin at the earliest. */
		if (rc && rc != -ENOENT)
			next = cluster_now_ms() + 250;
		if (!rc && llabs(cl->cfg.free_mib ? cl->cfg.free_mib(cl->cfg.arg) - cl->free_sent : 0) >= 64)
			put_alive(cl, lease, false);
		if (!rc && sent > cl->last_ok) {
			pthread_mutex_lock(&cl->lock);
			if (lease == cl->lease)
				cl->last_ok = sent;
			pthread_mutex_unlock(&cl->lock);
			save_deadline(cl);
		}
		pthread_mutex_lock(&cl->lock);
		if (lease != cl->lease)
			continue;
		if (rc == -ENOENT)
			cl->expired = true;
		pthread_cond_broadcast(&cl->cond);
	}
	pthread_mutex_unlock(&cl->lock);
	return NULL;
}

/* The watchdog: fence at last_ok + T - M, or at once when the lease is known expired. */
static void *watchdog_thread(void *arg)
{
	struct cluster *cl = arg;

	pthread_mutex_lock(&cl->lock);
	while (!cl->stop) {
		int64_t deadline = cl->last_ok + cl->fire_ms, now = cluster_now_ms();
		char why[256];
		int n;

		if (cl->fenced) {
			cluster_wait_until(cl, now + 1000);
			continue;
		}
		if (!cl->expired && now < deadline) {
			cluster_wait_until(cl, deadline);
			continue;
		}
		cl->fenced = true;
		cl->fences++;
		snprintf(why, sizeof(why), "lease %llx of host %s %s %.3f s after its last renewal "
			 "was sent (TTL %u s, fires at %.3f s, margin %u ms)", (long long)cl->lease,
			 cl->name, cl->expired ? "expired" : "not renewed", (now - cl->last_ok) / 1e3,
			 cl->cfg.ttl, cl->fire_ms / 1e3, cl->margin_ms);
		pthread_mutex_unlock(&cl->lock);
		vsrv_log("cluster: watchdog: %s: stopping this host's VMs", why);
		n = cl->cfg.fence ? cl->cfg.fence(cl->cfg.arg, why) : 0;
		vsrv_log("cluster: watchdog: fenced: %d VM(s) stopped %.3f s after the last renewal",
			 n, (cluster_now_ms() - cl->last_ok) / 1e3);
		pthread_mutex_lock(&cl->lock);
	}
	pthread_mutex_unlock(&cl->lock);
	return NULL;
}

static bool valid_name(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n > 63)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || (i && strchr("-_.", s[i]))))
			return false;
	return true;
}

int cluster_start(const struct cluster_config *cfg, struct cluster **out)
{
	pthread_condattr_t ca;
	struct cluster *cl;
	int64_t give_up;
	int rc;

	if (!cfg->name || !valid_name(cfg->name) || cfg->ttl < 3 || cfg->ttl > 300 ||
	    !cfg->api_url || cfg->margin_ms >= cfg->ttl * 1000 / 2 + 1) {
		vsrv_log("cluster: the host name is 1 to 63 letters, digits, '-', '_', '.'; the "
			 "TTL 3 to 300 s; the margin under half of it");
		return -EINVAL;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->cfg = *cfg;
	snprintf(cl->name, sizeof(cl->name), "%s", cfg->name);
	snprintf(cl->api_url, sizeof(cl->api_url), "%s", cfg->api_url);
	cl->cfg.name = cl->name;
	cl->cfg.api_url = cl->api_url;
	/* the address: the API URL's host ("https://[::1]:8450/x" -> "::1") */
	{
		const char *h = strstr(cl->api_url, "://");
		size_t len;

		h = h ? h + 3 : cl->api_url;
		if (*h == '[') {
			h++;
			len = strcspn(h, "]");
		} else {
			len = strcspn(h, ":/");
		}
		snprintf(cl->address, sizeof(cl->address), "%.*s", (int)len, h);
	}
	if (cfg->inventory)
		snprintf(cl->inventory, sizeof(cl->inventory), "%s", cfg->inventory);
	cl->cfg.inventory = cl->inventory;
	if (cfg->lease_file)
		snprintf(cl->lease_file, sizeof(cl->lease_file), "%s", cfg->lease_file);
	if (cfg->deadline_file)
		snprintf(cl->deadline_file, sizeof(cl->deadline_file), "%s", cfg->deadline_file);
	cl->margin_ms = cfg->margin_ms ? cfg->margin_ms : cfg->ttl * 300 < 1000 ? 1000 : cfg->ttl * 300;
	cl->renew_ms = cfg->ttl * 1000 / 3;
	cl->fire_ms = cfg->ttl * 1000 - cl->margin_ms;
	pthread_mutex_init(&cl->lock, NULL);
	pthread_mutex_init(&cl->alive_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cl->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* Each attempt on a member within T/6 (at least 500 ms): a renewal tries every member
	 * before the next one is due. */
	rc = cluster_peer_init(cl);
	if (rc) {
		vsrv_log("cluster: cannot draw the host's credential");
		goto err_free;
	}
	rc = etcd_open(cfg->endpoints, cfg->ttl * 1000 / 6 < 500 ? 500 : cfg->ttl * 1000 / 6,
		       &cl->etcd);
	if (rc) {
		vsrv_log("cluster: %s", etcd_errmsg());
		goto err_free;
	}
	/* What it has (the placement rule's facts) and its lasting draining mark, in its
	 * alive key from the first write */
	if (cfg->facts)
		cl->facts = cfg->facts(cfg->arg, 0);
	{
		struct etcd_kv kv = { 0 };
		char key[160];

		draining_key(cl, key, sizeof(key));
		rc = etcd_get(cl->etcd, key, &kv);
		etcd_kv_clear(&kv);
		if (!rc) {
			cl->draining = true;
			vsrv_log("cluster: host %s is marked draining (%s): it stays so until undrained",
				 cl->name, key);
		} else if (rc != -ENOENT) {
			vsrv_log("cluster: cannot read %s: %s", key, etcd_errmsg());
			goto err_etcd;
		}
	}
	/* A host of this name that died without revoking its lease (kill -9) holds its key
	 * until the lease expires: wait for that, at most T and a little. */
	give_up = cluster_now_ms() + cfg->ttl * 1000 + 2000;
	rc = take_up(cl);
	while (rc && (rc = do_register(cl)) == -EEXIST && cluster_now_ms() < give_up)
		usleep(250 * 1000);
	if (!rc) {
		save_lease(cl);
		save_deadline(cl);
	}
	if (rc) {
		if (rc == -EEXIST)
			vsrv_log("cluster: a live host is registered as %s (another vsrv serve with "
				 "this name): choose another --host-name", cl->name);
		else
			vsrv_log("cluster: cannot register host %s: %s", cl->name, etcd_errmsg());
		goto err_etcd;
	}
	if (pthread_create(&cl->renew, NULL, renew_thread, cl)) {
		rc = -EAGAIN;
		goto err_lease;
	}
	if (pthread_create(&cl->watchdog, NULL, watchdog_thread, cl)) {
		rc = -EAGAIN;
		pthread_mutex_lock(&cl->lock);
		cl->stop = true;
		pthread_cond_broadcast(&cl->cond);
		pthread_mutex_unlock(&cl->lock);
		pthread_join(cl->renew, NULL);
		goto err_lease;
	}
	if (cfg->vm_take && cfg->vm_need) {
		if (pthread_create(&cl->failover, NULL, cluster_failover_thread, cl))
			vsrv_log("cluster: cannot start the failover thread: no failover from here");
		else
			cl->failover_on = true;
	}
	vsrv_log("cluster: host %s registered on %s (lease %llx, TTL %u s: renewed every %.3f s, "
		 "the watchdog stops the VMs %.3f s after the last renewal, %u ms before expiry)",
		 cl->name, cfg->endpoints, (long long)cl->lease, cfg->ttl, cl->renew_ms / 1e3,
		 cl->fire_ms / 1e3, cl->margin_ms);
	*out = cl;
	return 0;

err_lease:
	etcd_lease_revoke(cl->etcd, cl->lease);
err_etcd:
	etcd_close(cl->etcd);
	json_decref(cl->facts);
err_free:
	pthread_cond_destroy(&cl->cond);
	pthread_mutex_destroy(&cl->lock);
	pthread_mutex_destroy(&cl->alive_lock);
	free(cl);
	return rc;
}

void cluster_stop(struct cluster *cl)
{
	if (!cl)
		return;
	pthread_mutex_lock(&cl->lock);
	cl->stop = true;
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	pthread_join(cl->renew, NULL);
	pthread_join(cl->watchdog, NULL);
	if (cl->failover_on)
		pthread_join(cl->failover, NULL);
	if (cl->lease_file[0])
		unlink(cl->lease_file);
	if (cl->deadline_file[0])
		unlink(cl->deadline_file);
	if (cl->lease && etcd_lease_revoke(cl->etcd, cl->lease))
		vsrv_log("cluster: cannot revoke lease %llx (it expires in %u s): %s",
			 (long long)cl->lease, cl->cfg.ttl, etcd_errmsg());
	etcd_close(cl->etcd);
	json_decref(cl->facts);
	pthread_cond_destroy(&cl->cond);
	pthread_mutex_destroy(&cl->lock);
	pthread_mutex_destroy(&cl->alive_lock);
	free(cl);
}

const char *cluster_name(const struct cluster *cl)
{
	return cl->name;
}

void cluster_timing(const struct cluster *cl, unsigned *ttl_ms, unsigned *renew_ms,
		    unsigned *fire_ms)
{
	*ttl_ms = cl->cfg.ttl * 1000;
	*renew_ms = cl->renew_ms;
	*fire_ms = cl->fire_ms;
}

unsigned cluster_fences(const struct cluster *cl)
{
	return cl->fences;
}
