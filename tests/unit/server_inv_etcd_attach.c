/* The etcd inventory's VM attachments, hardware, layers and snapshots (inv_etcd_attach.c,
 * inv_etcd_cdrom.c, inv_etcd_vmhw.c, inv_etcd_layer.c, inv_etcd_snap.c) against the SQLite
 * backend: every case runs the same sequence of inv_* calls on a fresh SQLite inventory
 * and on a fresh prefix of a real etcd (etcdrig.h, one member), writes each result (return
 * codes, the lists in their order) as a line of a transcript, and the two transcripts must
 * be the same; the cases also check the values that matter (-EEXIST for a taken MAC or a
 * second top layer, the cascades of a deleted VM or disk) on their own, so two backends
 * broken the same way do not pass. Plus conflicts: two etcd sessions in transactions that
 * write the same row. SKIPs when etcd is not installed. */
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

static void L(struct lg *l, const char *fmt, ...)
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
static bool has(const struct lg *l, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	return l->buf[0] && (strstr(l->buf, want) || !strncmp(l->buf, want + 1, strlen(want + 1)));
}

#define S(s) ((s) ? (s) : "NULL")

/* --- what the cases create ----------------------------------------------------------- */

static int64_t mkvm(struct dbc *c, const char *name)
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

static int64_t mkdisk(struct dbc *c, const char *name)
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

static int64_t mknet(struct dbc *c, const char *name, const char *bridge)
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

static int p_disk(const struct inv_vm_disk *d, void *arg)
{
	L(arg, "  disk %d: %lld %s %s %s %s ro=%d", d->idx, (long long)d->disk_id, S(d->disk),
	  S(d->path), S(d->format), S(d->bus), d->readonly);
	return 0;
}

static int p_user(const struct inv_vm *v, const struct inv_vm_disk *d, void *arg)
{
	L(arg, "  user %s (%lld) %d: %lld %s %s", v->name, (long long)v->id, d->idx,
	  (long long)d->disk_id, S(d->disk), S(d->bus));
	return 0;
}

static int p_sole(int64_t disk_id, const char *path, void *arg)
{
	L(arg, "  sole %lld %s", (long long)disk_id, S(path));
	return 0;
}

static int p_nic(const struct inv_vm_nic *n, void *arg)
{
	L(arg, "  nic %d: %lld %s %s %s %s %s %s %s", n->idx, (long long)n->network_id,
	  S(n->network), S(n->kind), S(n->bridge), S(n->subnet), S(n->dhcp_start), S(n->mac),
	  S(n->model));
	return 0;
}

static int p_cd(const struct inv_vm_cdrom *d, void *arg)
{
	L(arg, "  cd %d: %s %s", d->idx, S(d->image), S(d->bus));
	return 0;
}

static int p_cduser(const struct inv_vm *v, int idx, void *arg)
{
	L(arg, "  cduser %s (%lld) %d", v->name, (long long)v->id, idx);
	return 0;
}

static int p_layer(const struct inv_layer *l, void *arg)
{
	L(arg, "  layer %lld %s parent=%s %s vm=%lld disk=%lld", (long long)l->id, S(l->path),
	  S(l->parent), S(l->kind), (long long)l->vm_id, (long long)l->disk_id);
	return 0;
}

static int p_snap(const struct inv_snapshot *s, void *arg)
{
	L(arg, "  snap %lld vm=%lld parent=%lld cur=%d %s '%s'", (long long)s->id,
	  (long long)s->vm_id, (long long)s->parent_id, s->current, s->name, s->description);
	return 0;
}

static int p_image(int64_t disk_id, const char *path, void *arg)
{
	L(arg, "  image %lld %s", (long long)disk_id, S(path));
	return 0;
}

static int stop_at_first(const struct inv_vm_disk *d, void *arg)
{
	(void)d;
	(void)arg;
	return 42;
}

static void hw_line(struct lg *l, struct dbc *c, int64_t vm)
{
	struct inv_vm_hw hw;
	int rc = inv_vm_hw_get(c, vm, &hw);

	if (rc) {
		L(l, "hw_get %lld = %d", (long long)vm, rc);
		return;
	}
	/* the UUID is random: its shape only */
	L(l, "hw %lld: fw=%s boot='%s' uuid=%zu/%c os='%s' balloon=%d display='%s' enl='%s' "
	  "merge=%d", (long long)vm, hw.firmware, hw.boot, strlen(hw.uuid), hw.uuid[14],
	  hw.os_type, hw.balloon, hw.display, hw.enlightenments, hw.mem_merge);
}

/* --- the cases ------------------------------------------------------------------------- */

/* Drives: add (idx taken, a missing VM or disk: -EEXIST), list, users by VM name, the
 * disks that go with a VM, clear, and clear-then-add again in one transaction. */
