/* The server's media change (api_vmcd.c vmcd_media_change, over vmctl_send) against the
 * VMM's own control socket, without KVM: a VM built by hand with two CD/DVD drives through
 * the device level (as tests/unit/test_control_media.c), its control loop on a thread
 * listening where the server looks for VM 1's socket (DATA/vms/1/control.sock), the ISOs in
 * the server's image store, and the test driver (vdrv.h) playing the guest. Checked: the
 * drive index maps to the VMM's drive, an insert reaches the guest, a drive the guest locked
 * answers -EBUSY with the VMM's message and gives its disc up with force, a drive the VMM
 * does not have is refused. Linked with the server's objects and the VMM's (mk/tests.mk). */
#include "check.h"
#include "vdrv.h"
#include "devices/virtio/devstate.h"
#include "devices/virtio/mmio.h"
#include "server/imgstore.h"
#include "server/server.h"
#include "server/vmctl.h"
#include "server/vmrow.h"
#include "vmm/control.h"
#include "vmm/vm.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MEM (16 << 20)
#define REQ (VDRV_DATA)
#define RESP (VDRV_DATA + 0x200)
#define BUF (VDRV_DATA + 0x1000)

static char dir[64], one[128], sock[128], spec0[160];
static struct vm *vm;
static struct vdrv drv;

static void *loop_thread(void *arg)
{
	(void)arg;
	evloop_run(vm->loop);
	return NULL;
}

/* One SCSI command to target t; returns the SCSI status; sense at RESP + 12. */
static int scsi(unsigned t, const uint8_t *cdb, unsigned len, uint32_t in)
{
	uint8_t *r = vm->mem->host + REQ;
	struct vdrv_buf b[3] = { { REQ, 51, false }, { RESP, 108, true }, { BUF, in, true } };

	memset(r, 0, 51);
	r[0] = 1;
	r[1] = t;
	memcpy(r + 19, cdb, len);
	vdrv_submit(&drv, 2, b, in ? 3 : 2);
	vdrv_wait(&drv, 2, NULL);
	return vm->mem->host[RESP + 10];
}

static const uint8_t TUR[6] = { 0 };

/* The volume id of the disc in target t ("" when the read fails). */
static const char *volume(unsigned t)
{
	static char id[33];
	const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1 };
	int n;

	id[0] = 0;
	if (scsi(t, r10, 10, 2048) != 0 || memcmp(vm->mem->host + BUF + 1, "CD001", 5))
		return id;
	memcpy(id, vm->mem->host + BUF + 40, 32);
	for (n = 32; n > 0 && id[n - 1] == ' '; n--)
		;
	id[n] = 0;
	return id;
}

/* What the VMM's drive i holds (its path; NULL for none), asked through the server's side. */
static char *held(struct server *srv, size_t i)
{
	static char path[512];
	json_t *msg = json_pack("{s:s}", "cmd", "media"), *rep = NULL;
	const char *p = NULL;

	if (!vmctl_send(srv, 1, msg, 5000, &rep))
		p = json_string_value(json_object_get(json_array_get(json_object_get(rep, "drives"),
								     i), "path"));
	snprintf(path, sizeof(path), "%s", p ? p : "");
	json_decref(msg);
	json_decref(rep);
	return p ? path : NULL;
}

static bool make_isos(void)
{
	char cmd[1024];

	snprintf(dir, sizeof(dir), "/tmp/vsrv-vmcd.%d", getpid());
	snprintf(one, sizeof(one), "%s/images/one.iso", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/a %s/b %s/images %s/vms/1 && echo a > %s/a/f && "
		 "echo b > %s/b/f && "
		 "xorriso -as mkisofs -quiet -V VSRV_CD_ONE -o %s/images/one.iso %s/a 2>/dev/null && "
		 "xorriso -as mkisofs -quiet -V VSRV_CD_TWO -o %s/images/two.iso %s/b 2>/dev/null",
		 dir, dir, dir, dir, dir, dir, dir, dir, dir, dir);
	return system(cmd) == 0;
}

