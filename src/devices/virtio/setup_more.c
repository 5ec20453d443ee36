/* Device hook, part two: virtio-scsi, virtio-console and virtio-net set-up. */
#include "devices/virtio/setup.h"
#include "util/log.h"

#include <errno.h>

int setup_scsi_disk(struct vdevs *v, struct vdev_entry *e, const struct vopt_disk *o,
		    unsigned idx)
{
	(void)v; (void)e; (void)idx;
	vsrv_log("--disk %s: bus=scsi is not available yet", o->path);
	return -ENOTSUP;
}

int setup_scsi_finish(struct vdevs *v)
{
	(void)v;
	return 0;
}

void setup_scsi_destroy(struct vdevs *v)
{
	(void)v;
}

int setup_console(struct vdevs *v, struct vdev_entry *e, const char *socket, unsigned idx)
{
	(void)v; (void)e; (void)idx;
	vsrv_log("--device console,socket=%s: not available yet", socket);
	return -ENOTSUP;
}

int setup_net(struct vdevs *v, struct vdev_entry *e, const struct vopt_net *o, unsigned idx)
{
	(void)v; (void)e; (void)o; (void)idx;
	vsrv_log("--net: not available yet");
	return -ENOTSUP;
}

void setup_destroy_other(struct vdevs *v, struct vdev_entry *e)
{
	(void)v; (void)e;
}
