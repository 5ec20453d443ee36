/* Unit tests of the disk switch over a VM's device table (src/devices/virtio/devices_switch.c,
 * no KVM: a table of disk entries on real VHD images): every named disk onto its new top or
 * none (a later failure puts back the first), the refusals (no such drive, a drive named
 * twice, a CD/DVD drive), the switched list a guest reset keeps, and a save's run
 * arguments naming the new tops. */
#include "check.h"
#include "scratch.h"
#include "devices/virtio/devstate.h"
#include "devices/virtio/kind.h"
#include "disk/disk.h"
#include "vhd/vhd.h"
#include "vmm/vm.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct device_kind disk_kind = { .name = "test-disk" };
static int cd_media(struct vdevs *v, struct device_entry *e, const char *path, bool force,
		    char *err, size_t errlen)
{
	(void)v, (void)e, (void)path, (void)force, (void)err, (void)errlen;
	return -ENOTSUP;
}
static const struct device_kind cd_kind = { .name = "test-cd", .media = cd_media };

static struct vm vm;
static struct vdevs *v;

/* P(name) kept for good (P's buffers are reused) */
static const char *path_of(const char *name)
{
	static char keep[16][128];
	static int k;

	snprintf(keep[k % 16], sizeof(keep[0]), "%s", P(name));
	return keep[k++ % 16];
}

static void make(const char *name, const char *parent)
{
	struct vhd_create_opts o = { .type = parent ? VHD_TYPE_DIFF : VHD_TYPE_DYNAMIC,
				     .size = parent ? 0 : 4 << 20, .force_size = !parent,
				     .parent = parent ? P(parent) : NULL, .parent_nolock = true };

	CHECK_EQ(vhd_create(P(name), &o, NULL), 0);
}

/* A table: disk0 (x.vhd), disk1 (y.vhd), disk2 a CD drive without medium. */
static void setup(void)
{
	v = calloc(1, sizeof(*v));
	vm.devices_priv = v;
	make("x.vhd", NULL);
	make("y.vhd", NULL);
	for (int i = 0; i < 2; i++) {
		v->e[i].kind = &disk_kind;
		snprintf(v->e[i].label, sizeof(v->e[i].label), "disk%d", i);
		CHECK_EQ(disk_open(P(i ? "y.vhd" : "x.vhd"), "vhd", 0, &v->e[i].disk), 0);
	}
	v->e[2].kind = &cd_kind;
	snprintf(v->e[2].label, sizeof(v->e[2].label), "disk2");
	v->n = 3;
}

static void teardown(void)
{
	for (unsigned i = 0; i < v->n; i++)
		disk_close(v->e[i].disk);
	free(v);
}

/* An entry for drive onto the image name, opened here read-write (-1 when missing). */
static struct vm_disk_switch ent(const char *drive, const char *name)
{
	const char *path = path_of(name);

	return (struct vm_disk_switch){ drive, path, open(path, O_RDWR | O_CLOEXEC) };
}

/* Close what the call left to the caller (the descriptors the disks did not take). */
static void drop(struct vm_disk_switch *sw, int n)
{
	for (int i = 0; i < n; i++)
		if (sw[i].fd >= 0)
			close(sw[i].fd);
}

static bool on(int i, const char *name)
{
	const char *p = v->e[i].disk->path, *b = strrchr(p, '/');

	return b && !strcmp(b + 1, name);
}

