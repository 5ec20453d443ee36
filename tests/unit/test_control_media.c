/* The control socket's media command end to end, without KVM: a VM built by hand with two
 * CD/DVD drives (an ISO made by xorriso, and an empty one) through the device level, its
 * control loop running on a thread with the control socket attached, a client on the socket,
 * and the test driver (vdrv.h) playing the guest on the virtio-scsi controller: what the
 * guest reads and the events and sense data it gets as the client ejects and inserts discs,
 * the guest's lock against an eject, and the command's refusals. */
#include "cdvm.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[64], one[96], two[96], sock[96], spec0[128];
static FILE *cl;

static bool sense(uint8_t key, uint8_t asc, uint8_t ascq)
{
	const uint8_t *s = vm->mem->host + RESP + 12;

	return vm->mem->host[RESP + 10] == 2 && s[2] == key && s[12] == asc && s[13] == ascq;
}

/* The media event GET EVENT STATUS NOTIFICATION reports on target t. */
static int event(unsigned t)
{
	const uint8_t gesn[10] = { 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8 };

	if (scsi(t, gesn, 10, 8) != 0)
		return -1;
	return vm->mem->host[BUF + 4] & 0xf;
}

/* Send one command line, return its answer (free with json_decref). */
static json_t *q(const char *line)
{
	char buf[8192];

	fprintf(cl, "%s\n", line);
	fflush(cl);
	if (!fgets(buf, sizeof(buf), cl))
		return json_object();
	return json_loads(buf, 0, NULL);
}

static bool ok_of(json_t *r)
{
	return json_is_true(json_object_get(r, "ok"));
}

static const char *err_of(json_t *r)
{
	const char *e = json_string_value(json_object_get(r, "error"));

	return e ? e : "";
}

/* Drive i of an answer's list: path (NULL for none) and tray. */
static const char *path_of(json_t *r, size_t i)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(r, "drives"), i),
						 "path"));
}

static bool make_isos(void)
{
	char cmd[1024];

	snprintf(dir, sizeof(dir), "/tmp/vsrv-ctlmedia.%d", getpid());
	snprintf(one, sizeof(one), "%s/one.iso", dir);
	snprintf(two, sizeof(two), "%s/two.iso", dir);
	snprintf(sock, sizeof(sock), "%s/ctl", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/a %s/b && echo a > %s/a/f && echo b > %s/b/f && "
		 "xorriso -as mkisofs -quiet -V VSRV_CD_ONE -o %s %s/a 2>/dev/null && "
		 "xorriso -as mkisofs -quiet -V VSRV_CD_TWO -o %s %s/b 2>/dev/null",
		 dir, dir, dir, dir, one, dir, two, dir);
	return system(cmd) == 0;
}

