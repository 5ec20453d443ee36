/* Save a stopped VM to a file, restore a VM from one. See savestate.h. */
#include "vmm/savestate.h"
#include "util/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/enlight.h"
#include "arch/x86/firmware.h"
#include "arch/x86/xen.h"
#include "devices/virtio/devstate.h"
#include "util/log.h"
#include "vmm/savestate_file.h"
#include "vmm/savestate_map.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

struct vm_restore {
	char *path;
	int fd;
	struct savestate *s;
};

static const char *kind_name(uint32_t id)
{
	const struct device_kind *k = device_kind_by_id(id);

	return k ? k->name : "unknown";
}

int vm_save_collect(struct vm *vm, struct savestate *s, char *err, size_t errlen)
{
	struct savestate_config *c = &s->config;
	unsigned i;
	int ret;

	c->mem_size = vm->mem->size;
	c->nr_cpus = vm->nr_vcpus;
	c->enlightenments = vm->cfg->enlightenments;
	ret = x86_vm_save(vm->vm_fd, &s->vm);
	if (ret) {
		snprintf(err, errlen, "cannot save the irqchip, PIT or clock: %s", strerror(-ret));
		return ret;
	}
	for (i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_state_save(vm->vcpus[i], &s->vcpus[i]);
		if (ret) {
			snprintf(err, errlen, "cannot save vCPU %u: %s", i, strerror(-ret));
			return ret;
		}
	}
	/* the Xen platform (after the vCPUs: their last exits are complete) */
	if (vm->xen && (ret = x86_xen_save(vm->xen, &s->xen))) {
		snprintf(err, errlen, "cannot save the Xen platform: %s", strerror(-ret));
		return ret;
	}
	serial_save(vm->serial, &s->legacy.serial);
	rtc_save(vm->rtc, &s->legacy.rtc);
	i8042_save(vm->i8042, &s->legacy.i8042, &s->legacy.ps2);
	acpi_pm_save(vm->acpi_pm, &s->legacy.acpi_pm);
	debug_exit_save(vm->debug_exit, &s->legacy.debug_exit);
	ret = vm_devices_save(vm, s->devices);
	if (ret) {
		snprintf(err, errlen, "cannot save the devices: %s", strerror(-ret));
		return ret;
	}
	c->nr_devs = s->devices->n;
	c->has_pci = s->devices->has_pci;
	for (i = 0; i < s->devices->n; i++) {
		c->dev[i].kind = s->devices->e[i].kind;
		c->dev[i].on_pci = s->devices->e[i].on_pci;
	}
	s->has_fw = vm->fw != NULL;
	if (vm->fw)
		x86_firmware_save(vm, &s->fw, &s->fw_vars);
	vm_save_collect_devmem(vm, s);
	return 0;
}

void vm_save_collect_devmem(struct vm *vm, struct savestate *s)
{
	s->nr_devmem = 0;
	for (unsigned i = 0; i < s->devices->n; i++) {
		size_t len = 0;
		const uint8_t *p = vm_devices_devmem(vm, i, &len);

		if (p && len && len <= SAVESTATE_DEVMEM_MAX)
			s->devmem[s->nr_devmem++] = (struct savestate_devmem){ .index = i, .len = len,
									       .p = p };
	}
}

int vm_restore_devmem(struct vm *vm, int fd, const struct savestate *s, const char *label)
{
	const char *why = "";
	int ret;

	for (uint32_t k = 0; k < s->nr_devmem; k++) {
		size_t len = 0;
		uint8_t *p = vm_devices_devmem(vm, s->devmem[k].index, &len);

		if (!p || len != s->devmem[k].len) {
			vsrv_log("%s: device %u has %llu bytes of memory of its own in the saved VM, "
				 "%zu in this one (start it with the same options: --display "
				 "vram=)", label, s->devmem[k].index,
				 (unsigned long long)s->devmem[k].len, p ? len : 0);
			return -EINVAL;
		}
		ret = savestate_load_devmem(fd, s, k, p, &why);
		if (ret) {
			vsrv_log("%s: %s", label, why);
			return ret;
		}
	}
	return 0;
}

/* fsync the directory holding path, so the rename is durable. */
static int sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, ret = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return ret;
}

