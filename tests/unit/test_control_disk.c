/* Unit tests of the control socket's disk-switch requests (src/vmm/control_disk.c) that are
 * refused before anything touches the VM: a bad body, a descriptor count that is not one
 * per disk, a descriptor that is not a regular file or not the file its path names: each
 * gets {"ok":false,"error":...}, never a crash, and every descriptor passed is closed (the
 * process has as many open as before). The socket itself and a real switch:
 * unit-control_switch; a VM: tests/t-disk-switch.sh and tests/server/snapshots.py (KVM). */
#include "check.h"
#include "fdcount.h"
#include "vmm/control_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The reply to line with nfds descriptors of path (NULL: /dev/null), refused: 1 when it
 * says ok:false with an error holding want, and every descriptor is closed. */
static int refused_fds(const char *line, unsigned n, const char *path, const char *want)
{
	json_t *msg = json_loads(line, 0, NULL), *r;
	int fds[8], before = nfds(), ok;

	if (!msg || n > 8)
		return -1;
	for (unsigned i = 0; i < n; i++)
		fds[i] = open(path ? path : "/dev/null", O_RDWR | O_CLOEXEC);
	r = control_disk_switch(NULL, msg, false, fds, n);
	ok = json_is_false(json_object_get(r, "ok")) &&
	     strstr(json_string_value(json_object_get(r, "error")) ?: "", want) != NULL;
	if (!ok)
		printf("# %s\n", json_string_value(json_object_get(r, "error")) ?: "(no error)");
	json_decref(r);
	json_decref(msg);
	return ok && nfds() == before;
}

static int refused(const char *line)
{
	return refused_fds(line, 1, NULL, "disks");
}

static void test_bad_bodies(void)
{
	CHECK_EQ(refused("{\"cmd\":\"disk-switch\"}"), 1);
	CHECK_EQ(refused("{\"cmd\":\"disk-switch\",\"disks\":[]}"), 1);
	CHECK_EQ(refused("{\"cmd\":\"disk-switch\",\"disks\":{}}"), 1);
	CHECK_EQ(refused("{\"cmd\":\"disk-switch\",\"disks\":[1]}"), 1);
	CHECK_EQ(refused("{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":\"disk0\"}]}"), 1);
	CHECK_EQ(refused("{\"cmd\":\"disk-switch\",\"disks\":[{\"path\":\"/a.vhd\"}]}"), 1);
	CHECK_EQ(refused("{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":0,\"path\":\"/a\"}]}"), 1);
	CHECK_EQ(refused("{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":\"disk0\",\"path\":\"\"}]}"), 1);
	CHECK_EQ(refused("{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":\"disk0\",\"path\":\"rel.vhd\"}]}"), 1);
	/* a comma would end the path in the --disk spec a reset and a save keep */
	CHECK_EQ(refused("{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":\"disk0\",\"path\":\"/a,b.vhd\"}]}"), 1);
	CHECK_EQ(refused("{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":\"disk0\",\"path\":\"/a\\nb.vhd\"}]}"), 1);
	/* an unknown member (a typo) is refused, not ignored */
	CHECK_EQ(refused("{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":\"disk0\",\"path\":\"/a.vhd\","
			 "\"pth\":1}]}"), 1);
	/* the second entry bad: refused as a whole */
	CHECK_EQ(refused("{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":\"disk0\",\"path\":\"/a.vhd\"},"
			 "{\"drive\":\"disk1\"}]}"), 1);
}

/* One descriptor per disk, each the file its path names, a regular file. */
static void test_bad_descriptors(void)
{
	const char *one = "{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":\"disk0\","
			  "\"path\":\"/dev/null\"}]}";
	const char *two = "{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":\"disk0\",\"path\":"
			  "\"/a.vhd\"},{\"drive\":\"disk1\",\"path\":\"/b.vhd\"}]}";
	char tmp[] = "/tmp/vsrv-ctldisk-XXXXXX", other[] = "/tmp/vsrv-ctldisk-XXXXXX", line[256];
	int fd = mkstemp(tmp), fd2 = mkstemp(other);

	CHECK(fd >= 0 && fd2 >= 0);
	close(fd);
	close(fd2);
	/* none, too few, too many */
	CHECK_EQ(refused_fds(one, 0, NULL, "got 0 for 1 disk"), 1);
	CHECK_EQ(refused_fds(two, 1, tmp, "got 1 for 2 disks"), 1);
	CHECK_EQ(refused_fds(one, 3, tmp, "got 3 for 1 disk"), 1);
	/* not a regular file (a device) */
	CHECK_EQ(refused_fds(one, 1, NULL, "not a regular file"), 1);
	/* a file, but not the one the path names */
	snprintf(line, sizeof(line), "{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":\"disk0\","
		 "\"path\":\"%s\"}]}", tmp);
	CHECK_EQ(refused_fds(line, 1, other, "another file"), 1);
	unlink(tmp);
	unlink(other);
}

/* More disks than a VM has devices: refused before any is looked at. */
static void test_too_many(void)
{
	json_t *msg = json_pack("{s:s,s:[]}", "cmd", "disk-switch", "disks"), *r;

	for (int i = 0; i < 65; i++)
		json_array_append_new(json_object_get(msg, "disks"),
				      json_pack("{s:s,s:s}", "drive", "disk0", "path", "/a.vhd"));
	r = control_disk_switch(NULL, msg, false, NULL, 0);
	CHECK(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	json_decref(msg);
}

int main(void)
{
	RUN(test_bad_bodies);
	RUN(test_bad_descriptors);
	RUN(test_too_many);
	return check_done();
}
