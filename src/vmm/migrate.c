/* Live migration, the source side: the migration thread, dirty logging, the rounds and the
 * hand-over. See migrate.h and docs/migration.md. */
#include "vmm/migrate.h"
#include "util/clock.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/enlight.h"
#include "arch/x86/firmware.h"
#include "devices/virtio/devstate.h"
#include "util/log.h"
#include "disk/disk.h"
#include "vmm/migrate_disk.h"
#include "vmm/migrate_int.h"
#include "vmm/migrate_stream.h"
#include "vmm/savestate.h"
#include "vmm/savestate_file.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define PAGE        SAVESTATE_PAGE
#define PARK_MS     2000

struct migration {
	struct vm *vm;                 /* borrowed */
	char *to;
	struct migrate_opts o;
	void (*done)(void *opaque, const struct migrate_result *res);
	void *opaque;
	pthread_t thread;
	bool started;
	int cancel;                    /* atomic: migrate_free asks the thread to stop */
	int fd;                        /* atomic: the stream, once connected */
	struct migrate_result res;

	uint64_t npages, low_pages;    /* RAM pages; those of slot 0 (below the hole) */
	uint64_t *dirty;               /* the pages to send next: one bit each */
	uint64_t *kvm_log;             /* KVM_GET_DIRTY_LOG's buffer (the larger slot) */
	uint64_t idx[MIGRATE_BATCH];   /* the batch being sent */
	uint8_t *buf;                  /* its copy (MIGRATE_BATCH pages) */
	bool logging;                  /* KVM's dirty log is on */
	bool parked, quiesced;         /* the final phase has stopped the guest */
	bool unlocked;                 /* the disks' image locks are released for the
	                                * destination (taken back if the migration fails) */
	struct mdisk_tx *dtx;          /* copy_disks: the disks' sender */
};

static int fail(struct migration *m, int ret, const char *fmt, ...)
{
	va_list ap;

	if (m->res.error[0])
		return ret; /* the first reason stays */
	va_start(ap, fmt);
	vsnprintf(m->res.error, sizeof(m->res.error), fmt, ap);
	va_end(ap);
	return ret;
}

static int io_fail(struct migration *m, int ret, const char *what)
{
	if (__atomic_load_n(&m->cancel, __ATOMIC_ACQUIRE))
		return fail(m, -ECANCELED, "the migration was cancelled (the VM is ending)");
	if (ret == -ETIMEDOUT || ret == -EAGAIN)
		return fail(m, -ETIMEDOUT, "the destination did not answer in %u s (%s)",
			    m->o.timeout_s, what);
	if (ret == -EPIPE || ret == -ECONNRESET)
		return fail(m, ret, "the destination closed the connection (%s)", what);
	if (ret == -EPROTO)
		return fail(m, ret, "the destination sent a malformed answer (%s)", what);
	return fail(m, ret, "%s: %s", what, strerror(-ret));
}

/* ---- dirty logging ---- */