static void case_disks(struct dbc *c, struct lg *l)
{
	int64_t zeta = mkvm(c, "zeta"), alpha = mkvm(c, "alpha");
	int64_t d1 = mkdisk(c, "d1"), d2 = mkdisk(c, "d2"), d3 = mkdisk(c, "d3");

	L(l, "ids %lld %lld %lld %lld %lld", (long long)zeta, (long long)alpha, (long long)d1,
	  (long long)d2, (long long)d3);
	L(l, "add %d", inv_vm_disk_add(c, zeta, 0, d3, "virtio-blk", false));
	L(l, "add %d", inv_vm_disk_add(c, zeta, 1, d2, "scsi", true));
	L(l, "add %d", inv_vm_disk_add(c, zeta, 2, d1, "virtio-blk", false));
	L(l, "add-taken %d", inv_vm_disk_add(c, zeta, 1, d1, "virtio-blk", false));
	L(l, "add-novm %d", inv_vm_disk_add(c, 999, 0, d1, "virtio-blk", false));
	L(l, "add-nodisk %d", inv_vm_disk_add(c, zeta, 5, 999, "virtio-blk", false));
	L(l, "add %d", inv_vm_disk_add(c, alpha, 0, d2, "virtio-blk", false));
	L(l, "disks zeta %d", inv_vm_disks(c, zeta, p_disk, l));
	L(l, "disks alpha %d", inv_vm_disks(c, alpha, p_disk, l));
	L(l, "disks none %d", inv_vm_disks(c, 999, p_disk, l));
	L(l, "disks stop %d", inv_vm_disks(c, zeta, stop_at_first, NULL));
	L(l, "users d2 %d", inv_disk_users(c, d2, p_user, l));
	L(l, "users d1 %d", inv_disk_users(c, d1, p_user, l));
	L(l, "users none %d", inv_disk_users(c, 999, p_user, l));
	L(l, "sole zeta %d", inv_vm_sole_disks(c, zeta, p_sole, l));
	L(l, "sole alpha %d", inv_vm_sole_disks(c, alpha, p_sole, l));
	/* the edit: replace the list in one transaction, an index kept with another disk */
	L(l, "begin %d", inv_begin(c));
	L(l, "clear %d", inv_vm_disks_clear(c, zeta));
	L(l, "add %d", inv_vm_disk_add(c, zeta, 0, d1, "scsi", false));
	L(l, "add %d", inv_vm_disk_add(c, zeta, 1, d3, "virtio-blk", true));
	L(l, "commit %d", inv_commit(c));
	L(l, "disks zeta %d", inv_vm_disks(c, zeta, p_disk, l));
	L(l, "users d2 %d", inv_disk_users(c, d2, p_user, l));
	/* a rolled-back replacement changes nothing */
	L(l, "begin %d", inv_begin(c));
	L(l, "clear %d", inv_vm_disks_clear(c, zeta));
	L(l, "disks-in %d", inv_vm_disks(c, zeta, p_disk, l));
	inv_rollback(c);
	L(l, "disks zeta %d", inv_vm_disks(c, zeta, p_disk, l));
	L(l, "clear %d", inv_vm_disks_clear(c, zeta));
	L(l, "disks zeta %d", inv_vm_disks(c, zeta, p_disk, l));
	/* inside a transaction the lists see its own writes; a rollback drops them */
	L(l, "begin %d", inv_begin(c));
	L(l, "add-in %d", inv_vm_disk_add(c, zeta, 4, d2, "virtio-blk", true));
	L(l, "disks-in %d", inv_vm_disks(c, zeta, p_disk, l));
	L(l, "users-in %d", inv_disk_users(c, d2, p_user, l));
	L(l, "sole-in %d", inv_vm_sole_disks(c, zeta, p_sole, l));
	inv_rollback(c);
	L(l, "users d2 %d", inv_disk_users(c, d2, p_user, l));
	L(l, "delete-attached %d", inv_disk_delete(c, d2));
	L(l, "delete-free %d", inv_disk_delete(c, d1));
}

static void check_disks(const struct lg *l)
{
	CHECK(has(l, "add-taken -17"));
	CHECK(has(l, "add-novm -17"));
	CHECK(has(l, "add-nodisk -17"));
	CHECK(has(l, "disks stop 42"));
	/* by the VM's name: alpha (created second) first */
	CHECK(strstr(l->buf, "users d2 0") && strstr(l->buf, "  user alpha (2) 0: 2 d2 virtio-blk\n"
		     "  user zeta (1) 1: 2 d2 scsi\nusers d2 0"));
	/* the disks of zeta but d2 (alpha has it too), in zeta's order of its drives */
	CHECK(strstr(l->buf, "  sole 3 /store/d3.img\n  sole 1 /store/d1.img\nsole zeta 0\n"
		     "  sole 2 /store/d2.img\nsole alpha 0\n") == NULL);
	CHECK(strstr(l->buf, "  sole 3 /store/d3.img\n  sole 1 /store/d1.img\nsole zeta 0\n"
		     "sole alpha 0\n"));
	CHECK(has(l, "  disk 0: 1 d1 /store/d1.img raw scsi ro=0"));
	CHECK(strstr(l->buf, "  disk 4: 2 d2 /store/d2.img raw virtio-blk ro=1\ndisks-in 0\n"
		     "  user alpha (2) 0: 2 d2 virtio-blk\n  user zeta (1) 4: 2 d2 virtio-blk\n"
		     "users-in 0\nsole-in 0\n  user alpha (2) 0: 2 d2 virtio-blk\nusers d2 0\n"));
	CHECK(has(l, "delete-attached -17"));
	CHECK(has(l, "delete-free 0"));
}

/* NICs: unique MACs (another VM's, the same VM's), idx taken, missing network, list with
 * the network, clear frees the MACs, clear-then-readd in one transaction. */
static void case_nics(struct dbc *c, struct lg *l)
{
	int64_t a = mkvm(c, "a"), b = mkvm(c, "b");
	int64_t n1 = mknet(c, "n1", ""), n2 = mknet(c, "n2", "br0");

	L(l, "ids %lld %lld %lld %lld", (long long)a, (long long)b, (long long)n1, (long long)n2);
	L(l, "add %d", inv_vm_nic_add(c, a, 0, n1, "52:54:00:00:00:01"));
	L(l, "add-mac-other %d", inv_vm_nic_add(c, b, 0, n2, "52:54:00:00:00:01"));
	L(l, "add-mac-same %d", inv_vm_nic_add(c, a, 1, n2, "52:54:00:00:00:01"));
	L(l, "add-idx %d", inv_vm_nic_add(c, a, 0, n2, "52:54:00:00:00:02"));
	L(l, "add-nonet %d", inv_vm_nic_add(c, a, 1, 999, "52:54:00:00:00:03"));
	L(l, "add-novm %d", inv_vm_nic_add(c, 999, 0, n1, "52:54:00:00:00:04"));
	L(l, "add %d", inv_vm_nic_add(c, a, 1, n2, "52:54:00:00:00:02"));
	L(l, "add %d", inv_vm_nic_add(c, b, 0, n2, "52:54:00:00:00:05"));
	L(l, "used1 %d used3 %d used4 %d", inv_mac_used(c, "52:54:00:00:00:01"),
	  inv_mac_used(c, "52:54:00:00:00:03"), inv_mac_used(c, "52:54:00:00:00:04"));
	L(l, "nics a %d", inv_vm_nics(c, a, p_nic, l));
	L(l, "nics b %d", inv_vm_nics(c, b, p_nic, l));
	L(l, "net-delete-used %d", inv_net_delete(c, n2));
	L(l, "clear %d", inv_vm_nics_clear(c, a));
	L(l, "nics a %d", inv_vm_nics(c, a, p_nic, l));
	L(l, "used1 %d used2 %d", inv_mac_used(c, "52:54:00:00:00:01"),
	  inv_mac_used(c, "52:54:00:00:00:02"));
	L(l, "add-freed %d", inv_vm_nic_add(c, b, 1, n1, "52:54:00:00:00:01"));
	/* the edit: clear and add the same NICs again (their MACs kept) in one transaction */
	L(l, "begin %d", inv_begin(c));
	L(l, "clear %d", inv_vm_nics_clear(c, b));
	L(l, "used-in %d", inv_mac_used(c, "52:54:00:00:00:05"));
	L(l, "add %d", inv_vm_nic_add(c, b, 0, n2, "52:54:00:00:00:05"));
	L(l, "add %d", inv_vm_nic_add(c, b, 1, n1, "52:54:00:00:00:06"));
	L(l, "commit %d", inv_commit(c));
	L(l, "nics b %d", inv_vm_nics(c, b, p_nic, l));
	L(l, "used1 %d used5 %d used6 %d", inv_mac_used(c, "52:54:00:00:00:01"),
	  inv_mac_used(c, "52:54:00:00:00:05"), inv_mac_used(c, "52:54:00:00:00:06"));
	L(l, "add-mac-taken %d", inv_vm_nic_add(c, a, 0, n1, "52:54:00:00:00:06"));
}