static void test_media_change(void)
{
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM, .serial = VM_SERIAL_NONE };
	const char *disks[2] = { spec0, ",media=cdrom" };
	const uint8_t prevent[6] = { 0x1e, 0, 0, 0, 1 };
	struct server srv = { .data_dir = dir };
	struct control *ctl = NULL;
	char err[600], two[160];
	struct vdevs *v;
	pthread_t th;

	snprintf(srv.images_dir, sizeof(srv.images_dir), "%s/images", dir);
	snprintf(two, sizeof(two), "%s/images/two.iso", dir);
	CHECK_EQ(imgstore_create(srv.images_dir, 1 << 30, &srv.images), 0);
	CHECK_EQ(vmctl_path(&srv, 1, sock, sizeof(sock)), 0);
	snprintf(spec0, sizeof(spec0), "%s,media=cdrom", one);
	cfg.disks = disks, cfg.nr_disks = 2;
	vm = calloc(1, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = -1;
	vm->cfg = &cfg;
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	pthread_mutex_init(&vm->irq_lock, NULL);
	vm->cmdline = strdup("");
	CHECK_EQ(guest_mem_create(MEM, &vm->mem), 0);
	CHECK_EQ(evloop_create(&vm->loop), 0);
	CHECK_EQ(vm_devices_init(vm), 0);
	v = vm->devices_priv;
	CHECK(v && v->n == 3 && v->e[2].mmio); /* two drives, then their controller */
	if (!v || v->n != 3 || !srv.images)
		return;
	drv = (struct vdrv){ .bus = &vm->mmio, .mem = vm->mem, .base = v->e[2].mmio->base };
	CHECK_EQ(vdrv_setup(&drv, ~0ULL, 3), 15);
	CHECK_EQ(control_open(sock, &ctl), 0);
	CHECK_EQ(control_attach(ctl, vm), 0);
	CHECK_EQ(pthread_create(&th, NULL, loop_thread, NULL), 0);

	CHECK_EQ(scsi(0, TUR, 6, 0), 0);
	CHECK(!strcmp(volume(0), "VSRV_CD_ONE"));
	/* drive 1 (the VMM's second drive, empty) gets two.iso from the store */
	CHECK_EQ(vmcd_media_change(&srv, 1, 1, "two.iso", false, err, sizeof(err)), 0);
	CHECK(held(&srv, 1) && !strcmp(held(&srv, 1), two));
	scsi(1, TUR, 6, 0);                    /* the UNIT ATTENTION of the change */
	CHECK(!strcmp(volume(1), "VSRV_CD_TWO"));
	CHECK(held(&srv, 0) && !strcmp(held(&srv, 0), one));   /* drive 0 untouched */

	/* the guest locks drive 0: an eject is -EBUSY with the VMM's words, the disc stays */
	CHECK_EQ(scsi(0, prevent, 6, 0), 0);
	err[0] = 0;
	CHECK_EQ(vmcd_media_change(&srv, 1, 0, NULL, false, err, sizeof(err)), -EBUSY);
	CHECK(strstr(err, "locked"));
	CHECK(held(&srv, 0) && !strcmp(held(&srv, 0), one));
	/* an insert into the locked drive is refused as well; with force it goes in */
	CHECK_EQ(vmcd_media_change(&srv, 1, 0, "two.iso", false, err, sizeof(err)), -EBUSY);
	CHECK_EQ(vmcd_media_change(&srv, 1, 0, "two.iso", true, err, sizeof(err)), 0);
	CHECK(held(&srv, 0) && !strcmp(held(&srv, 0), two));
	/* a forced eject of the locked drive (the guest takes the change's UNIT ATTENTION first) */
	scsi(0, TUR, 6, 0);
	CHECK_EQ(scsi(0, prevent, 6, 0), 0);
	CHECK_EQ(vmcd_media_change(&srv, 1, 0, NULL, true, err, sizeof(err)), 0);
	CHECK(!held(&srv, 0));
	/* a drive the VMM does not have; an image the store does not have */
	err[0] = 0;
	CHECK_EQ(vmcd_media_change(&srv, 1, 2, NULL, false, err, sizeof(err)), -EIO);
	CHECK(strstr(err, "no CD/DVD drive 2"));
	CHECK(vmcd_media_change(&srv, 1, 1, "nope.iso", false, err, sizeof(err)) != 0);
	CHECK(strstr(err, "nope.iso"));
	CHECK(held(&srv, 1) && !strcmp(held(&srv, 1), two));
	/* no VMM listening for VM 2 */
	CHECK(vmcd_media_change(&srv, 2, 0, NULL, false, err, sizeof(err)) < 0);

	evloop_stop(vm->loop, 0);
	pthread_join(th, NULL);
	control_detach(ctl);
	control_close(ctl);
	vm_devices_exit(vm);
	evloop_destroy(vm->loop);
	guest_mem_destroy(vm->mem);
	bus_destroy(&vm->mmio);
	bus_destroy(&vm->pio);
	pthread_mutex_destroy(&vm->irq_lock);
	free(vm->cmdline);
	free(vm);
	imgstore_destroy(srv.images);
}

int main(void)
{
	char cmd[128];

	if (!make_isos()) {
		printf("SKIP test_media_change: cannot make the ISO images (xorriso: make test-deps)\n");
		return 0;
	}
	RUN(test_media_change);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return check_done();
}