int vm_save(struct vm *vm, const char *path, struct vm_save_result *res, char *err,
	    size_t errlen)
{
	struct savestate_write_stats ws = { 0 };
	struct savestate *s = NULL;
	double t0 = clock_mono();
	char *tmp = NULL;
	int fd = -1, ret;

	vm_coalesced_flush(vm); /* the UART's queued writes go out before the save */
	ret = savestate_alloc(vm->nr_vcpus, &s);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	ret = vm_save_collect(vm, s, err, errlen);
	if (ret)
		goto err;
	/* the configuration it was started with (savestate_run.h), for a restore without
	 * options; one the section cannot hold (a control character in a value, beyond its
	 * limits) is left out, as in a file of before: the restore then needs the options */
	if (vm->cfg->nr_run_args) {
		char **tops = NULL; /* the run's args with the disks' new tops (disk-switch) */

		ret = vm_devices_run_args(vm, vm->cfg->run_args, vm->cfg->nr_run_args, &tops);
		if (!ret)
			ret = savestate_run_encode(tops ? (const char *const *)tops :
						   vm->cfg->run_args, vm->cfg->nr_run_args,
						   &s->run_buf, &s->run_len);
		free(tops);
		if (ret == -ENOMEM) {
			snprintf(err, errlen, "out of memory");
			goto err;
		}
		if (ret)
			vsrv_log("save %s: the VM's options are not kept in the file (one holds a "
				 "control character or they are too long): restore it with them", path);
		else
			s->run = s->run_buf;
		ret = 0;
	}
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600: the file holds the guest's memory */
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot create a file next to %s: %s", path, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto err;
	}
	ret = savestate_write(fd, s, vm->mem->host, &ws);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (ret) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(-ret));
		goto err_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = -errno;
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(-ret));
		goto err_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(-ret));
		goto err_unlink;
	}
	ret = sync_dir(path);
	if (ret)
		vsrv_log("save %s: cannot sync its directory: %s", path, strerror(-ret));
	res->file_bytes = ws.file_bytes;
	res->mem_pages = ws.mem_pages;
	res->seconds = clock_mono() - t0;
	free(tmp);
	savestate_free(s);
	return 0;
err_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
err:
	savestate_free(s);
	vsrv_log("save %s: %s", path, err);
	return ret;
}

int vm_restore_open(const char *path, const struct vm_config *cfg, struct vm_restore **out)
{
	struct vm_restore *r;
	const char *why = "";
	int ret;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->path = strdup(path);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		ret = -errno;
		vsrv_log("--restore %s: %s", path, strerror(errno));
		goto err;
	}
	ret = savestate_read(r->fd, &r->s, &why);
	if (ret) {
		vsrv_log("--restore %s: %s", path, why);
		goto err;
	}
	if (r->s->config.mem_size != cfg->mem_size) {
		vsrv_log("--restore %s: the saved VM has %llu MiB of memory, this one %llu MiB "
			 "(start it with the same --memory)", path,
			 (unsigned long long)(r->s->config.mem_size >> 20),
			 (unsigned long long)(cfg->mem_size >> 20));
		ret = -EINVAL;
		goto err;
	}
	if (!r->s->has_fw != !cfg->firmware) {
		vsrv_log("--restore %s: %s", path, r->s->has_fw ?
			 "the saved VM was booted with --firmware, this one not (start it with the "
			 "same --firmware)" :
			 "the saved VM was booted directly (--kernel), this one with --firmware "
			 "(start it without --firmware)");
		ret = -EINVAL;
		goto err;
	}
	if (r->s->config.nr_cpus != cfg->nr_cpus) {
		vsrv_log("--restore %s: the saved VM has %u vCPUs, this one %u (start it with the "
			 "same --cpus)", path, r->s->config.nr_cpus, cfg->nr_cpus);
		ret = -EINVAL;
		goto err;
	}
	*out = r;
	return 0;
err:
	vm_restore_close(r);
	return ret;
}

void vm_restore_close(struct vm_restore *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	savestate_free(r->s);
	free(r->path);
	free(r);
}