static void check_nics(const struct lg *l)
{
	CHECK(has(l, "add-mac-other -17"));
	CHECK(has(l, "add-mac-same -17"));
	CHECK(has(l, "add-idx -17"));
	CHECK(has(l, "add-nonet -17"));
	CHECK(has(l, "add-novm -17"));
	CHECK(has(l, "used1 1 used3 0 used4 0"));
	CHECK(has(l, "  nic 0: 1 n1 nat NULL 10.9.0.0/24 10.9.0.10 52:54:00:00:00:01 virtio"));
	CHECK(has(l, "  nic 1: 2 n2 bridged br0 NULL NULL 52:54:00:00:00:02 virtio"));
	CHECK(has(l, "net-delete-used -17"));
	CHECK(has(l, "used1 0 used2 0"));
	CHECK(has(l, "add-freed 0"));
	CHECK(has(l, "used-in 0"));
	CHECK(has(l, "commit 0"));
	CHECK(has(l, "used1 0 used5 1 used6 1"));
	CHECK(has(l, "add-mac-taken -17"));
}

/* CD/DVD drives: add (empty ones too), idx taken, set, the drives holding an image by VM
 * name, clear. */
static void case_cdroms(struct dbc *c, struct lg *l)
{
	int64_t y = mkvm(c, "y"), x = mkvm(c, "x");

	L(l, "add %d", inv_vm_cdrom_add(c, y, 0, "boot.iso"));
	L(l, "add %d", inv_vm_cdrom_add(c, y, 1, NULL));
	L(l, "add-taken %d", inv_vm_cdrom_add(c, y, 1, "other.iso"));
	L(l, "add-novm %d", inv_vm_cdrom_add(c, 999, 0, "boot.iso"));
	L(l, "add %d", inv_vm_cdrom_add(c, x, 3, "boot.iso"));
	L(l, "cds y %d", inv_vm_cdroms(c, y, p_cd, l));
	L(l, "set %d", inv_vm_cdrom_set(c, y, 1, "boot.iso"));
	L(l, "set-none %d", inv_vm_cdrom_set(c, y, 7, "boot.iso"));
	L(l, "users %d", inv_image_cdrom_users(c, "boot.iso", p_cduser, l));
	L(l, "set-empty %d", inv_vm_cdrom_set(c, y, 0, NULL));
	L(l, "cds y %d", inv_vm_cdroms(c, y, p_cd, l));
	L(l, "users %d", inv_image_cdrom_users(c, "boot.iso", p_cduser, l));
	L(l, "users-other %d", inv_image_cdrom_users(c, "other.iso", p_cduser, l));
	L(l, "clear %d", inv_vm_cdroms_clear(c, y));
	L(l, "cds y %d", inv_vm_cdroms(c, y, p_cd, l));
	L(l, "users %d", inv_image_cdrom_users(c, "boot.iso", p_cduser, l));
}

static void check_cdroms(const struct lg *l)
{
	CHECK(has(l, "add-taken -17"));
	CHECK(has(l, "add-novm -17"));
	CHECK(has(l, "  cd 1: NULL virtio-scsi"));
	CHECK(has(l, "set-none -2"));
	CHECK(strstr(l->buf, "  cduser x (2) 3\n  cduser y (1) 0\n  cduser y (1) 1\nusers 0"));
}

/* Hardware: a new VM's defaults, put (the UUID stays), a missing VM, a NIC's model and a
 * drive's bus, and the copy to a clone. */