static int set_log(struct migration *m, bool on)
{
	struct guest_mem *g = m->vm->mem;
	struct kvm_userspace_memory_region r = {
		.slot = 0, .flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = 0, .memory_size = g->low_size,
		.userspace_addr = (uintptr_t)g->host,
	};

	/* the slots as vm.c's memory level made them (mem.h's layout) */
	if (ioctl(m->vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	if (g->size > g->low_size) {
		r.slot = 1;
		r.guest_phys_addr = MEM_HIGH_START;
		r.memory_size = g->size - g->low_size;
		r.userspace_addr = (uintptr_t)(g->host + g->low_size);
		if (ioctl(m->vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return -errno;
	}
	m->logging = on;
	return 0;
}

/* OR into m->dirty the pages KVM logged since the last call (which KVM then forgets). */
static int harvest(struct migration *m)
{
	uint64_t slot_pages[2] = { m->low_pages, m->npages - m->low_pages };
	uint64_t base = 0;

	for (uint32_t s = 0; s < 2; s++) {
		struct kvm_dirty_log l = { .slot = s, .dirty_bitmap = m->kvm_log };
		uint64_t words = (slot_pages[s] + 63) / 64;

		if (!slot_pages[s])
			continue;
		memset(m->kvm_log, 0, words * 8);
		if (ioctl(m->vm->vm_fd, KVM_GET_DIRTY_LOG, &l) < 0)
			return -errno;
		for (uint64_t w = 0; w < words; w++) {
			uint64_t v = m->kvm_log[w];

			while (v) {
				uint64_t p = base + w * 64 + (uint64_t)__builtin_ctzll(v);

				m->dirty[p / 64] |= 1ULL << (p % 64);
				v &= v - 1;
			}
		}
		base += slot_pages[s];
	}
	return 0;
}

static uint64_t count_dirty(const struct migration *m)
{
	uint64_t n = 0;

	for (uint64_t w = 0; w < (m->npages + 63) / 64; w++)
		n += (uint64_t)__builtin_popcountll(m->dirty[w]);
	return n;
}

static bool page_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t acc = 0;

	if (w[0] | w[PAGE / 8 - 1])
		return false;
	for (unsigned i = 0; i < PAGE / 8; i++)
		acc |= w[i];
	return acc == 0;
}

/* Send the pages marked in m->dirty (clearing the marks), in batches. With skip_zero, pages
 * that are all zero are left out (the destination's RAM starts zero: the first pass). */
static int send_dirty(struct migration *m, bool skip_zero)
{
	const uint8_t *mem = m->vm->mem->host;
	uint32_t n = 0;
	int ret;

	for (uint64_t w = 0; w < (m->npages + 63) / 64; w++) {
		uint64_t v = m->dirty[w];

		m->dirty[w] = 0;
		while (v) {
			uint64_t p = w * 64 + (uint64_t)__builtin_ctzll(v);

			v &= v - 1;
			if (skip_zero && page_zero(mem + p * PAGE))
				continue;
			m->idx[n++] = p;
			if (n == MIGRATE_BATCH) {
				if (__atomic_load_n(&m->cancel, __ATOMIC_ACQUIRE))
					return io_fail(m, -ECANCELED, "sending memory");
				ret = mstream_send_pages(m->fd, mem, m->idx, n, m->buf, &m->res.bytes);
				if (ret)
					return io_fail(m, ret, "sending memory");
				m->res.pages += n;
				n = 0;
			}
		}
	}
	if (n) {
		ret = mstream_send_pages(m->fd, mem, m->idx, n, m->buf, &m->res.bytes);
		if (ret)
			return io_fail(m, ret, "sending memory");
		m->res.pages += n;
	}
	return 0;
}

/* ---- the phases ---- */

/* Connect, send the header and CONFIG, wait for OK. */
static int handshake(struct migration *m, struct savestate_config *cfg)
{
	struct vm_devices_desc *d = calloc(1, sizeof(*d));
	char msg[MIGRATE_MSG_MAX + 1];
	uint32_t type;
	int fd, ret;

	if (!d)
		return fail(m, -ENOMEM, "out of memory");
	ret = migrate_connect(m->to, m->o.timeout_s, &fd, m->res.error, sizeof(m->res.error));
	if (ret) {
		free(d);
		return ret;
	}
	__atomic_store_n(&m->fd, fd, __ATOMIC_RELEASE);
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = m->vm->mem->size;
	cfg->nr_cpus = m->vm->nr_vcpus;
	cfg->enlightenments = m->vm->cfg->enlightenments;
	vm_devices_describe(m->vm, d);
	cfg->nr_devs = d->n;
	cfg->has_pci = d->has_pci;
	for (uint32_t i = 0; i < d->n; i++) {
		cfg->dev[i].kind = d->e[i].kind;
		cfg->dev[i].on_pci = d->e[i].on_pci;
	}
	free(d);
	ret = mstream_send_header(fd, (m->vm->fw ? MIGRATE_FLAG_FIRMWARE : 0) |
				      (m->dtx ? MIGRATE_FLAG_DISKS : 0));
	if (!ret)
		ret = mstream_send(fd, MIGRATE_FR_CONFIG, 0, cfg, sizeof(*cfg));
	if (!ret && m->dtx)
		ret = mdisk_tx_send_disks(m->dtx, fd);
	if (ret)
		return io_fail(m, ret, "sending the configuration");
	ret = mstream_recv_reply(fd, &type, msg, sizeof(msg));
	if (ret)
		return io_fail(m, ret, "waiting for the destination to accept the configuration");
	if (type == MIGRATE_FR_REFUSE)
		return fail(m, -EINVAL, "the destination refused: %s", msg);
	if (type != MIGRATE_FR_OK)
		return fail(m, -EPROTO, "the destination answered out of turn");
	return 0;
}

/* ---- the disks (copy_disks) ---- */

/* The sender for the VM's writable disks (the destination writes its own images). */
static int disks_prepare(struct migration *m)
{
	struct mdisk_tx_disk dd[MIGRATE_DISKS_MAX];
	unsigned n = 0, count = vm_devices_count(m->vm);
	int ret;

	for (unsigned i = 0; i < count; i++) {
		const char *label = "disk";
		struct disk *d = vm_devices_disk(m->vm, i, &label);

		if (!d || d->readonly || !d->size)
			continue; /* CD/DVD media and read-only disks: the destination has its own */
		if (n == MIGRATE_DISKS_MAX)
			return fail(m, -E2BIG, "more than %u disks to copy", MIGRATE_DISKS_MAX);
		dd[n++] = (struct mdisk_tx_disk){ d, i, label };
	}
	ret = mdisk_tx_new(dd, n, &m->dtx);
	return ret ? fail(m, ret, "cannot copy the disks: %s", strerror(-ret)) : 0;
}

/* One round of the disks' dirty blocks. */
static int disks_round(struct migration *m)
{
	const struct mdisk_tx_stats *st = mdisk_tx_stats(m->dtx);
	uint64_t before = st->bytes;
	char why[sizeof(m->res.error)];
	int ret = mdisk_tx_round(m->dtx, m->fd, &m->cancel, why, sizeof(why));

	m->res.bytes += st->bytes - before;
	m->res.disk_bytes = st->data;
	m->res.disk_rounds = st->rounds;
	if (ret == -ECANCELED)
		return io_fail(m, ret, "sending the disks");
	if (ret)
		return why[0] ? fail(m, ret, "%s", why) : io_fail(m, ret, "sending the disks");
	return 0;
}

/* The disks' full copy, then rounds of the blocks written meanwhile, while the guest runs,
 * until what is left would take max_downtime_ms at the last round's speed (or the round or
 * time limit): the rest goes with the memory rounds and the final one. */
static int disks_copy(struct migration *m)
{
	double t_round = clock_mono(), t_full, now, bw;
	uint64_t prev = m->res.bytes, left;
	int ret = mdisk_tx_start(m->dtx);

	if (ret)
		return fail(m, ret, "out of memory");
	ret = disks_round(m);
	t_full = clock_mono();
	for (unsigned r = 0; !ret; r++) {
		now = clock_mono();
		bw = (double)(m->res.bytes - prev + DISK_DIRTY_BLOCK) / (now - t_round + 1e-6);
		t_round = now;
		prev = m->res.bytes;
		left = mdisk_tx_dirty_bytes(m->dtx);
		if ((double)left / bw * 1e3 <= (double)m->o.max_downtime_ms ||
		    left <= 4 * DISK_DIRTY_BLOCK || r >= m->o.max_rounds ||
		    now > t_full + m->o.timeout_s / 2.0)
			break;
		ret = disks_round(m);
	}
	return ret;
}

/* Stop the guest: park the vCPUs (unless paused already), quiesce the devices (every
 * request taken from a ring completes; no more are taken), flush the disks. */
static int stop_guest(struct migration *m)
{
	struct vm *vm = m->vm;
	int ret;

	if (!m->o.paused) {
		if (__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE))
			return fail(m, -ESHUTDOWN, "the VM is ending");
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			vcpu_pause(vm->vcpus[i]);
		m->parked = true;
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			if (vcpu_wait_parked(vm->vcpus[i], PARK_MS) < 0)
				return fail(m, -ETIMEDOUT, "vCPU %u did not stop in time", i);
	}
	vm_devices_quiesce(vm);
	m->quiesced = true;
	ret = vm_devices_flush_disks(vm);
	if (ret)
		return fail(m, ret, "cannot flush the disks: %s", strerror(-ret));
	vm_coalesced_flush(vm);
	if (m->dtx)
		return 0; /* the destination runs on its own images: ours stay locked */
	/* The destination locks the disks when END arrives (vm_devices_reopen_disks): ours go
	 * now, while nothing writes them; they are taken back if the migration fails. */
	vm_devices_lock_disks(vm, false);
	m->unlocked = true;
	x86_firmware_lock(vm, false); /* the UEFI vars file likewise (synced first) */
	return 0;
}

/* The final round: the state, the last dirty pages, every page a device wrote since the
 * migration began, the sections, END; then READY and GO. */
static int final_round(struct migration *m, double *t_stop)
{
	struct guest_mem *g = m->vm->mem;
	struct migrate_end end = { 0 };
	struct savestate *s = NULL;
	char msg[MIGRATE_MSG_MAX + 1];
	uint32_t type;
	int ret;

	*t_stop = clock_mono();
	ret = stop_guest(m);
	if (ret)
		return ret;
	ret = savestate_alloc(m->vm->nr_vcpus, &s);
	if (ret)
		return fail(m, ret, "out of memory");
	/* the state first: saving a vCPU may complete its last I/O into guest memory */
	ret = vm_save_collect(m->vm, s, m->res.error, sizeof(m->res.error));
	if (ret)
		goto out;
	/* the disks' last blocks: every write is complete (quiesced) and flushed */
	if (m->dtx && (ret = disks_round(m)))
		goto out;
	ret = harvest(m);
	if (ret) {
		fail(m, ret, "KVM_GET_DIRTY_LOG: %s", strerror(-ret));
		goto out;
	}
	guest_mem_track_stop(g);
	for (uint64_t w = 0; w < (m->npages + 63) / 64; w++)
		m->dirty[w] |= __atomic_load_n(&g->track[w], __ATOMIC_RELAXED);
	ret = send_dirty(m, false);
	if (ret)
		goto out;
	m->res.rounds++;
	ret = mstream_send(m->fd, MIGRATE_FR_VM, 0, &s->vm, sizeof(s->vm));
	for (uint32_t i = 0; !ret && i < s->config.nr_cpus; i++)
		ret = mstream_send(m->fd, MIGRATE_FR_VCPU, i, &s->vcpus[i], sizeof(s->vcpus[i]));
	if (!ret)
		ret = mstream_send(m->fd, MIGRATE_FR_LEGACY, 0, &s->legacy, sizeof(s->legacy));
	if (!ret)
		ret = mstream_send(m->fd, MIGRATE_FR_DEVICES, 0, s->devices,
				   savestate_devices_len(s->devices->n));
	if (!ret && s->config.enlightenments == X86_ENLIGHT_XEN)
		ret = mstream_send(m->fd, MIGRATE_FR_XEN, 0, &s->xen, sizeof(s->xen));
	/* the firmware layout and its UEFI variables (vm_save_collect: x86_firmware_save) */
	if (!ret && s->has_fw)
		ret = mstream_send2(m->fd, MIGRATE_FR_FIRMWARE, 0, &s->fw, sizeof(s->fw),
				    s->fw_vars, s->fw.vars_size);
	/* a display's VRAM (vm_save_collect_devmem), whole, with the guest stopped */
	for (uint32_t k = 0; !ret && k < s->nr_devmem; k++)
		ret = mstream_send(m->fd, MIGRATE_FR_DEVMEM, s->devmem[k].index, s->devmem[k].p,
				   s->devmem[k].len);
	end.pages = m->res.pages;
	end.rounds = m->res.rounds;
	if (getenv("VSRV_MIGRATE_VERIFY")) {
		end.verify = 1;
		end.mem_crc = savestate_crc32(0, g->host, g->size);
	}
	if (!ret)
		ret = mstream_send(m->fd, MIGRATE_FR_END, 0, &end, sizeof(end));
	if (ret) {
		io_fail(m, ret, "sending the state");
		goto out;
	}
	ret = mstream_recv_reply(m->fd, &type, msg, sizeof(msg));
	if (ret) {
		io_fail(m, ret, "waiting for the destination to load the state");
		goto out;
	}
	if (type != MIGRATE_FR_READY) {
		ret = type == MIGRATE_FR_REFUSE ? fail(m, -EINVAL, "the destination refused: %s", msg) :
						   fail(m, -EPROTO, "the destination answered out of turn");
		goto out;
	}
	/* The point of no return: once GO is out, the destination runs the guest. */
	ret = mstream_send(m->fd, MIGRATE_FR_GO, 0, NULL, 0);
	if (ret)
		io_fail(m, ret, "handing over");
out:
	savestate_free(s);
	return ret;
}

static int migrate_run(struct migration *m)
{
	struct guest_mem *g = m->vm->mem;
	struct savestate_config cfg;
	double t0 = clock_mono(), t_round, t_stop = 0;
	uint64_t left, prev_bytes = 0;
	double bw;
	int ret;

	if (m->o.copy_disks && (ret = disks_prepare(m)))
		return ret;
	ret = handshake(m, &cfg);
	if (ret)
		return ret;
	/* Track from here on: KVM logs vCPU writes, guest_mem_track device writes. Requests
	 * taken from the rings before tracking began are completed by a quiesce, so their
	 * writes land before the first pass reads their pages. */
	ret = set_log(m, true);
	if (ret)
		return fail(m, ret, "cannot turn on KVM's dirty log: %s", strerror(-ret));
	ret = guest_mem_track_start(g);
	if (ret)
		return fail(m, ret, "out of memory");
	vm_devices_quiesce(m->vm);
	vm_devices_resume(m->vm);
	/* the disks first (their writes mark the dirty-block bitmaps from here on): the memory
	 * rounds' time limit counts from their end */
	if (m->dtx && (ret = disks_copy(m)))
		return ret;
	t0 = clock_mono();
	prev_bytes = m->res.bytes; /* the memory rounds' speed counts from here */
	/* the first pass: all of RAM but zero pages */
	memset(m->dirty, 0xff, (m->npages / 64) * 8);
	if (m->npages % 64)
		m->dirty[m->npages / 64] = (1ULL << (m->npages % 64)) - 1;
	t_round = clock_mono();
	ret = send_dirty(m, true);
	if (ret)
		return ret;
	m->res.rounds = 1;
	for (;;) {
		double now = clock_mono();

		/* bytes per second in the last round */
		bw = (double)(m->res.bytes - prev_bytes + PAGE) / (now - t_round + 1e-6);
		t_round = now;
		prev_bytes = m->res.bytes;
		ret = harvest(m);
		if (ret)
			return fail(m, ret, "KVM_GET_DIRTY_LOG: %s", strerror(-ret));
		left = count_dirty(m);
		if (m->dtx)
			left += mdisk_tx_dirty_bytes(m->dtx) / PAGE;
		if (left * PAGE / bw * 1e3 <= (double)m->o.max_downtime_ms || left <= 16 ||
		    m->res.rounds > m->o.max_rounds || now > t0 + m->o.timeout_s / 2.0)
			break;
		ret = send_dirty(m, false);
		if (!ret && m->dtx)
			ret = disks_round(m);
		if (ret)
			return ret;
		m->res.rounds++;
	}
	ret = final_round(m, &t_stop);
	m->res.downtime_ms = (clock_mono() - t_stop) * 1e3;
	return ret;
}

/* On the loop thread: report. */
static void post_done(void *opaque)
{
	struct migration *m = opaque;

	m->done(m->opaque, &m->res);
}

static void *thread_main(void *arg)
{
	struct migration *m = arg;
	double t0 = clock_mono();
	int ret;

	ret = migrate_run(m);
	m->res.total_ms = (clock_mono() - t0) * 1e3;
	mdisk_tx_free(m->dtx); /* the disks' dirty-block bitmaps go off */
	m->dtx = NULL;
	m->res.ret = ret;
	if (ret && m->unlocked && (vm_devices_lock_disks(m->vm, true) ||
				   x86_firmware_lock(m->vm, true))) {
		/* Another process took a disk meanwhile (the destination loaded the state and
		 * has not let go yet): the guest must not write it, so it never runs again. */
		char why[sizeof(m->res.error)];

		snprintf(why, sizeof(why), "%s", m->res.error[0] ? m->res.error : strerror(-ret));
		snprintf(m->res.error, sizeof(m->res.error), "%.400s; a disk or the vars file is "
			 "now locked by another process (the log names it): the VM ends", why);
		vm_request_stop(m->vm, 1);
	} else if (ret) {
		/* the guest goes on where it was: devices first, then the vCPUs */
		if (m->logging && set_log(m, false))
			vsrv_log("migrate: cannot turn off KVM's dirty log");
		guest_mem_track_stop(m->vm->mem);
		if (m->quiesced)
			vm_devices_resume(m->vm);
		if (m->parked)
			for (unsigned i = 0; i < m->vm->nr_vcpus; i++)
				vcpu_resume(m->vm->vcpus[i]);
		if (!m->res.error[0])
			fail(m, ret, "%s", strerror(-ret));
	}
	if (!__atomic_load_n(&m->cancel, __ATOMIC_ACQUIRE) &&
	    evloop_post(m->vm->loop, post_done, m) < 0)
		vsrv_log("migrate: cannot report the result");
	return NULL;
}

int migrate_start(struct vm *vm, const struct migrate_opts *opts,
		  void (*done)(void *opaque, const struct migrate_result *res), void *opaque,
		  struct migration **out)
{
	struct migration *m;
	uint64_t words;
	int ret;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->vm = vm;
	m->o = *opts;
	if (!m->o.max_rounds)
		m->o.max_rounds = 30;
	if (!m->o.timeout_s)
		m->o.timeout_s = 60;
	if (!m->o.max_downtime_ms)
		m->o.max_downtime_ms = 50;
	m->done = done;
	m->opaque = opaque;
	m->fd = -1;
	m->npages = vm->mem->size / PAGE;
	m->low_pages = vm->mem->low_size / PAGE;
	words = (m->npages + 63) / 64;
	m->to = strdup(opts->to);
	m->dirty = calloc(words, 8);
	m->kvm_log = calloc(words, 8);
	m->buf = malloc(MIGRATE_BATCH * PAGE);
	if (!m->to || !m->dirty || !m->kvm_log || !m->buf) {
		ret = -ENOMEM;
		goto err;
	}
	m->o.to = m->to;
	ret = -pthread_create(&m->thread, NULL, thread_main, m);
	if (ret)
		goto err;
	m->started = true;
	*out = m;
	return 0;
err:
	free(m->to);
	free(m->dirty);
	free(m->kvm_log);
	free(m->buf);
	free(m);
	return ret;
}

void migrate_free(struct migration *m)
{
	if (!m)
		return;
	if (m->started) {
		int fd;

		__atomic_store_n(&m->cancel, 1, __ATOMIC_RELEASE);
		fd = __atomic_load_n(&m->fd, __ATOMIC_ACQUIRE);
		if (fd >= 0)
			shutdown(fd, SHUT_RDWR); /* unblocks a send or receive */
		pthread_join(m->thread, NULL);
		if (m->fd >= 0)
			close(m->fd);
	}
	free(m->to);
	free(m->dirty);
	free(m->kvm_log);
	free(m->buf);
	free(m);
}