/* The devices of vm against the file's: same count, kinds and transports, in order. */
int vm_restore_check_devices(struct vm *vm, const struct savestate_config *c, const char *label)
{
	struct vm_devices_desc *d = malloc(sizeof(*d));
	int ret = -EINVAL;
	uint32_t i;

	if (!d)
		return -ENOMEM;
	vm_devices_describe(vm, d);
	if (c->enlightenments != vm->cfg->enlightenments) {
		vsrv_log("%s: the saved VM has --enlightenments %s, this one %s (start it with the "
			 "same --enlightenments)", label, x86_enlight_name(c->enlightenments),
			 x86_enlight_name(vm->cfg->enlightenments));
		goto out;
	}
	if (d->n != c->nr_devs) {
		vsrv_log("%s: the saved VM has %u virtio devices, this one %u (start it "
			 "with the same --disk, --net and --device options)", label, c->nr_devs,
			 d->n);
		goto out;
	}
	for (i = 0; i < d->n; i++)
		if (d->e[i].kind != c->dev[i].kind || d->e[i].on_pci != c->dev[i].on_pci) {
			vsrv_log("%s: device %u is a %s on virtio-%s in the saved VM, a %s "
				 "on virtio-%s in this one (use the same options in the same order)",
				 label, i, kind_name(c->dev[i].kind),
				 c->dev[i].on_pci ? "pci" : "mmio", kind_name(d->e[i].kind),
				 d->e[i].on_pci ? "pci" : "mmio");
			goto out;
		}
	if (d->has_pci != c->has_pci) {
		vsrv_log("%s: the saved VM %s a PCI host bridge, this one %s", label,
			 c->has_pci ? "has" : "has no", d->has_pci ? "has" : "has not");
		goto out;
	}
	ret = 0;
out:
	free(d);
	return ret;
}

/* The memory CRC check of a lazily restored VM, on a thread of its own beside the guest. */
struct vm_memcheck {
	pthread_t thread;
	int fd;                /* the file (a dup: the restore closes its own) */
	int stop;              /* atomic: set by vm_memcheck_stop */
	struct savestate s;    /* only the memory section's place and CRC */
	struct vm *vm;
	char path[4096];
};

static void *memcheck_main(void *arg)
{
	struct vm_memcheck *c = arg;
	const char *why = "";
	double t0 = clock_mono();
	int ret = savestate_check_memory(c->fd, &c->s, &c->stop, &why);

	if (ret == -ECANCELED)
		return NULL;
	if (ret) {
		vsrv_log("--restore %s: %s: the VM stops", c->path, ret == -ENOMEM ?
			 "out of memory checking the guest memory's CRC" : why);
		vm_request_stop(c->vm, 1);
	} else if (getenv("VSRV_STATS")) {
		vsrv_log("restored %s: the guest memory's CRC checked in %.1f ms", c->path,
			 (clock_mono() - t0) * 1e3);
	}
	return NULL;
}

int vm_memcheck_start(struct vm *vm, int fd, const struct savestate *s, const char *path)
{
	struct vm_memcheck *c = calloc(1, sizeof(*c));
	struct sched_param prio = { .sched_priority = 0 };
	pthread_attr_t attr;
	int ret;

	if (!c)
		return -ENOMEM;
	c->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (c->fd < 0) {
		ret = -errno;
		free(c);
		return ret;
	}
	c->s.mem_payload_off = s->mem_payload_off;
	c->s.mem_payload_len = s->mem_payload_len;
	c->s.mem_crc = s->mem_crc;
	c->vm = vm;
	snprintf(c->path, sizeof(c->path), "%s", path);
	/* At the idle priority (SCHED_IDLE): the guest's vCPUs and devices go first. */
	ret = -EINVAL;
	if (!pthread_attr_init(&attr)) {
		if (!pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED) &&
		    !pthread_attr_setschedpolicy(&attr, SCHED_IDLE) &&
		    !pthread_attr_setschedparam(&attr, &prio))
			ret = -pthread_create(&c->thread, &attr, memcheck_main, c);
		pthread_attr_destroy(&attr);
	}
	if (ret)
		ret = -pthread_create(&c->thread, NULL, memcheck_main, c);
	if (ret) {
		close(c->fd);
		free(c);
		return ret;
	}
	vm->memcheck = c;
	return 0;
}

void vm_memcheck_stop(struct vm_memcheck *c)
{
	if (!c)
		return;
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
	pthread_join(c->thread, NULL);
	close(c->fd);
	free(c);
}

/* Guest memory from the file: mapped lazily (its CRC checked beside the guest), or with
 * --restore-memory read, read and checked before anything runs. */
static int load_memory(struct vm_restore *r, struct vm *vm, struct savestate_map_stats *ms)
{
	const char *why = "";
	int ret;

	if (vm->cfg->restore_read) {
		ret = savestate_load_memory(r->fd, r->s, vm->mem->host, &why);
		ms->read_pages = r->s->mem.nr_data_pages;
	} else {
		ret = savestate_map_memory(r->fd, r->s, vm->mem, 0, ms, &why);
	}
	if (ret)
		vsrv_log("--restore %s: %s", r->path, ret == -ENOMEM ? "out of memory" : why);
	return ret;
}