static void case_hw(struct dbc *c, struct lg *l)
{
	int64_t a = mkvm(c, "a"), b = mkvm(c, "b");
	int64_t n = mknet(c, "n", "");
	struct inv_vm_hw hw = { .balloon = false, .mem_merge = true }, before, after;

	hw_line(l, c, a);
	hw_line(l, c, 999);
	snprintf(hw.firmware, sizeof(hw.firmware), "uefi");
	snprintf(hw.boot, sizeof(hw.boot), "cdrom,disk");
	snprintf(hw.os_type, sizeof(hw.os_type), "windows");
	snprintf(hw.display, sizeof(hw.display), "bochs");
	snprintf(hw.enlightenments, sizeof(hw.enlightenments), "hyperv");
	snprintf(hw.uuid, sizeof(hw.uuid), "not-written");
	inv_vm_hw_get(c, a, &before);
	L(l, "put %d", inv_vm_hw_put(c, a, &hw));
	L(l, "put-none %d", inv_vm_hw_put(c, 999, &hw));
	hw_line(l, c, a);
	inv_vm_hw_get(c, a, &after);
	L(l, "uuid kept %d", !strcmp(before.uuid, after.uuid) && strlen(after.uuid) == 36);
	/* back to empty fields */
	memset(&hw, 0, sizeof(hw));
	snprintf(hw.firmware, sizeof(hw.firmware), "bios");
	L(l, "put %d", inv_vm_hw_put(c, b, &hw));
	hw_line(l, c, b);
	L(l, "nic %d", inv_vm_nic_add(c, a, 0, n, "52:54:00:00:01:01"));
	L(l, "nic %d", inv_vm_nic_add(c, a, 1, n, "52:54:00:00:01:02"));
	L(l, "nic %d", inv_vm_nic_add(c, b, 1, n, "52:54:00:00:01:03"));
	L(l, "nic %d", inv_vm_nic_add(c, b, 2, n, "52:54:00:00:01:04"));
	L(l, "cd %d", inv_vm_cdrom_add(c, a, 0, NULL));
	L(l, "cd %d", inv_vm_cdrom_add(c, b, 0, NULL));
	L(l, "model %d", inv_vm_nic_set_model(c, a, 1, "e1000"));
	L(l, "model-none %d", inv_vm_nic_set_model(c, a, 5, "e1000"));
	L(l, "bus %d", inv_vm_cdrom_set_bus(c, a, 0, "ahci"));
	L(l, "bus-none %d", inv_vm_cdrom_set_bus(c, 999, 0, "ahci"));
	L(l, "nics a %d", inv_vm_nics(c, a, p_nic, l));
	L(l, "copy %d", inv_vm_hw_copy(c, a, b));
	L(l, "copy-none %d", inv_vm_hw_copy(c, 999, b));
	L(l, "copy-to-none %d", inv_vm_hw_copy(c, a, 999));
	hw_line(l, c, b);
	inv_vm_hw_get(c, b, &after);
	L(l, "uuids differ %d", strcmp(before.uuid, after.uuid) != 0);
	L(l, "nics b %d", inv_vm_nics(c, b, p_nic, l));
	L(l, "cds b %d", inv_vm_cdroms(c, b, p_cd, l));
}

/* A clone as clone.c makes it, in one transaction: the VM, its NICs and drives, then the
 * hardware copied (a NIC's key written twice in the Txn: added, then its model set). */
static void case_clone(struct dbc *c, struct lg *l)
{
	int64_t a = mkvm(c, "a"), n = mknet(c, "n", ""), d = mkdisk(c, "d"), b = -1;
	struct inv_vm_hw hw = { .balloon = true };
	struct inv_vm v = { .cpus = 1, .memory_mib = 64, .kernel = "/k", .cpu_weight = 100 };

	snprintf(hw.firmware, sizeof(hw.firmware), "uefi");
	snprintf(hw.os_type, sizeof(hw.os_type), "linux");
	L(l, "setup %d", inv_vm_hw_put(c, a, &hw));
	L(l, "setup %d", inv_vm_nic_add(c, a, 0, n, "52:54:00:00:05:01"));
	L(l, "setup %d", inv_vm_nic_set_model(c, a, 0, "e1000"));
	L(l, "setup %d", inv_vm_cdrom_add(c, a, 0, "x.iso"));
	L(l, "setup %d", inv_vm_cdrom_set_bus(c, a, 0, "ahci"));
	snprintf(v.name, sizeof(v.name), "b");
	snprintf(v.restart_policy, sizeof(v.restart_policy), "never");
	snprintf(v.undo_disks, sizeof(v.undo_disks), "off");
	L(l, "begin %d", inv_begin(c));
	L(l, "create %d", inv_vm_create(c, &v, &b));
	L(l, "disk %d", inv_vm_disk_add(c, b, 0, d, "scsi", false));
	L(l, "nic %d", inv_vm_nic_add(c, b, 0, n, "52:54:00:00:05:02"));
	L(l, "cd %d", inv_vm_cdrom_add(c, b, 0, "x.iso"));
	L(l, "copy %d", inv_vm_hw_copy(c, a, b));
	L(l, "commit %d", inv_commit(c));
	hw_line(l, c, b);
	L(l, "disks b %d", inv_vm_disks(c, b, p_disk, l));
	L(l, "nics b %d", inv_vm_nics(c, b, p_nic, l));
	L(l, "cds b %d", inv_vm_cdroms(c, b, p_cd, l));
	L(l, "cdusers %d", inv_image_cdrom_users(c, "x.iso", p_cduser, l));
}

static void check_clone(const struct lg *l)
{
	CHECK(!strstr(l->buf, "setup -"));
	CHECK(has(l, "commit 0"));
	CHECK(has(l, "hw 2: fw=uefi boot='' uuid=36/4 os='linux' balloon=1 display='' enl='' "
		  "merge=0"));
	CHECK(has(l, "  disk 0: 1 d /store/d.img raw scsi ro=0"));
	CHECK(has(l, "  nic 0: 1 n nat NULL 10.9.0.0/24 10.9.0.10 52:54:00:00:05:02 e1000"));
	CHECK(has(l, "  cd 0: x.iso ahci"));
	CHECK(strstr(l->buf, "  cduser a (1) 0\n  cduser b (2) 0\ncdusers 0\n"));
}

static void check_hw(const struct lg *l)
{
	CHECK(has(l, "hw 1: fw=none boot='' uuid=36/4 os='' balloon=1 display='' enl='' merge=0"));
	CHECK(has(l, "hw_get 999 = -2"));
	CHECK(has(l, "put-none -2"));
	CHECK(has(l, "hw 1: fw=uefi boot='cdrom,disk' uuid=36/4 os='windows' balloon=0 "
		  "display='bochs' enl='hyperv' merge=1"));
	CHECK(has(l, "uuid kept 1"));
	CHECK(has(l, "model-none -2"));
	CHECK(has(l, "bus-none -2"));
	CHECK(has(l, "hw 2: fw=uefi boot='cdrom,disk' uuid=36/4 os='windows' balloon=0 "
		  "display='bochs' enl='hyperv' merge=1"));
	CHECK(has(l, "uuids differ 1"));
	/* b's NIC 1 takes a's model; its NIC 2 (a has none) keeps its own */
	CHECK(has(l, "  nic 1: 1 n nat NULL 10.9.0.0/24 10.9.0.10 52:54:00:00:01:03 e1000"));
	CHECK(has(l, "  nic 2: 1 n nat NULL 10.9.0.0/24 10.9.0.10 52:54:00:00:01:04 virtio"));
	CHECK(has(l, "  cd 0: NULL ahci"));
}

