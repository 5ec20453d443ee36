/* Unit tests of the control socket's disk-switch requests (src/vmm/control_disk.c) that are
 * refused before anything touches the VM: a bad body gets {"ok":false,"error":...}, never a
 * crash (the VM itself needs KVM: tests/server/snapshots.py's live snapshot). */
#include "check.h"
#include "vmm/control_int.h"

#include <string.h>

/* The reply to line, refused: 1 when it says ok:false with an error naming "disks". */
static int refused(const char *line)
{
	json_t *msg = json_loads(line, 0, NULL), *r;
	int ok;

	if (!msg)
		return -1;
	r = control_disk_switch(NULL, msg, false);
	ok = json_is_false(json_object_get(r, "ok")) &&
	     strstr(json_string_value(json_object_get(r, "error")) ?: "", "disks") != NULL;
	json_decref(r);
	json_decref(msg);
	return ok;
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

/* More disks than a VM has devices: refused before any is looked at. */
static void test_too_many(void)
{
	json_t *msg = json_pack("{s:s,s:[]}", "cmd", "disk-switch", "disks"), *r;

	for (int i = 0; i < 65; i++)
		json_array_append_new(json_object_get(msg, "disks"),
				      json_pack("{s:s,s:s}", "drive", "disk0", "path", "/a.vhd"));
	r = control_disk_switch(NULL, msg, false);
	CHECK(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	json_decref(msg);
}

int main(void)
{
	RUN(test_bad_bodies);
	RUN(test_too_many);
	return check_done();
}
