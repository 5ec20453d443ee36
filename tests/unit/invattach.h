/* The harness of the etcd inventory's attachment tests (server_inv_etcd_attach.c,
 * server_inv_etcd_layers.c): a real etcd member (etcdrig.h), transcripts of inv_* calls
 * (struct lg), the objects the cases create, the printers of the lists, and both(): a case
 * on a fresh SQLite inventory and a fresh etcd prefix, the transcripts compared. */
#ifndef VSRV_TESTS_INVATTACH_H
#define VSRV_TESTS_INVATTACH_H

#include "check.h"
#include "etcdrig.h"
#include "server/inv.h"
#include "server/inv_etcd.h"

#include <curl/curl.h>
#include <stdarg.h>

static struct etcdrig rig;
static char tmpdir[64];
static int ncase;

#define TIMEOUT_MS 3000
#define LOGSZ 65536

/* A transcript. */
struct lg {
	char buf[LOGSZ];
	size_t len;
};

static inline void L(struct lg *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0 && l->len + n + 1 < sizeof(l->buf)) {
		l->len += n;
		l->buf[l->len++] = '\n';
		l->buf[l->len] = '\0';
	}
}

/* A line of the transcript whose text is s, its own check: CHECK(strstr(...)) reads better
 * with these. */
static inline bool has(const struct lg *l, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	return l->buf[0] && (strstr(l->buf, want) || !strncmp(l->buf, want + 1, strlen(want + 1)));
}

#define S(s) ((s) ? (s) : "NULL")

/* --- what the cases create ----------------------------------------------------------- */

static inline int64_t mkvm(struct dbc *c, const char *name)
{
	struct inv_vm v = { .cpus = 1, .memory_mib = 64, .kernel = "/k", .cpu_weight = 100 };
	int64_t id = -1;
	int rc;

	snprintf(v.name, sizeof(v.name), "%s", name);
	snprintf(v.restart_policy, sizeof(v.restart_policy), "never");
	snprintf(v.undo_disks, sizeof(v.undo_disks), "off");
	rc = inv_vm_create(c, &v, &id);
	CHECK_EQ(rc, 0);
	return rc ? -1 : id;
}

static inline int64_t mkdisk(struct dbc *c, const char *name)
{
	struct inv_disk d = { .size = 1 << 20 };
	int64_t id = -1;
	int rc;

	snprintf(d.name, sizeof(d.name), "%s", name);
	snprintf(d.format, sizeof(d.format), "raw");
	snprintf(d.path, sizeof(d.path), "/store/%s.img", name);
	rc = inv_disk_create(c, &d, &id);
	CHECK_EQ(rc, 0);
	return rc ? -1 : id;
}

static inline int64_t mknet(struct dbc *c, const char *name, const char *bridge)
{
	struct inv_net n = { 0 };
	int64_t id = -1;
	int rc;

	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.kind, sizeof(n.kind), "%s", bridge[0] ? "bridged" : "nat");
	snprintf(n.bridge, sizeof(n.bridge), "%s", bridge);
	if (!bridge[0]) {
		snprintf(n.subnet, sizeof(n.subnet), "10.9.0.0/24");
		snprintf(n.dhcp_start, sizeof(n.dhcp_start), "10.9.0.10");
		snprintf(n.dhcp_end, sizeof(n.dhcp_end), "10.9.0.99");
	}
	rc = inv_net_create(c, &n, &id);
	CHECK_EQ(rc, 0);
	return rc ? -1 : id;
}

/* --- listing callbacks: one line each ------------------------------------------------- */

static inline int p_disk(const struct inv_vm_disk *d, void *arg)
{
	L(arg, "  disk %d: %lld %s %s %s %s ro=%d", d->idx, (long long)d->disk_id, S(d->disk),
	  S(d->path), S(d->format), S(d->bus), d->readonly);
	return 0;
}

static inline int p_user(const struct inv_vm *v, const struct inv_vm_disk *d, void *arg)
{
	L(arg, "  user %s (%lld) %d: %lld %s %s", v->name, (long long)v->id, d->idx,
	  (long long)d->disk_id, S(d->disk), S(d->bus));
	return 0;
}

static inline int p_sole(int64_t disk_id, const char *path, void *arg)
{
	L(arg, "  sole %lld %s", (long long)disk_id, S(path));
	return 0;
}

static inline int p_nic(const struct inv_vm_nic *n, void *arg)
{
	L(arg, "  nic %d: %lld %s %s %s %s %s %s %s", n->idx, (long long)n->network_id,
	  S(n->network), S(n->kind), S(n->bridge), S(n->subnet), S(n->dhcp_start), S(n->mac),
	  S(n->model));
	return 0;
}