/* Layers: unique paths, one top per VM's disk, the lookups and walks, the unused ones,
 * kind changes that move the top, reparenting, delete; a deleted disk's own layer. */
static void case_layers(struct dbc *c, struct lg *l)
{
	int64_t vm = mkvm(c, "vm"), d1 = mkdisk(c, "d1"), d2 = mkdisk(c, "d2");
	int64_t clone = mkdisk(c, "clone");
	struct inv_layer base = { .path = "/l/base", .kind = "frozen", .vm_id = vm },
		top1 = { .path = "/l/top1", .parent = "/l/base", .kind = "top", .vm_id = vm,
			 .disk_id = d1 },
		top1b = { .path = "/l/top1b", .parent = "/l/base", .kind = "top", .vm_id = vm,
			  .disk_id = d1 },
		top2 = { .path = "/l/top2", .parent = "/store/d2.img", .kind = "top",
			 .vm_id = vm, .disk_id = d2 },
		lone = { .path = "/l/lone", .parent = NULL, .kind = "frozen" },
		own = { .path = "/store/clone.img", .parent = "/l/base", .kind = "disk",
			.disk_id = clone };

	L(l, "add %d", inv_layer_add(c, &base));
	L(l, "add %d", inv_layer_add(c, &top1));
	L(l, "add-second-top %d", inv_layer_add(c, &top1b));
	L(l, "add-path-taken %d", inv_layer_add(c, &base));
	L(l, "add %d", inv_layer_add(c, &top2));
	L(l, "add %d", inv_layer_add(c, &lone));
	L(l, "add %d", inv_layer_add(c, &own));
	L(l, "get %d", inv_layer_get(c, "/l/top1", p_layer, l));
	L(l, "get-exists %d", inv_layer_get(c, "/l/top1", NULL, NULL));
	L(l, "get-none %d", inv_layer_get(c, "/l/none", p_layer, l));
	L(l, "top %d", inv_layer_top(c, vm, d1, p_layer, l));
	L(l, "top-none %d", inv_layer_top(c, vm, 999, p_layer, l));
	L(l, "children %d", inv_layer_children(c, "/l/base", p_layer, l));
	L(l, "each %d", inv_layer_each(c, p_layer, l));
	L(l, "unused %d", inv_layer_unused(c, p_layer, l));
	/* the top of d1 frozen; then another top for d1 is allowed */
	L(l, "kind %d", inv_layer_set_kind(c, "/l/top1", "frozen", vm, 0));
	L(l, "top-after %d", inv_layer_top(c, vm, d1, p_layer, l));
	L(l, "add-top-again %d", inv_layer_add(c, &top1b));
	L(l, "kind-second-top %d", inv_layer_set_kind(c, "/l/lone", "top", vm, d1));
	L(l, "kind-same-top %d", inv_layer_set_kind(c, "/l/top1b", "top", vm, d1));
	L(l, "kind-move-top %d", inv_layer_set_kind(c, "/l/top1b", "top", vm, 77));
	L(l, "kind-take-freed %d", inv_layer_set_kind(c, "/l/lone", "top", vm, d1));
	L(l, "kind-none %d", inv_layer_set_kind(c, "/l/none", "frozen", 0, 0));
	L(l, "reparent %d", inv_layer_reparent(c, "/l/base", "/l/newbase"));
	L(l, "reparent-none %d", inv_layer_reparent(c, "/l/nothing", "/l/x"));
	L(l, "children old %d", inv_layer_children(c, "/l/base", p_layer, l));
	L(l, "children new %d", inv_layer_children(c, "/l/newbase", p_layer, l));
	L(l, "delete %d", inv_layer_delete(c, "/l/top2"));
	L(l, "delete-none %d", inv_layer_delete(c, "/l/top2"));
	L(l, "top2-gone %d", inv_layer_top(c, vm, d2, p_layer, l));
	L(l, "add-path-freed %d", inv_layer_add(c, &top2));
	/* a deleted disk takes its own layer (kind disk) along, no other */
	L(l, "disk-delete %d", inv_disk_delete(c, clone));
	L(l, "own-gone %d", inv_layer_get(c, "/store/clone.img", p_layer, l));
	L(l, "disk-delete %d", inv_disk_delete(c, d1));
	L(l, "each %d", inv_layer_each(c, p_layer, l));
	L(l, "unused %d", inv_layer_unused(c, p_layer, l));
}

static void check_layers(const struct lg *l)
{
	CHECK(has(l, "add-second-top -17"));
	CHECK(has(l, "add-path-taken -17"));
	CHECK(has(l, "get-exists 0"));
	CHECK(has(l, "get-none -2"));
	CHECK(has(l, "top-none -2"));
	CHECK(has(l, "top-after -2"));
	CHECK(has(l, "add-top-again 0"));
	CHECK(has(l, "kind-second-top -17"));
	CHECK(has(l, "kind-same-top 0"));
	CHECK(has(l, "kind-move-top 0"));
	CHECK(has(l, "kind-take-freed 0"));
	CHECK(has(l, "kind-none -2"));
	CHECK(has(l, "delete-none -2"));
	CHECK(has(l, "top2-gone -2"));
	CHECK(has(l, "add-path-freed 0"));
	CHECK(has(l, "own-gone -2"));
}

/* Snapshots: create (the new one current), a name taken per VM only, get, each, images,
 * repath, delete (children move to the parent, images go), set_current. */
