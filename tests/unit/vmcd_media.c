/* The server's media change (api_vmcd.c vmcd_media_change, over vmctl_send) against the
 * VMM's own control socket, without KVM: a VM built by hand with two CD/DVD drives through
 * the device level (as tests/unit/test_control_media.c), its control loop on a thread
 * listening where the server looks for VM 1's socket (DATA/vms/1/control.sock), the ISOs in
 * the server's image store, and the test driver (vdrv.h) playing the guest. Checked: the
 * drive index maps to the VMM's drive, an insert reaches the guest, a drive the guest locked
 * answers -EBUSY with the VMM's message and gives its disc up with force, a drive the VMM
 * does not have is refused. Linked with the server's objects and the VMM's (mk/tests.mk). */
#include "cdvm.h"
#include "server/imgstore.h"
#include "server/server.h"
#include "server/vmctl.h"
#include "server/vmrow.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], one[128], sock[128], spec0[160];
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
	pthread_t th;

	snprintf(srv.images_dir, sizeof(srv.images_dir), "%s/images", dir);
	snprintf(two, sizeof(two), "%s/images/two.iso", dir);
	CHECK_EQ(imgstore_create(srv.images_dir, 1 << 30, &srv.images), 0);
	CHECK_EQ(vmctl_path(&srv, 1, sock, sizeof(sock)), 0);
	snprintf(spec0, sizeof(spec0), "%s,media=cdrom", one);
	cfg.disks = disks, cfg.nr_disks = 2;
	if (!srv.images || !cdvm_start(&cfg, sock, &ctl, &th))
		return;

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

	cdvm_stop(ctl, th);
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