static void test_media_command(void)
{
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM, .serial = VM_SERIAL_NONE };
	const char *disks[2] = { spec0, ",media=cdrom" };
	const uint8_t prevent[6] = { 0x1e, 0, 0, 0, 1 }, allow[6] = { 0x1e };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *ctl = NULL;
	pthread_t th;
	char line[512];
	json_t *r;
	int fd;

	snprintf(spec0, sizeof(spec0), "%s,media=cdrom", one);
	cfg.disks = disks, cfg.nr_disks = 2;
	if (!cdvm_start(&cfg, sock, &ctl, &th))
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cl = fdopen(fd, "r+");

	/* the guest reads the first disc; the second drive is empty */
	CHECK_EQ(scsi(0, TUR, 6, 0), 0);
	CHECK(!strcmp(volume(0), "VSRV_CD_ONE"));
	scsi(1, TUR, 6, 0);
	CHECK(sense(2, 0x3a, 0x01));
	r = q("{\"cmd\":\"media\",\"id\":7}");
	CHECK(ok_of(r) && json_array_size(json_object_get(r, "drives")) == 2);
	CHECK(path_of(r, 0) && !strcmp(path_of(r, 0), one) && !path_of(r, 1));
	CHECK_EQ(json_integer_value(json_object_get(r, "id")), 7);
	json_decref(r);

	/* refusals: which drive, no such drive or image, both actions, a comma */
	r = q("{\"cmd\":\"media\",\"eject\":true}");
	CHECK(!ok_of(r) && strstr(err_of(r), "say which"));
	json_decref(r);
	r = q("{\"cmd\":\"media\",\"eject\":true,\"drive\":\"disk9\"}");
	CHECK(!ok_of(r) && strstr(err_of(r), "disk9"));
	json_decref(r);
	snprintf(line, sizeof(line), "{\"cmd\":\"media\",\"drive\":\"disk1\",\"insert\":\"%s/nope.iso\"}",
		 dir);
	r = q(line);
	CHECK(!ok_of(r) && strstr(err_of(r), "nope.iso"));
	json_decref(r);
	r = q("{\"cmd\":\"media\",\"drive\":\"disk1\",\"insert\":\"/tmp/a,b.iso\"}");
	CHECK(!ok_of(r) && strstr(err_of(r), "comma"));
	json_decref(r);
	r = q("{\"cmd\":\"media\",\"eject\":true,\"insert\":\"x\"}");
	CHECK(!ok_of(r));
	json_decref(r);
	CHECK_EQ(event(0), 0); /* nothing changed */

	/* the guest locks drive 0: an eject is refused and asks the guest; force takes it */
	CHECK_EQ(scsi(0, prevent, 6, 0), 0);
	r = q("{\"cmd\":\"media\",\"drive\":\"disk0\",\"eject\":true}");
	CHECK(!ok_of(r) && strstr(err_of(r), "locked"));
	json_decref(r);
	CHECK_EQ(event(0), 1); /* eject request */
	CHECK(!strcmp(volume(0), "VSRV_CD_ONE"));
	CHECK_EQ(scsi(0, allow, 6, 0), 0);
	r = q("{\"cmd\":\"media\",\"drive\":\"disk0\",\"eject\":true}");
	CHECK(ok_of(r) && !path_of(r, 0));
	CHECK(!strcmp(json_string_value(json_object_get(json_array_get(
		json_object_get(r, "drives"), 0), "tray")), "open"));
	json_decref(r);
	CHECK_EQ(event(0), 3); /* media removal */
	scsi(0, TUR, 6, 0);
	CHECK(sense(2, 0x3a, 0x02));

	/* the second disc into drive 0, the first into the empty drive 1 */
	snprintf(line, sizeof(line), "{\"cmd\":\"media\",\"drive\":\"disk0\",\"insert\":\"%s\"}", two);
	r = q(line);
	CHECK(ok_of(r) && path_of(r, 0) && !strcmp(path_of(r, 0), two));
	json_decref(r);
	snprintf(line, sizeof(line), "{\"cmd\":\"media\",\"drive\":\"disk1\",\"insert\":\"%s\"}", one);
	r = q(line);
	CHECK(ok_of(r) && json_array_size(json_object_get(r, "drives")) == 1);
	json_decref(r);
	CHECK_EQ(event(0), 2); /* new media */
	scsi(0, TUR, 6, 0);
	CHECK(sense(6, 0x28, 0)); /* once */
	CHECK_EQ(scsi(0, TUR, 6, 0), 0);
	CHECK(!strcmp(volume(0), "VSRV_CD_TWO"));
	scsi(1, TUR, 6, 0);
	CHECK(sense(6, 0x28, 0));
	CHECK(!strcmp(volume(1), "VSRV_CD_ONE"));
	/* a locked drive still gives its disc up by force */
	CHECK_EQ(scsi(1, prevent, 6, 0), 0);
	r = q("{\"cmd\":\"media\",\"drive\":\"disk1\",\"eject\":true,\"force\":true}");
	CHECK(ok_of(r) && !path_of(r, 0));
	json_decref(r);
	scsi(1, TUR, 6, 0);
	CHECK(sense(2, 0x3a, 0x02));

	cdvm_stop(ctl, th);
	fclose(cl);
}

int main(void)
{
	char cmd[128];

	if (!make_isos()) {
		printf("SKIP test_media_command: cannot make the ISO images (xorriso: make test-deps)\n");
		return 0;
	}
	RUN(test_media_command);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return check_done();
}