static void case_snaps(struct dbc *c, struct lg *l)
{
	int64_t a = mkvm(c, "a"), b = mkvm(c, "b"), s1 = 0, s2 = 0, s3 = 0, sb = 0, x = 0;
	struct inv_snapshot s = { .vm_id = a }, got;
	struct inv_layer frozen = { .path = "/l/s1-d1", .kind = "frozen", .vm_id = a };

	snprintf(s.name, sizeof(s.name), "one");
	snprintf(s.description, sizeof(s.description), "first");
	L(l, "create %d", inv_snap_create(c, &s, &s1));
	s.parent_id = s1;
	snprintf(s.name, sizeof(s.name), "two");
	s.description[0] = '\0';
	L(l, "create %d", inv_snap_create(c, &s, &s2));
	L(l, "create-taken %d", inv_snap_create(c, &s, &x));
	s.parent_id = s2;
	snprintf(s.name, sizeof(s.name), "three");
	L(l, "create %d", inv_snap_create(c, &s, &s3));
	s.vm_id = b;
	s.parent_id = 0;
	snprintf(s.name, sizeof(s.name), "one");
	L(l, "create-other-vm %d", inv_snap_create(c, &s, &sb));
	L(l, "ids %lld %lld %lld %lld", (long long)s1, (long long)s2, (long long)s3,
	  (long long)sb);
	L(l, "each a %d", inv_snap_each(c, a, p_snap, l));
	L(l, "each b %d", inv_snap_each(c, b, p_snap, l));
	L(l, "get %d", inv_snap_get(c, a, "two", &got));
	p_snap(&got, l);
	L(l, "get-none %d", inv_snap_get(c, a, "four", &got));
	L(l, "get-other-vm %d", inv_snap_get(c, 999, "one", &got));
	L(l, "image %d", inv_snap_image_add(c, s1, 2, "/l/s1-d2"));
	L(l, "image %d", inv_snap_image_add(c, s1, 1, "/l/s1-d1"));
	L(l, "image-taken %d", inv_snap_image_add(c, s1, 1, "/l/other"));
	L(l, "image %d", inv_snap_image_add(c, s2, 1, "/l/s1-d1"));
	L(l, "images s1 %d", inv_snap_images(c, s1, p_image, l));
	L(l, "layer %d", inv_layer_add(c, &frozen));
	L(l, "unused %d", inv_layer_unused(c, p_layer, l));
	L(l, "repath %d", inv_snap_image_repath(c, "/l/s1-d1", "/l/merged"));
	L(l, "images s1 %d", inv_snap_images(c, s1, p_image, l));
	L(l, "images s2 %d", inv_snap_images(c, s2, p_image, l));
	L(l, "unused %d", inv_layer_unused(c, p_layer, l));
	L(l, "set-current %d", inv_snap_set_current(c, a, s1));
	L(l, "each a %d", inv_snap_each(c, a, p_snap, l));
	L(l, "delete %d", inv_snap_delete(c, s2));
	L(l, "delete-again %d", inv_snap_delete(c, s2));
	L(l, "each a %d", inv_snap_each(c, a, p_snap, l));
	L(l, "images s2 %d", inv_snap_images(c, s2, p_image, l));
	L(l, "name-freed %d", inv_snap_get(c, a, "two", &got));
	L(l, "set-none %d", inv_snap_set_current(c, a, 0));
	L(l, "each a %d", inv_snap_each(c, a, p_snap, l));
	snprintf(s.name, sizeof(s.name), "two");
	s.vm_id = a;
	L(l, "create-freed-name %d", inv_snap_create(c, &s, &x));
}

static void check_snaps(const struct lg *l)
{
	CHECK(has(l, "create-taken -17"));
	CHECK(has(l, "create-other-vm 0"));
	CHECK(has(l, "get-none -2"));
	CHECK(has(l, "get-other-vm -2"));
	CHECK(has(l, "image-taken -17"));
	CHECK(has(l, "delete 0"));
	CHECK(has(l, "delete-again -2"));
	/* three's parent was two, now one */
	CHECK(has(l, "  snap 3 vm=1 parent=1 cur=0 three ''"));
	CHECK(has(l, "name-freed -2"));
	CHECK(has(l, "create-freed-name 0"));
}

/* A deleted VM takes its drives, NICs (their MACs freed), drives, hardware, snapshots with
 * their images, its template mark; its tops become frozen of no VM (ie_vm_drop_children,
 * through inv_vm_delete); another VM's stay. */
static void case_vm_delete(struct dbc *c, struct lg *l)
{
	int64_t a = mkvm(c, "a"), b = mkvm(c, "b"), d = mkdisk(c, "d"), n = mknet(c, "n", "");
	int64_t s1 = 0, sb = 0;
	struct inv_snapshot s = { .vm_id = a };
	struct inv_layer ta = { .path = "/l/ta", .parent = "/store/d.img", .kind = "top",
				.vm_id = a, .disk_id = d },
		tb = { .path = "/l/tb", .parent = "/store/d.img", .kind = "top", .vm_id = b,
		       .disk_id = d };
	struct inv_vm_hw hw;

	snprintf(s.name, sizeof(s.name), "s");
	L(l, "setup %d", inv_vm_disk_add(c, a, 0, d, "virtio-blk", false));
	L(l, "setup %d", inv_vm_disk_add(c, b, 0, d, "virtio-blk", false));
	L(l, "setup %d", inv_vm_nic_add(c, a, 0, n, "52:54:00:00:02:01"));
	L(l, "setup %d", inv_vm_nic_add(c, b, 0, n, "52:54:00:00:02:02"));
	L(l, "setup %d", inv_vm_cdrom_add(c, a, 0, "x.iso"));
	L(l, "setup %d", inv_vm_cdrom_add(c, b, 0, "x.iso"));
	L(l, "setup %d", inv_snap_create(c, &s, &s1));
	L(l, "setup %d", inv_snap_image_add(c, s1, d, "/l/sa"));
	s.vm_id = b;
	L(l, "setup %d", inv_snap_create(c, &s, &sb));
	L(l, "setup %d", inv_layer_add(c, &ta));
	L(l, "setup %d", inv_layer_add(c, &tb));
	L(l, "setup %d", inv_vm_set_template(c, a, true));
	L(l, "delete %d", inv_vm_delete(c, a));
	L(l, "delete-again %d", inv_vm_delete(c, a));
	L(l, "disks a %d", inv_vm_disks(c, a, p_disk, l));
	L(l, "users d %d", inv_disk_users(c, d, p_user, l));
	L(l, "nics a %d", inv_vm_nics(c, a, p_nic, l));
	L(l, "used1 %d used2 %d", inv_mac_used(c, "52:54:00:00:02:01"),
	  inv_mac_used(c, "52:54:00:00:02:02"));
	L(l, "cds a %d", inv_vm_cdroms(c, a, p_cd, l));
	L(l, "cdusers %d", inv_image_cdrom_users(c, "x.iso", p_cduser, l));
	L(l, "hw a %d", inv_vm_hw_get(c, a, &hw));
	L(l, "hw b %d", inv_vm_hw_get(c, b, &hw));
	L(l, "snaps a %d", inv_snap_each(c, a, p_snap, l));
	L(l, "snap-name %d", inv_snap_get(c, a, "s", &s));
	L(l, "images %d", inv_snap_images(c, s1, p_image, l));
	L(l, "snaps b %d", inv_snap_each(c, b, p_snap, l));
	L(l, "template %d", inv_vm_template(c, a));
	L(l, "layers %d", inv_layer_each(c, p_layer, l));
	L(l, "top a %d", inv_layer_top(c, a, d, NULL, NULL));
	L(l, "top b %d", inv_layer_top(c, b, d, NULL, NULL));
	L(l, "unused %d", inv_layer_unused(c, p_layer, l));
	/* what the deleted VM held is free again */
	{
		int64_t c2 = mkvm(c, "a");

		L(l, "reuse mac %d", inv_vm_nic_add(c, c2, 0, n, "52:54:00:00:02:01"));
		s.vm_id = c2;
		L(l, "reuse snap name %d", inv_snap_create(c, &s, &sb));
	}
}

