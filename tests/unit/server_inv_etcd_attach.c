/* The etcd inventory's VM attachments and hardware (inv_etcd_attach.c, inv_etcd_cdrom.c,
 * inv_etcd_vmhw.c; layers, snapshots and cascades: server_inv_etcd_layers.c) against the
 * SQLite backend (the harness: invattach.h): every case runs the same sequence of inv_* calls on a fresh SQLite inventory
 * and on a fresh prefix of a real etcd (etcdrig.h, one member), writes each result (return
 * codes, the lists in their order) as a line of a transcript, and the two transcripts must
 * be the same; the cases also check the values that matter (-EEXIST for a taken MAC or a
 * second top layer, the cascades of a deleted VM or disk) on their own, so two backends
 * broken the same way do not pass. Plus conflicts: two etcd sessions in transactions that
 * write the same row. SKIPs when etcd is not installed. */
#include "invattach.h"

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
	struct inv_vm_hw hw = { .balloon = false, .mem_merge = true, .memory_min_mib = 300,
				.memory_buffer_pct = 35 }, before, after;

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
	/* an import sets it */
	L(l, "set uuid %d", inv_vm_hw_set_uuid(c, a, "0041f237-12f1-4f3e-822d-dfc78d9c80da"));
	L(l, "set uuid-none %d", inv_vm_hw_set_uuid(c, 999, "0041f237-12f1-4f3e-822d-dfc78d9c80da"));
	inv_vm_hw_get(c, a, &after);
	L(l, "uuid %s", after.uuid);
	hw_line(l, c, a);
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
		  "merge=0 min=0 buf=0"));
	CHECK(has(l, "  disk 0: 1 d /store/d.img raw scsi ro=0"));
	CHECK(has(l, "  nic 0: 1 n nat NULL 10.9.0.0/24 10.9.0.10 52:54:00:00:05:02 e1000"));
	CHECK(has(l, "  cd 0: x.iso ahci"));
	CHECK(strstr(l->buf, "  cduser a (1) 0\n  cduser b (2) 0\ncdusers 0\n"));
}

static void check_hw(const struct lg *l)
{
	/* (a new VM: dynamic memory off, the default buffer) */
	CHECK(has(l, "hw 1: fw=none boot='' uuid=36/4 os='' balloon=1 display='' enl='' merge=0 "
		  "min=0 buf=20"));
	CHECK(has(l, "hw_get 999 = -2"));
	CHECK(has(l, "put-none -2"));
	CHECK(has(l, "hw 1: fw=uefi boot='cdrom,disk' uuid=36/4 os='windows' balloon=0 "
		  "display='bochs' enl='hyperv' merge=1 min=300 buf=35"));
	CHECK(has(l, "hw 2: fw=bios boot='' uuid=36/4 os='' balloon=0 display='' enl='' merge=0 "
		  "min=0 buf=0"));
	CHECK(has(l, "uuid kept 1"));
	CHECK(has(l, "model-none -2"));
	CHECK(has(l, "bus-none -2"));
	CHECK(has(l, "hw 2: fw=uefi boot='cdrom,disk' uuid=36/4 os='windows' balloon=0 "
		  "display='bochs' enl='hyperv' merge=1 min=300 buf=35"));
	CHECK(has(l, "uuids differ 1"));
	/* b's NIC 1 takes a's model; its NIC 2 (a has none) keeps its own */
	CHECK(has(l, "  nic 1: 1 n nat NULL 10.9.0.0/24 10.9.0.10 52:54:00:00:01:03 e1000"));
	CHECK(has(l, "  nic 2: 1 n nat NULL 10.9.0.0/24 10.9.0.10 52:54:00:00:01:04 virtio"));
	CHECK(has(l, "  cd 0: NULL ahci"));
}

/* Layers: unique paths, one top per VM's disk, the lookups and walks, the unused ones,
 * kind changes that move the top, reparenting, delete; a deleted disk's own layer. */
static void test_disks(void) { both(case_disks, check_disks); }
static void test_nics(void) { both(case_nics, check_nics); }
static void test_cdroms(void) { both(case_cdroms, check_cdroms); }
static void test_hw(void) { both(case_hw, check_hw); }
static void test_clone(void) { both(case_clone, check_clone); }

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
static void cases(void)
{
	RUN(test_disks);
	RUN(test_nics);
	RUN(test_cdroms);
	RUN(test_hw);
	RUN(test_clone);
	RUN(test_conflict);
}

int main(void)
{
	return invattach_main("inv-etcd-attach", cases);
}
