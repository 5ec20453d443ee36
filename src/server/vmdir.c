/* A VM's runtime directory. See vmdir.h. */
#include "server/vmdir.h"

#include <errno.h>
#include <stdio.h>

int vmdir_path(struct server *srv, int64_t id, char *buf, size_t n)
{
	return snprintf(buf, n, "%s/vms/%lld", srv->data_dir, (long long)id) >= (int)n ?
	       -ENAMETOOLONG : 0;
}