static void check_vm_delete(const struct lg *l)
{
	CHECK(!strstr(l->buf, "setup -"));
	CHECK(has(l, "delete 0"));
	CHECK(has(l, "delete-again -2"));
	CHECK(strstr(l->buf, "disks a 0\n  user b (2) 0: 1 d virtio-blk\nusers d 0\nnics a 0\n"));
	CHECK(has(l, "used1 0 used2 1"));
	CHECK(strstr(l->buf, "cds a 0\n  cduser b (2) 0\ncdusers 0\n"));
	CHECK(has(l, "hw a -2"));
	CHECK(has(l, "hw b 0"));
	CHECK(strstr(l->buf, "snaps a 0\nsnap-name -2\nimages 0\n"));
	CHECK(has(l, "template 0"));
	CHECK(has(l, "  layer 1 /l/ta parent=/store/d.img frozen vm=0 disk=0"));
	CHECK(has(l, "  layer 2 /l/tb parent=/store/d.img top vm=2 disk=1"));
	CHECK(has(l, "top a -2"));
	CHECK(has(l, "top b 0"));
	CHECK(has(l, "reuse mac 0"));
	CHECK(has(l, "reuse snap name 0"));
}

/* --- running a case on both backends ------------------------------------------------- */

static struct lg lsql, letcd;

/* Run fn on a fresh SQLite inventory and on a fresh etcd prefix, compare the transcripts
 * (the first difference printed), then check the etcd one on its own. */
static void both(void (*fn)(struct dbc *c, struct lg *l), void (*check)(const struct lg *l))
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

static void test_disks(void) { both(case_disks, check_disks); }
static void test_nics(void) { both(case_nics, check_nics); }
static void test_cdroms(void) { both(case_cdroms, check_cdroms); }
static void test_hw(void) { both(case_hw, check_hw); }
static void test_clone(void) { both(case_clone, check_clone); }
static void test_layers(void) { both(case_layers, check_layers); }
static void test_snaps(void) { both(case_snaps, check_snaps); }
static void test_vm_delete(void) { both(case_vm_delete, check_vm_delete); }

/* --- conflicts --------------------------------------------------------------------------- */

/* Two sessions in transactions write the same row (the same VM's NIC 0, two MACs): the
 * second commit gets -EAGAIN and changes nothing (its MAC stays free). Two VMs' NICs
 * claiming the same MAC: the same. */
static void test_conflict(void)
{
	char prefix[64];
	struct db *db = NULL;
	struct dbc *c1 = NULL, *c2 = NULL;
	int64_t a, b, n;
	struct lg l = { 0 };

	snprintf(prefix, sizeof(prefix), "/t%d-conflict/", (int)getpid());
	CHECK_EQ(inv_etcd_open(rig.endpoints, prefix, TIMEOUT_MS, &db), 0);
	if (!db)
		return;
	c1 = inv_get(db);
	c2 = inv_get(db);
	CHECK(c1 && c2);
	if (!c1 || !c2)
		goto out;
	a = mkvm(c1, "a");
	b = mkvm(c1, "b");
	n = mknet(c1, "n", "");

	CHECK_EQ(inv_begin(c1), 0);
	CHECK_EQ(inv_begin(c2), 0);
	CHECK_EQ(inv_vm_nic_add(c1, a, 0, n, "52:54:00:00:03:01"), 0);
	CHECK_EQ(inv_vm_nic_add(c2, a, 0, n, "52:54:00:00:03:02"), 0);
	CHECK_EQ(inv_commit(c1), 0);
	CHECK_EQ(inv_commit(c2), -EAGAIN);
	CHECK_EQ(inv_vm_nics(c1, a, p_nic, &l), 0);
	CHECK(!strcmp(l.buf, "  nic 0: 1 n nat NULL 10.9.0.0/24 10.9.0.10 52:54:00:00:03:01 "
		      "virtio\n"));
	CHECK_EQ(inv_mac_used(c1, "52:54:00:00:03:02"), 0);

	/* the same MAC on two VMs at once */
	CHECK_EQ(inv_begin(c1), 0);
	CHECK_EQ(inv_begin(c2), 0);
	CHECK_EQ(inv_vm_nic_add(c1, a, 1, n, "52:54:00:00:03:09"), 0);
	CHECK_EQ(inv_vm_nic_add(c2, b, 0, n, "52:54:00:00:03:09"), 0);
	CHECK_EQ(inv_commit(c2), 0);
	CHECK_EQ(inv_commit(c1), -EAGAIN);
	l.len = 0;
	l.buf[0] = '\0';
	CHECK_EQ(inv_vm_nics(c1, a, p_nic, &l), 0);
	CHECK(!strstr(l.buf, "nic 1"));
	CHECK_EQ(inv_mac_used(c1, "52:54:00:00:03:09"), 1);

	/* a second top of one VM's disk, at once: one wins */
	{
		struct inv_layer t1 = { .path = "/l/t1", .kind = "top", .vm_id = a, .disk_id = 7 },
			t2 = { .path = "/l/t2", .kind = "top", .vm_id = a, .disk_id = 7 };
		int r1, r2;

		CHECK_EQ(inv_begin(c1), 0);
		CHECK_EQ(inv_begin(c2), 0);
		CHECK_EQ(inv_layer_add(c1, &t1), 0);
		CHECK_EQ(inv_layer_add(c2, &t2), 0);
		r1 = inv_commit(c1);
		r2 = inv_commit(c2);
		CHECK_EQ(r1, 0);
		CHECK_EQ(r2, -EAGAIN);
		CHECK_EQ(inv_layer_get(c1, "/l/t2", NULL, NULL), -ENOENT);
		CHECK_EQ(inv_layer_top(c1, a, 7, NULL, NULL), 0);
	}
	/* a drive attached while its disk is deleted: never both (no drive of a missing
	 * disk), whichever commits first */
	{
		int64_t d = mkdisk(c1, "d"), d2 = mkdisk(c1, "d2");
		struct lg l2 = { 0 };

		CHECK_EQ(inv_begin(c1), 0);
		CHECK_EQ(inv_vm_disk_add(c1, a, 0, d, "virtio-blk", false), 0);
		CHECK_EQ(inv_disk_delete(c2, d), 0);
		CHECK_EQ(inv_commit(c1), -EAGAIN);
		CHECK_EQ(inv_begin(c2), 0);
		CHECK_EQ(inv_disk_delete(c2, d2), 0);
		CHECK_EQ(inv_vm_disk_add(c1, a, 0, d2, "virtio-blk", false), 0);
		CHECK_EQ(inv_commit(c2), -EAGAIN);
		CHECK_EQ(inv_vm_disks(c1, a, p_disk, &l2), 0);
		CHECK(!strcmp(l2.buf, "  disk 0: 2 d2 /store/d2.img raw virtio-blk ro=0\n"));
		CHECK_EQ(inv_disk_delete(c2, d2), -EEXIST);
	}
out:
	if (c1)
		inv_put(c1);
	if (c2)
		inv_put(c2);
	inv_close(db);
}