static void test_all_or_none(void)
{
	struct vm_disk_switch sw[2];
	struct vm_disk_top t[4];
	char err[512];

	setup();
	make("x1.vhd", "x.vhd");
	make("y1.vhd", "x.vhd"); /* over the wrong image */
	sw[0] = ent("disk0", "x1.vhd");
	sw[1] = ent("disk1", "y1.vhd");
	CHECK_EQ(vm_devices_disk_switch(&vm, sw, 2, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "disk1") && strstr(err, "not a differencing image over"));
	CHECK_EQ(sw[0].fd, -1); /* disk0 took its top, then put it back: closed */
	CHECK(sw[1].fd >= 0 && fcntl(sw[1].fd, F_GETFD) == FD_CLOEXEC); /* still the caller's */
	drop(sw, 2);
	CHECK(on(0, "x.vhd") && on(1, "y.vhd"));
	CHECK_EQ(vm_devices_switched(&vm, t, 4), 0);
	/* disk0 is locked as before: nobody else writes x.vhd */
	CHECK_EQ(vhd_lock_path_test(P("x.vhd"), VHD_LOCK_SHARED), -EBUSY);
	/* refusals before anything is touched: every descriptor stays the caller's */
	sw[0] = ent("disk0", "x1.vhd");
	sw[1] = ent("disk9", "y1.vhd");
	CHECK_EQ(vm_devices_disk_switch(&vm, sw, 2, err, sizeof(err)), -ENOENT);
	CHECK(sw[0].fd >= 0 && sw[1].fd >= 0);
	drop(sw, 2);
	sw[1] = ent("disk0", "x1.vhd");
	sw[0] = ent("disk0", "x1.vhd");
	CHECK_EQ(vm_devices_disk_switch(&vm, sw, 2, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "twice") != NULL);
	drop(sw, 2);
	sw[0] = ent("disk0", "x1.vhd");
	sw[1] = ent("disk2", "x1.vhd");
	CHECK_EQ(vm_devices_disk_switch(&vm, sw, 2, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "CD/DVD") != NULL);
	drop(sw, 2);
	CHECK(on(0, "x.vhd"));
	/* both right: both switched, both descriptors the disks' */
	make("y2.vhd", "y.vhd");
	sw[0] = ent("disk0", "x1.vhd");
	sw[1] = ent("disk1", "y2.vhd");
	CHECK_EQ(vm_devices_disk_switch(&vm, sw, 2, err, sizeof(err)), 0);
	CHECK(sw[0].fd == -1 && sw[1].fd == -1);
	CHECK(on(0, "x1.vhd") && on(1, "y2.vhd"));
	CHECK_EQ(vm_devices_switched(&vm, t, 4), 2);
	CHECK(!strcmp(t[0].drive, "disk0") && strstr(t[0].path, "x1.vhd"));
	CHECK(!strcmp(t[1].drive, "disk1") && strstr(t[1].path, "y2.vhd"));
	teardown();
}

static void test_run_args(void)
{
	struct vm_disk_switch sw;
	char err[512], **out = NULL, spec[256];
	const char *args[4];

	setup();
	make("y3.vhd", "y.vhd");
	sw = ent("disk1", "y3.vhd");
	args[0] = "--memory=64M";
	snprintf(spec, sizeof(spec), "--disk=%s,format=vhd,bus=ide", P("y.vhd"));
	args[1] = "--disk=/somewhere/x.vhd,format=vhd";
	args[2] = spec;
	args[3] = "--disk=,media=cdrom";
	CHECK_EQ(vm_devices_run_args(&vm, args, 4, &out), 0);
	CHECK(out == NULL); /* nothing switched: the args as they are */
	CHECK_EQ(vm_devices_disk_switch(&vm, &sw, 1, err, sizeof(err)), 0);
	CHECK_EQ(vm_devices_run_args(&vm, args, 4, &out), 0);
	CHECK(out != NULL);
	if (out) {
		char want[256];

		snprintf(want, sizeof(want), "--disk=%s,format=vhd,bus=ide", P("y3.vhd"));
		CHECK(!strcmp(out[0], args[0]) && !strcmp(out[1], args[1]) && !strcmp(out[2], want) &&
		      !strcmp(out[3], args[3]) && out[4] == NULL);
		free(out);
	}
	teardown();
}

int main(void)
{
	if (scratch_make("vsrv-devswitch"))
		return 1;
	RUN(test_all_or_none);
	RUN(test_run_args);
	scratch_remove();
	return check_done();
}
