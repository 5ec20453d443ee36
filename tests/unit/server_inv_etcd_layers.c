/* The etcd inventory's layers and snapshots (inv_etcd_layer.c, inv_etcd_snap.c) and the
 * cascades of a deleted VM or disk (ie_vm_drop_children, ie_disk_drop_children) against the
 * SQLite backend, as server_inv_etcd_attach.c does for the attachments (invattach.h). */
#include "invattach.h"

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

static void test_layers(void) { both(case_layers, check_layers); }
static void test_snaps(void) { both(case_snaps, check_snaps); }
static void test_vm_delete(void) { both(case_vm_delete, check_vm_delete); }

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

static void cases(void)
{
	RUN(test_layers);
	RUN(test_snaps);
	RUN(test_vm_delete);
	RUN(test_drop_children);
}

int main(void)
{
	return invattach_main("inv-etcd-layers", cases);
}
