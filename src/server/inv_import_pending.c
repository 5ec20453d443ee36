/* Whether a host's own inventory holds objects a cluster start would leave out of sight
 * (inv_import.h: inv_import_pending). */
#include "server/inv_import.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int count_vm(const struct inv_vm *v, void *arg)
{
	(void)v;
	((struct inv_import_counts *)arg)->vms++;
	return 0;
}

static int count_disk(const struct inv_disk *d, void *arg)
{
	(void)d;
	((struct inv_import_counts *)arg)->disks++;
	return 0;
}

static int count_net(const struct inv_net *n, void *arg)
{
	(void)n;
	((struct inv_import_counts *)arg)->networks++;
	return 0;
}

int inv_import_pending(const char *data_dir, struct inv_import_counts *counts)
{
	char path[4200];
	struct db *db;
	struct dbc *c;
	int rc;

	memset(counts, 0, sizeof(*counts));
	snprintf(path, sizeof(path), "%s/inventory.db", data_dir);
	if (access(path, F_OK))
		return errno == ENOENT ? 0 : -errno;
	rc = inv_open(path, &db);
	if (rc)
		return rc;
	c = inv_get(db);
	rc = !c ? -EIO : inv_vm_each(c, count_vm, counts) ? -EIO :
	     inv_disk_each(c, count_disk, counts) ? -EIO : inv_net_each(c, count_net, counts) ? -EIO : 0;
	if (c)
		inv_put(c);
	inv_close(db);
	return rc;
}