/* ie_vm_drop_children on its own, in a transaction: what it drops, and a rollback that
 * keeps everything. */
static void test_drop_children(void)
{
	char prefix[64];
	struct db *db = NULL;
	struct dbc *c;
	struct inv_vm_hw hw;
	struct lg l = { 0 };
	int64_t a, d, n, s1 = 0;
	struct inv_snapshot s = { 0 };

	snprintf(prefix, sizeof(prefix), "/t%d-drop/", (int)getpid());
	CHECK_EQ(inv_etcd_open(rig.endpoints, prefix, TIMEOUT_MS, &db), 0);
	if (!db || !(c = inv_get(db))) {
		inv_close(db);
		CHECK(0);
		return;
	}
	a = mkvm(c, "a");
	d = mkdisk(c, "d");
	n = mknet(c, "n", "");
	s.vm_id = a;
	snprintf(s.name, sizeof(s.name), "s");
	CHECK_EQ(inv_vm_disk_add(c, a, 0, d, "virtio-blk", false), 0);
	CHECK_EQ(inv_vm_nic_add(c, a, 0, n, "52:54:00:00:04:01"), 0);
	CHECK_EQ(inv_vm_cdrom_add(c, a, 0, NULL), 0);
	CHECK_EQ(inv_snap_create(c, &s, &s1), 0);
	CHECK_EQ(inv_snap_image_add(c, s1, d, "/l/x"), 0);
	CHECK_EQ(inv_layer_add(c, &(struct inv_layer){ .path = "/l/t", .kind = "top",
						       .vm_id = a, .disk_id = d }), 0);
	/* rolled back: all stays */
	CHECK_EQ(inv_begin(c), 0);
	CHECK_EQ(ie_vm_drop_children(c, a), 0);
	CHECK_EQ(inv_vm_hw_get(c, a, &hw), -ENOENT);       /* the session sees its writes */
	inv_rollback(c);
	CHECK_EQ(inv_vm_hw_get(c, a, &hw), 0);
	CHECK_EQ(inv_mac_used(c, "52:54:00:00:04:01"), 1);
	CHECK_EQ(inv_layer_top(c, a, d, NULL, NULL), 0);
	/* committed: all goes */
	CHECK_EQ(inv_begin(c), 0);
	CHECK_EQ(ie_vm_drop_children(c, a), 0);
	CHECK_EQ(inv_commit(c), 0);
	CHECK_EQ(inv_vm_disks(c, a, p_disk, &l), 0);
	CHECK_EQ(inv_vm_nics(c, a, p_nic, &l), 0);
	CHECK_EQ(inv_vm_cdroms(c, a, p_cd, &l), 0);
	CHECK_EQ(inv_snap_each(c, a, p_snap, &l), 0);
	CHECK_EQ(inv_snap_images(c, s1, p_image, &l), 0);
	CHECK(l.len == 0);
	CHECK_EQ(inv_vm_hw_get(c, a, &hw), -ENOENT);
	CHECK_EQ(inv_mac_used(c, "52:54:00:00:04:01"), 0);
	CHECK_EQ(inv_layer_top(c, a, d, NULL, NULL), -ENOENT);
	CHECK_EQ(inv_layer_get(c, "/l/t", p_layer, &l), 0);
	CHECK(!strcmp(l.buf, "  layer 1 /l/t parent=NULL frozen vm=0 disk=0\n"));
	inv_put(c);
	inv_close(db);
}

int main(void)
{
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vsrv-inv-attach.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		printf("FAIL setup: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	rc = etcdrig_start(&rig, 1);
	if (rc) {
		if (rc == -ENOENT) {
			printf("SKIP inv-etcd-attach: %s is not installed (etcd-server)\n",
			       ETCDRIG_BIN);
			return 0;
		}
		printf("FAIL etcd: cannot start an etcd member: %s\n", strerror(-rc));
		return 1;
	}
	RUN(test_disks);
	RUN(test_nics);
	RUN(test_cdroms);
	RUN(test_hw);
	RUN(test_clone);
	RUN(test_layers);
	RUN(test_snaps);
	RUN(test_vm_delete);
	RUN(test_drop_children);
	RUN(test_conflict);
	etcdrig_stop(&rig);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd)) {}
	}
	return check_done();
}
