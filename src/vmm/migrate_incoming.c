/* Live migration, the destination side (`vsrv run --incoming URI`). See migrate.h. */
#include "vmm/migrate.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/firmware.h"
#include "devices/virtio/devstate.h"
#include "disk/disk.h"
#include "util/log.h"
#include "vmm/migrate_int.h"
#include "vmm/migrate_stream.h"
#include "vmm/savestate.h"
#include "vmm/vm.h"

#define INCOMING_TIMEOUT_S 60   /* the longest the source may stay silent */

struct incoming {
	struct vm *vm;
	char label[300];
};

static int sink_config(void *opaque, const struct savestate_config *c, uint8_t **mem,
		       char *why, size_t whylen)
{
	struct incoming *in = opaque;
	struct vm *vm = in->vm;

	if (c->mem_size != vm->mem->size) {
		snprintf(why, whylen, "the source VM has %llu MiB of memory, the destination %llu "
			 "MiB (start it with the same --memory)",
			 (unsigned long long)(c->mem_size >> 20),
			 (unsigned long long)(vm->mem->size >> 20));
		return -EINVAL;
	}
	if (c->nr_cpus != vm->nr_vcpus) {
		snprintf(why, whylen, "the source VM has %u vCPUs, the destination %u (start it "
			 "with the same --cpus)", c->nr_cpus, vm->nr_vcpus);
		return -EINVAL;
	}
	if (vm_restore_check_devices(vm, c, in->label)) {
		snprintf(why, whylen, "the devices differ (start the destination with the same "
			 "--disk, --net and --device options in the same order; its log names the "
			 "difference)");
		return -EINVAL;
	}
	*mem = vm->mem->host;
	return 0;
}

static int sink_flags(void *opaque, uint32_t flags, char *why, size_t whylen)
{
	struct incoming *in = opaque;
	bool fw = flags & MIGRATE_FLAG_FIRMWARE;

	if (fw != (in->vm->fw != NULL)) {
		snprintf(why, whylen, "the source VM was booted %s, the destination %s (start it "
			 "with the same --firmware, or none)", fw ? "with --firmware" : "directly",
			 in->vm->fw ? "with --firmware" : "directly");
		return -EINVAL;
	}
	return 0;
}

static int sink_load(void *opaque, const struct savestate *s, char *why, size_t whylen)
{
	struct incoming *in = opaque;
	int ret;

	/* the source flushed its disks and let go of their locks before END: take them and
	 * read their metadata afresh */
	ret = vm_devices_reopen_disks(in->vm);
	if (ret)
		snprintf(why, whylen, "the destination cannot open its disks again: %s",
			 strerror(-ret));
	if (!ret && (ret = x86_firmware_lock(in->vm, true)))
		snprintf(why, whylen, "the destination cannot take its UEFI vars file (%s): %s",
			 in->vm->cfg->firmware_vars, strerror(-ret));
	if (!ret && (ret = vm_restore_state(in->vm, s, in->label)))
		snprintf(why, whylen, "the destination cannot load the state (its log says why)");
	/* refused: the source goes on, and takes its disks' locks back once it reads why */
	if (ret) {
		vm_devices_lock_disks(in->vm, false);
		x86_firmware_lock(in->vm, false);
	}
	return ret;
}

static uint8_t *sink_devmem(void *opaque, uint32_t index, uint64_t want, char *why,
			    size_t whylen)
{
	struct incoming *in = opaque;
	size_t len = 0;
	uint8_t *p = vm_devices_devmem(in->vm, index, &len);

	if (!p || len != want) {
		snprintf(why, whylen, "device %u has %llu bytes of memory of its own on the source, "
			 "%zu on the destination (start it with the same --display vram=)", index,
			 (unsigned long long)want, p ? len : 0);
		return NULL;
	}
	return p;
}

/* A stream that copies the disks: the destination's disk of entry index. It is this VMM's
 * own image, not the one the source runs on: its lock is taken now (opened without one, as
 * for shared storage), so the source's own file is refused as busy. */
static struct disk *sink_disk(void *opaque, uint32_t index, char *why, size_t whylen)
{
	struct incoming *in = opaque;
	const char *label = "disk";
	struct disk *d = vm_devices_disk(in->vm, index, &label);
	int ret;

	if (!d) {
		snprintf(why, whylen, "the source copies the disk of device %u, which has none on "
			 "the destination (start it with the same --disk options)", index);
		return NULL;
	}
	if (!d->readonly && (d->flags & DISK_NOLOCK) && (ret = disk_lock(d))) {
		snprintf(why, whylen, "the destination's %s (%s) cannot be locked (%s): with "
			 "disks=copy each side runs on an image of its own", label, d->path,
			 ret == -EBUSY ? "another process holds it" : strerror(-ret));
		return NULL;
	}
	return d;
}

/* Wait for a connection on lfd or a signal on sigfd. 0 and *fd, -EINTR and *signo. */
static int wait_accept(int lfd, int sigfd, int *fd, int *signo)
{
	for (;;) {
		struct pollfd p[2] = { { lfd, POLLIN, 0 }, { sigfd, POLLIN, 0 } };
		int n = poll(p, sigfd >= 0 ? 2 : 1, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (sigfd >= 0 && (p[1].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
				*signo = (int)si.ssi_signo;
				return -EINTR;
			}
		}
		if (p[0].revents & POLLIN) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (c >= 0) {
				*fd = c;
				return 0;
			}
			if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
				return -errno;
		}
	}
}

int migrate_incoming(int lfd, int sigfd, struct vm *vm, const char *uri, int *signo)
{
	struct incoming in = { .vm = vm };
	static const struct migrate_sink sink = { sink_config, sink_load, sink_devmem,
						  sink_flags, sink_disk };
	struct migrate_recv_stats st;
	struct timespec t0, t1;
	char why[600];
	int fd = -1, ret;

	snprintf(in.label, sizeof(in.label), "--incoming %s", uri);
	ret = wait_accept(lfd, sigfd, &fd, signo);
	if (ret) {
		if (ret != -EINTR)
			vsrv_log("%s: %s", in.label, strerror(-ret));
		return ret;
	}
	if (!strncmp(uri, "unix:", 5))
		unlink(uri + 5); /* one connection only */
	migrate_set_timeouts(fd, INCOMING_TIMEOUT_S);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = migrate_recv(fd, fd, &sink, &in, &st, why, sizeof(why));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ret) { /* before the source sees the end: it goes on */
		vm_devices_lock_disks(vm, false);
		x86_firmware_lock(vm, false);
	}
	close(fd);
	if (ret) {
		vsrv_log("%s: %s", in.label, why);
		return ret;
	}
	if (st.disk_data || st.disk_zero)
		snprintf(why, sizeof(why), ", its disks copied: %.1f MiB of data, %.1f MiB of zeros",
			 st.disk_data / 1048576.0, st.disk_zero / 1048576.0);
	else
		why[0] = '\0';
	vsrv_log("%s: received the VM (%.1f MiB in %u rounds, %.0f ms%s); it runs here now",
		 in.label, st.bytes / 1048576.0, st.rounds,
		 (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6, why);
	return 0;
}