static inline int p_cd(const struct inv_vm_cdrom *d, void *arg)
{
	L(arg, "  cd %d: %s %s", d->idx, S(d->image), S(d->bus));
	return 0;
}

static inline int p_cduser(const struct inv_vm *v, int idx, void *arg)
{
	L(arg, "  cduser %s (%lld) %d", v->name, (long long)v->id, idx);
	return 0;
}

static inline int p_layer(const struct inv_layer *l, void *arg)
{
	L(arg, "  layer %lld %s parent=%s %s vm=%lld disk=%lld", (long long)l->id, S(l->path),
	  S(l->parent), S(l->kind), (long long)l->vm_id, (long long)l->disk_id);
	return 0;
}

static inline int p_snap(const struct inv_snapshot *s, void *arg)
{
	L(arg, "  snap %lld vm=%lld parent=%lld cur=%d %s '%s'", (long long)s->id,
	  (long long)s->vm_id, (long long)s->parent_id, s->current, s->name, s->description);
	return 0;
}

static inline int p_image(int64_t disk_id, const char *path, void *arg)
{
	L(arg, "  image %lld %s", (long long)disk_id, S(path));
	return 0;
}

static inline int stop_at_first(const struct inv_vm_disk *d, void *arg)
{
	(void)d;
	(void)arg;
	return 42;
}

static inline void hw_line(struct lg *l, struct dbc *c, int64_t vm)
{
	struct inv_vm_hw hw;
	int rc = inv_vm_hw_get(c, vm, &hw);

	if (rc) {
		L(l, "hw_get %lld = %d", (long long)vm, rc);
		return;
	}
	/* the UUID is random: its shape only */
	L(l, "hw %lld: fw=%s boot='%s' uuid=%zu/%c os='%s' balloon=%d display='%s' enl='%s' "
	  "merge=%d min=%lld buf=%d", (long long)vm, hw.firmware, hw.boot, strlen(hw.uuid),
	  hw.uuid[14], hw.os_type, hw.balloon, hw.display, hw.enlightenments, hw.mem_merge,
	  (long long)hw.memory_min_mib, hw.memory_buffer_pct);
}

/* --- the cases ------------------------------------------------------------------------- */

/* Drives: add (idx taken, a missing VM or disk: -EEXIST), list, users by VM name, the
 * disks that go with a VM, clear, and clear-then-add again in one transaction. */
static struct lg lsql, letcd;

/* Run fn on a fresh SQLite inventory and on a fresh etcd prefix, compare the transcripts
 * (the first difference printed), then check the etcd one on its own. */
static inline void both(void (*fn)(struct dbc *c, struct lg *l), void (*check)(const struct lg *l))
{
	char path[128], prefix[64];
	struct db *dbs = NULL, *dbe = NULL;
	struct dbc *c;
	int rc;

	ncase++;
	memset(&lsql, 0, sizeof(lsql));
	memset(&letcd, 0, sizeof(letcd));
	snprintf(path, sizeof(path), "%s/inv%d.db", tmpdir, ncase);
	snprintf(prefix, sizeof(prefix), "/t%d-%d/", (int)getpid(), ncase);
	rc = inv_open(path, &dbs);
	CHECK_EQ(rc, 0);
	rc = inv_etcd_open(rig.endpoints, prefix, TIMEOUT_MS, &dbe);
	CHECK_EQ(rc, 0);
	if (!dbs || !dbe)
		goto out;
	CHECK(!strcmp(inv_backend(dbe), "etcd"));
	c = inv_get(dbs);
	CHECK(c != NULL);
	if (c) {
		fn(c, &lsql);
		inv_put(c);
	}
	c = inv_get(dbe);
	CHECK(c != NULL);
	if (c) {
		fn(c, &letcd);
		inv_put(c);
	}
	if (strcmp(lsql.buf, letcd.buf)) {
		const char *a = lsql.buf, *b = letcd.buf;

		while (*a && *a == *b)
			a++, b++;
		while (a > lsql.buf && a[-1] != '\n')
			a--, b--;
		printf("  transcripts differ:\n  sqlite: %.*s\n  etcd:   %.*s\n",
		       (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
		CHECK(!strcmp(lsql.buf, letcd.buf));
	}
	check(&lsql);
	check(&letcd);
out:
	inv_close(dbs);
	inv_close(dbe);
}

/* Start etcd (SKIP name when it is not installed), run the cases, clean up: main's body. */
static inline int invattach_main(const char *name, void (*cases)(void))
{
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vsrv-inv-attach.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		printf("FAIL setup: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	rc = etcdrig_start_main(&rig, 1, name);
	if (rc)
		return rc - 1;
	cases();
	etcdrig_stop(&rig);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd)) {}
	}
	return check_done();
}

#endif