int vm_restore_load(struct vm_restore *r, struct vm *vm)
{
	struct savestate_map_stats ms = { 0 };
	struct savestate *s = r->s;
	double t0 = clock_mono();
	char label[4200];
	int ret;

	if (vm->nr_vcpus != s->config.nr_cpus || vm->mem->size != s->config.mem_size)
		return -EINVAL; /* vm_restore_open checked the configuration */
	snprintf(label, sizeof(label), "--restore %s", r->path);
	ret = vm_restore_check_devices(vm, &s->config, label);
	if (ret)
		return ret;
	ret = load_memory(r, vm, &ms);
	if (ret)
		return ret;
	ret = vm_restore_devmem(vm, r->fd, s, label);
	if (ret)
		return ret;
	ret = vm_restore_state(vm, s, label);
	if (ret)
		return ret;
	if (!vm->cfg->restore_read && (ret = vm_memcheck_start(vm, r->fd, s, r->path)) < 0) {
		vsrv_log("--restore %s: cannot start checking the guest memory: %s", r->path,
			 strerror(-ret));
		return ret;
	}
	if (getenv("VSRV_STATS"))
		vsrv_log("restored %s: %llu pages of memory (%llu mapped from the file in %llu of "
			 "%llu runs, %llu read) in %.1f ms", r->path,
			 (unsigned long long)s->mem.nr_data_pages,
			 (unsigned long long)ms.mapped_pages, (unsigned long long)ms.mapped_runs,
			 (unsigned long long)ms.runs, (unsigned long long)ms.read_pages,
			 (clock_mono() - t0) * 1e3);
	return 0;
}

int vm_restore_state(struct vm *vm, const struct savestate *s, const char *label)
{
	unsigned i;
	int ret;

	if (vm->nr_vcpus != s->config.nr_cpus || vm->mem->size != s->config.mem_size)
		return -EINVAL;
	if (!s->has_fw != !vm->fw) {
		vsrv_log("%s: the saved VM was booted %s, this one %s (start it with the same "
			 "--firmware, or none)", label, s->has_fw ? "with --firmware" : "directly",
			 vm->fw ? "with --firmware" : "directly");
		return -EINVAL;
	}
	/* The firmware layout first: it checks everything (the same ROM, variable store and
	 * fw_cfg items) before it changes anything. Its host bridge's config space comes
	 * again with the virtio devices' state (the same bytes, saved at the same time). */
	if (s->has_fw && (ret = x86_firmware_restore(vm, &s->fw, s->fw_vars, label)))
		return ret;
	/* The VM-wide state before the vCPUs' (their LAPICs, kvmclock). */
	ret = x86_vm_restore(vm->vm_fd, &s->vm);
	for (i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = vcpu_state_restore(vm->vcpus[i], &s->vcpus[i]);
	if (ret) {
		vsrv_log("%s: KVM refused the saved CPU state", label);
		return ret;
	}
	ret = serial_restore(vm->serial, &s->legacy.serial);
	if (!ret)
		ret = rtc_restore(vm->rtc, &s->legacy.rtc);
	if (!ret)
		ret = i8042_restore(vm->i8042, &s->legacy.i8042,
				    s->legacy.ps2.version ? &s->legacy.ps2 : NULL);
	if (!ret)
		ret = acpi_pm_restore(vm->acpi_pm, &s->legacy.acpi_pm);
	if (!ret)
		ret = debug_exit_restore(vm->debug_exit, &s->legacy.debug_exit);
	if (ret) {
		vsrv_log("%s: the saved state of the legacy devices is refused", label);
		return ret;
	}
	ret = vm_devices_restore(vm, s->devices);
	if (ret) {
		vsrv_log("%s: the saved state of the virtio devices is refused: %s", label,
			 strerror(-ret));
		return ret;
	}
	/* The Xen platform after the KVM clock (its timers count on it) and with guest memory
	 * in place (KVM writes the wall clock into the shared info page). */
	if (vm->xen) {
		const char *why = "";

		ret = x86_xen_state_check(&s->xen, vm->nr_vcpus, vm->mem, &why);
		if (ret) {
			vsrv_log("%s: %s", label, why);
			return ret;
		}
		ret = x86_xen_restore(vm->xen, &s->xen);
		if (ret) {
			vsrv_log("%s: KVM refused the Xen platform's state", label);
			return ret;
		}
	}
	return 0;
}
