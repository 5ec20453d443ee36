/* Unit tests of the server's start check for disks (src/server/diskuse.c) on a real
 * inventory: another VM of the server holding a disk (by state, read-write, read-only, under
 * undo disks) and an image locked by another user of the file (the block layer's lock). */
#include "check.h"
#include "scratch.h"
#include "disk/disk.h"
#include "server/db.h"
#include "server/inv.h"
#include "server/diskuse.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static struct server srv;
static struct dbc *c;
static char why[300];

static void exec(const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db_handle(c), sql, NULL, NULL, &err) != SQLITE_OK) {
		printf("# %s: %s\n", sql, err);
		CHECK(0);
	}
	sqlite3_free(err);
}

static void disk(int id, const char *name)
{
	char sql[700];
	int fd = open(P(name), O_CREAT | O_RDWR, 0644);

	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	snprintf(sql, sizeof(sql), "INSERT INTO disks (id, name, format, size, path, created) "
		 "VALUES (%d, '%s', 'raw', 1048576, '%s', 0)", id, name, P(name));
	exec(sql);
}

/* VM id named name in state, with undo disks or not, attached to disk_id (ro or not). */
static void vm(int id, const char *name, const char *state, const char *undo, int disk_id, int ro)
{
	char sql[600];

	snprintf(sql, sizeof(sql), "INSERT INTO vms (id, name, cpus, memory_mib, kernel, state, "
		 "undo_disks, created, updated) VALUES (%d, '%s', 1, 32, 'k.elf', '%s', '%s', 0, 0); "
		 "INSERT INTO vm_disks (vm_id, idx, disk_id, readonly) VALUES (%d, 0, %d, %d)",
		 id, name, state, undo, id, disk_id, ro);
	exec(sql);
}

static void set_state(int id, const char *state)
{
	char sql[200];

	snprintf(sql, sizeof(sql), "UPDATE vms SET state = '%s' WHERE id = %d", state, id);
	exec(sql);
}

static int check_vm(int id)
{
	why[0] = '\0';
	return diskuse_check_start(&srv, c, id, why, sizeof(why));
}

/* A writer excludes every other VM; readers share; who holds it is named. */
static void test_vms(void)
{
	disk(1, "d1.raw");
	vm(1, "a", "running", "off", 1, 0);
	vm(2, "b", "stopped", "off", 1, 0);
	vm(3, "c", "stopped", "off", 1, 1);
	vm(4, "r1", "stopped", "off", 1, 1);
	CHECK_EQ(check_vm(2), -EBUSY);
	CHECK(strstr(why, "disk 'd1.raw' is in use by VM 'a' (read-write)") != NULL);
	CHECK_EQ(check_vm(3), -EBUSY);                 /* a reader under a writer */
	CHECK(strstr(why, "VM 'a'") != NULL);
	CHECK_EQ(check_vm(1), 0);                      /* its own attachment is not in the way */
	set_state(4, "running");
	CHECK_EQ(check_vm(1), 0);                      /* a running VM is not checked again */
	set_state(4, "stopped");
	const char *holding[] = { "paused", "starting", "stopping" };
	for (unsigned i = 0; i < 3; i++) {
		set_state(1, holding[i]);
		CHECK_EQ(check_vm(2), -EBUSY);
	}
	set_state(1, "crashed");
	CHECK_EQ(check_vm(2), 0);
	set_state(1, "stopped");
	set_state(4, "running");
	CHECK_EQ(check_vm(3), 0);                      /* readers share */
	CHECK_EQ(check_vm(2), -EBUSY);                 /* a writer under a reader */
	CHECK(strstr(why, "VM 'r1' (read-only)") != NULL);
	set_state(4, "stopped");
}

/* A VM with undo disks holds its disk read-only: a writer is refused, readers and other
 * VMs with undo disks share it. */
static void test_undo_base(void)
{
	disk(2, "base.raw");
	vm(10, "undo", "running", "keep", 2, 0);
	vm(11, "w", "stopped", "off", 2, 0);
	vm(12, "ro", "stopped", "off", 2, 1);
	vm(13, "undo2", "stopped", "discard", 2, 0);
	CHECK_EQ(check_vm(11), -EBUSY);
	CHECK(strstr(why, "VM 'undo' (read-only)") != NULL);
	CHECK_EQ(check_vm(12), 0);
	CHECK_EQ(check_vm(13), 0);
	set_state(10, "stopped");
	set_state(11, "running");
	CHECK_EQ(check_vm(13), -EBUSY);                /* now the undo VM is the newcomer */
	CHECK(strstr(why, "VM 'w' (read-write)") != NULL);
	set_state(11, "stopped");
}

/* An image another user has open (a hand-started VM; here another open description): the
 * start is refused as "another process" for a writer, and for a reader under a writer. */
static void test_locked_image(void)
{
	struct disk *d;

	disk(3, "d3.raw");
	vm(20, "hw", "stopped", "off", 3, 0);
	vm(21, "hr", "stopped", "off", 3, 1);
	CHECK_EQ(check_vm(20), 0);
	CHECK_EQ(disk_open(P("d3.raw"), "raw", DISK_RDONLY, &d), 0);
	CHECK_EQ(check_vm(21), 0);
	CHECK_EQ(check_vm(20), -EBUSY);
	CHECK(strstr(why, "disk 'd3.raw' is in use by another process") != NULL);
	disk_close(d);
	CHECK_EQ(disk_open(P("d3.raw"), "raw", 0, &d), 0);
	CHECK_EQ(check_vm(21), -EBUSY);
	disk_close(d);
	CHECK_EQ(check_vm(20), 0);
	CHECK_EQ(check_vm(21), 0);
}

int main(void)
{
	struct db *db;

	if (scratch_make("vsrv-diskuse"))
		return 1;
	if (inv_open(P("inventory.db"), &db) || !(c = inv_get(db))) {
		printf("FAIL setup: inv_open\n");
		return 1;
	}
	srv.db = db;
	RUN(test_vms);
	RUN(test_undo_base);
	RUN(test_locked_image);
	inv_put(c);
	inv_close(db);
	scratch_remove();
	return check_done();
}
