/* The control socket's disk-switch (control.h): a live snapshot's step, each named disk onto
 * a new top (a differencing VHD made over its image by whoever asks, passed in as a
 * descriptor: the VMM opens nothing by name), the guest stopped only for the flush and the
 * switch. */
#include "vmm/control_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/devstate.h"
#include "devices/virtio/kind.h"
#include "disk/disk.h"
#include "util/clock.h"
#include "util/log.h"
#include "vmm/vm.h"

static json_t *fail(const char *msg)
{
	return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

/* The switch itself, the descriptors checked: sw[i].fd set to -1 for those the disks took. */
static json_t *do_switch(struct vm *vm, struct vm_disk_switch *sw, size_t n, bool paused)
{
	json_t *out;
	char err[1024];
	double t0;
	size_t i;
	int ret;

	/* nothing may touch the disks while they change: the vCPUs parked (IDE's PIO runs on
	 * them), the devices quiesced (what they took completes first) */
	t0 = clock_mono();
	if (!paused && (ret = control_vcpus_park(vm)) < 0)
		return fail(ret == -ESHUTDOWN ? "the VM is ending" : "a vCPU did not stop in time");
	vm_devices_quiesce(vm);
	ret = vm_devices_disk_switch(vm, sw, (unsigned)n, err, sizeof(err));
	vm_devices_resume(vm);
	if (!paused)
		control_vcpus_unpark(vm);
	if (ret) {
		vsrv_log("disk-switch: %s; every disk stays on its image", err);
		return fail(err);
	}
	out = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(out, json_pack("{s:s,s:s}", "drive", sw[i].drive, "path",
						     sw[i].path));
	return json_pack("{s:b,s:o,s:f}", "ok", 1, "disks", out, "seconds", clock_mono() - t0);
}

json_t *control_disk_switch(struct vm *vm, json_t *msg, bool paused, int *fds, unsigned nfds)
{
	struct vm_disk_switch sw[VDEVS_MAX];
	json_t *disks = NULL, *d, *r = NULL;
	char err[1024];
	size_t i, n = 0;

	if (json_unpack(msg, "{s:o}", "disks", &disks) || !json_is_array(disks) ||
	    !(n = json_array_size(disks)) || n > VDEVS_MAX) {
		r = fail("disk-switch takes \"disks\": [{\"drive\":\"diskN\",\"path\":NEWTOP}, "
			 "...] (1 or more), with one descriptor per disk");
		goto out;
	}
	json_array_foreach(disks, i, d)
		if (json_unpack(d, "{s:s,s:s!}", "drive", &sw[i].drive, "path", &sw[i].path) ||
		    sw[i].path[0] != '/' || strpbrk(sw[i].path, ",\t\n")) {
			r = fail("each of \"disks\" is {\"drive\":\"diskN\",\"path\":NEWTOP} (an "
				 "absolute path without a comma, tab or newline: it goes into the "
				 "--disk spec a guest reset and a save keep)");
			goto out;
		}
	if (nfds != n) {
		snprintf(err, sizeof(err), "disk-switch needs the new tops open: one descriptor "
			 "per disk passed with the command (SCM_RIGHTS), in the order of \"disks\"; "
			 "got %u for %zu disk%s", nfds, n, n == 1 ? "" : "s");
		r = fail(err);
		goto out;
	}
	/* each descriptor is the file its path names, before the guest stops */
	for (i = 0; i < n; i++) {
		if (disk_fd_check(fds[i], sw[i].path, err, sizeof(err))) {
			r = fail(err);
			goto out;
		}
		sw[i].fd = fds[i];
	}
	r = do_switch(vm, sw, n, paused);
	for (i = 0; i < n; i++)
		if (sw[i].fd < 0)
			fds[i] = -1; /* a disk's now */
out:
	for (i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return r;
}
