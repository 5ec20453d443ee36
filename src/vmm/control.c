/* The control socket: JSON lines over a Unix socket, served on the control loop. See
 * control.h. */
#include "vmm/control.h"
#include "vmm/control_int.h"
#include "util/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <resolv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "devices/acpi_pm.h"
#include "devices/virtio/balloon.h"
#include "devices/virtio/devstate.h"
#include "util/log.h"
#include "util/unixsock.h"
#include "vmm/migrate.h"
#include "vmm/savestate.h"
#include "vmm/screenshot.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define CTL_MAX_CLIENTS 8
#define CTL_LINE_MAX    4096
#define CTL_SEND_MS     5000 /* a large reply's client must read within this */
#define CTL_PARK_MS     2000

struct ctl_client {
	struct control *ctl;
	int fd;
	size_t len;
	bool overflow;          /* the current line is too long: drop it up to its newline */
	struct ctl_fds q;       /* descriptors received, for the line they came with */
	char buf[CTL_LINE_MAX];
};

struct control {
	int lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct vm *vm;          /* while attached */
	bool paused;
	bool ending;            /* a save or quit ended the VM: commands that act are refused */
	double started;         /* when the first VM was attached (monotonic seconds) */
	unsigned boots;         /* VMs attached: 1 + guest resets */
	struct migration *mig;  /* a migration in progress: only status and stats are served */
	struct ctl_client *mig_client; /* who asked for it (NULL once gone) */
	json_t *mig_id;         /* its "id" (owned) */
	char mig_to[256];       /* where to, for the log */
	bool counted;           /* control_count_boot counted the next attach's boot */
	int statm_fd;           /* /proc/self/statm of the process attached, opened on attach
				 * (a sandboxed VMM cannot open files later) */
	struct ctl_client cl[CTL_MAX_CLIENTS];
};

static void client_close(struct control *c, struct ctl_client *k)
{
	if (c->mig_client == k)
		c->mig_client = NULL;
	if (c->vm)
		evloop_del(c->vm->loop, k->fd);
	close(k->fd);
	control_fds_close(&k->q);
	k->fd = -1;
	k->len = 0;
	k->overflow = false;
}

/* Write what is left of reply s (n bytes plus its newline) after done bytes, waiting for
 * the client to read. Returns n + 1, or -1 when the client does not read it in time. */
static ssize_t send_rest(int fd, const char *s, size_t n, size_t done)
{
	while (done < n + 1) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t w;

		if (poll(&p, 1, CTL_SEND_MS) <= 0)
			return -1;
		w = done < n ? send(fd, s + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT) :
			       send(fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (w > 0)
			done += (size_t)w;
	}
	return (ssize_t)n + 1;
}

static void reply(struct control *c, struct ctl_client *k, json_t *r, json_t *id)
{
	char *s;
	size_t n;

	if (id)
		json_object_set(r, "id", id);
	s = json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(r);
	if (!s)
		return;
	n = strlen(s);
	{
		struct iovec iov[2] = { { s, n }, { "\n", 1 } };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

		ssize_t w = sendmsg(k->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		/* Replies are small but a screenshot's: the rest of a large one goes out as
		 * the client reads it, for up to CTL_SEND_MS; a client that does not read
		 * its replies goes. */
		if (w >= 0 && (size_t)w < n + 1)
			w = send_rest(k->fd, s, n, (size_t)w);
		if (w != (ssize_t)n + 1)
			client_close(c, k);
	}
	free(s);
}

static json_t *error(const char *msg)
{
	return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

static long rss_bytes(struct control *c)
{
	char buf[128];
	long pages = 0, rss = 0;
	ssize_t n = c->statm_fd >= 0 ? pread(c->statm_fd, buf, sizeof(buf) - 1, 0) : -1;

	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (sscanf(buf, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	return rss * sysconf(_SC_PAGESIZE);
}

static json_t *do_status(struct control *c)
{
	struct vm *vm = c->vm;

	return json_pack("{s:b,s:s,s:f,s:i,s:I,s:i}", "ok", 1,
			 "state", c->paused ? "paused" : "running",
			 "uptime", clock_mono() - c->started,
			 "vcpus", (int)vm->nr_vcpus,
			 "memory", (json_int_t)vm->mem->size,
			 "boots", (int)c->boots);
}

#define CTL_MAX_DEVS 64

static json_t *disks_json(struct vm *vm)
{
	struct vm_disk_stats d[CTL_MAX_DEVS];
	unsigned n = vm_devices_disk_stats(vm, d, CTL_MAX_DEVS);
	json_t *a = json_array();

	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			"name", d[i].name, "device", d[i].device, "bus", d[i].bus,
			"read_ops", (json_int_t)d[i].io.read_ops,
			"write_ops", (json_int_t)d[i].io.write_ops,
			"flush_ops", (json_int_t)d[i].io.flush_ops,
			"discard_ops", (json_int_t)d[i].io.discard_ops,
			"read_bytes", (json_int_t)d[i].io.read_bytes,
			"write_bytes", (json_int_t)d[i].io.write_bytes,
			"errors", (json_int_t)d[i].io.errors));
	return a;
}

static json_t *nics_json(struct vm *vm)
{
	struct vm_nic_stats d[CTL_MAX_DEVS];
	unsigned n = vm_devices_nic_stats(vm, d, CTL_MAX_DEVS);
	json_t *a = json_array();

	for (unsigned i = 0; i < n; i++) {
		char mac[18];
		const uint8_t *m = d[i].mac;

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
			 m[4], m[5]);
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I}",
			"name", d[i].name, "device", d[i].device, "mac", mac,
			"backend", d[i].backend, "ifname", d[i].ifname,
			"rx_packets", (json_int_t)d[i].io.rx_packets,
			"tx_packets", (json_int_t)d[i].io.tx_packets,
			"rx_bytes", (json_int_t)d[i].io.rx_bytes,
			"tx_bytes", (json_int_t)d[i].io.tx_bytes,
			"drops", (json_int_t)(d[i].io.rx_drops + d[i].io.tx_drops)));
	}
	return a;
}

#define MIB (1024 * 1024)

/* The balloon's figures (NULL: the VM has none). Memory figures are what the guest has
 * (RAM less the balloon), in MiB. */
static json_t *balloon_json(struct vm *vm)
{
	struct vballoon_info b;
	json_t *st, *r;

	if (vm_devices_balloon(vm, NULL, &b))
		return NULL;
	st = json_object();
	for (unsigned t = 0; t < VBALLOON_S_NR; t++)
		if (b.stats_mask & (1u << t))
			json_object_set_new(st, virtio_balloon_stat_name(t),
					    json_integer(b.stats[t] > INT64_MAX ? INT64_MAX :
							 (json_int_t)b.stats[t]));
	if (b.stats_mask)
		json_object_set_new(st, "age_seconds", json_real(b.stats_age));
	r = json_pack("{s:I,s:I,s:I,s:I,s:b,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I}",
		      "ram_mib", (json_int_t)(b.ram / MIB),
		      "target_mib", (json_int_t)((b.ram - b.target) / MIB),
		      "actual_mib", (json_int_t)((b.ram - b.actual) / MIB),
		      "balloon_mib", (json_int_t)(b.actual / MIB),
		      "driver", b.driver_ok, "deflate_on_oom", b.deflate_on_oom,
		      "free_page_reporting", b.reporting,
		      "inflated_pages", (json_int_t)b.inflated,
		      "inflate_pages", (json_int_t)b.inflate_pages,
		      "deflate_pages", (json_int_t)b.deflate_pages,
		      "bad_pfns", (json_int_t)b.bad_pfns,
		      "reported_mib", (json_int_t)(b.reported / MIB),
		      "stats_updates", (json_int_t)b.stats_updates);
	json_object_set_new(r, "stats", st);
	return r;
}

static json_t *do_stats(struct control *c)
{
	struct vm *vm = c->vm;
	json_t *r = do_status(c), *v = json_array(), *b;
	unsigned long total = 0;
	double cpu = 0;

	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *p = vm->vcpus[i];
		unsigned long ex = __atomic_load_n(&p->exits, __ATOMIC_RELAXED);
		double s = vcpu_cpu_seconds(p);

		total += ex;
		cpu += s;
		json_array_append_new(v, json_pack("{s:i,s:I,s:f}", "id", (int)i,
						   "exits", (json_int_t)ex, "cpu_seconds", s));
	}
	json_object_set_new(r, "vcpu", v);
	json_object_set_new(r, "exits", json_integer((json_int_t)total));
	json_object_set_new(r, "vcpu_seconds", json_real(cpu));
	json_object_set_new(r, "rss", json_integer(rss_bytes(c)));
	json_object_set_new(r, "disks", disks_json(vm));
	json_object_set_new(r, "nics", nics_json(vm));
	if ((b = balloon_json(vm)))
		json_object_set_new(r, "balloon", b);
	return r;
}

/* {"cmd":"balloon"[,"target_mib":N]}: the balloon's figures; with target_mib, ask the guest
 * to keep N MiB (1..its RAM) first. */
static json_t *do_balloon(struct control *c, json_t *msg)
{
	json_int_t target = -1;
	uint64_t bytes;
	json_t *r;
	int ret;

	if (json_unpack(msg, "{s?I}", "target_mib", &target) ||
	    (json_object_get(msg, "target_mib") && target < 1))
		return error("balloon takes optionally \"target_mib\" (a positive integer: the "
			     "memory the guest should keep)");
	if (target > 0) {
		if ((uint64_t)target > c->vm->mem->size / MIB)
			return error("\"target_mib\" is more than the guest's memory");
		bytes = c->vm->mem->size - (uint64_t)target * MIB;
		ret = vm_devices_balloon(c->vm, &bytes, NULL);
		if (ret == -ENOENT)
			return error("the VM has no memory balloon (--device balloon)");
		if (ret)
			return error(strerror(-ret));
		vsrv_log("balloon: the guest is asked to keep %lld MiB", (long long)target);
	}
	r = balloon_json(c->vm);
	if (!r)
		return error("the VM has no memory balloon (--device balloon)");
	json_object_set_new(r, "ok", json_true());
	return r;
}

/* Park every vCPU (bounded wait: a stuck one cannot hang the loop; then all run again).
 * 0, -ESHUTDOWN when the VM is ending (its vCPU threads leave instead of parking), or
 * -ETIMEDOUT. */
int control_vcpus_park(struct vm *vm)
{
	unsigned i;

	if (__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE))
		return -ESHUTDOWN;
	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_pause(vm->vcpus[i]);
	/* vCPU threads leave KVM_RUN within microseconds of the kick */
	for (i = 0; i < vm->nr_vcpus; i++)
		if (vcpu_wait_parked(vm->vcpus[i], CTL_PARK_MS) < 0) {
			for (unsigned j = 0; j < vm->nr_vcpus; j++)
				vcpu_resume(vm->vcpus[j]);
			if (__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE))
				return -ESHUTDOWN;
			vsrv_log("pause: vCPU %u did not stop within %d ms", i, CTL_PARK_MS);
			return -ETIMEDOUT;
		}
	return 0;
}

void control_vcpus_unpark(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_resume(vm->vcpus[i]);
}

static json_t *do_pause(struct control *c, bool pause)
{
	if (pause == c->paused)
		return error(pause ? "already paused" : "not paused");
	if (!pause) {
		control_vcpus_unpark(c->vm);
		c->paused = false;
		vsrv_log("resumed by the control socket");
		return json_pack("{s:b,s:s}", "ok", 1, "state", "running");
	}
	if (control_vcpus_park(c->vm) < 0)
		return error(__atomic_load_n(&c->vm->stopping, __ATOMIC_ACQUIRE) ?
			     "the VM is ending" : "a vCPU did not stop in time");
	c->paused = true;
	vsrv_log("paused by the control socket");
	return json_pack("{s:b,s:s}", "ok", 1, "state", "paused");
}

/* {"cmd":"save","path":P[,"keep_running":B]}: park the vCPUs (unless paused already),
 * quiesce the devices, write the file; then end the VM (devices stay quiesced: nothing more
 * is served from the rings) or, with keep_running or on an error, let it go on. */
static json_t *do_save(struct control *c, json_t *msg)
{
	struct vm *vm = c->vm;
	struct vm_save_result res;
	const char *path = NULL;
	int keep = 0, ret;
	bool was_paused = c->paused;
	char err[512];

	if (json_unpack(msg, "{s:s,s?b}", "path", &path, "keep_running", &keep) || !path[0])
		return error("save needs \"path\" (a string) and optionally \"keep_running\" (a boolean)");
	if (!was_paused && (ret = control_vcpus_park(vm)) < 0)
		return error(ret == -ESHUTDOWN ? "the VM is ending" : "a vCPU did not stop in time");
	vm_devices_quiesce(vm);
	ret = vm_save(vm, path, &res, err, sizeof(err));
	if (ret == 0 && !keep) {
		vsrv_log("saved the VM to %s (%.1f MiB, %.1f ms); the VM ends (restore it with "
			 "vsrv run --restore %s)", path, res.file_bytes / 1048576.0,
			 res.seconds * 1e3, path);
		c->ending = true;
		vm_request_stop(vm, 0);
	} else {
		vm_devices_resume(vm);
		if (!was_paused)
			control_vcpus_unpark(vm);
		if (ret == 0)
			vsrv_log("checkpoint of the VM in %s (%.1f MiB, %.1f ms); the VM goes on",
				 path, res.file_bytes / 1048576.0, res.seconds * 1e3);
	}
	if (ret)
		return error(err);
	return json_pack("{s:b,s:s,s:s,s:I,s:I,s:f}", "ok", 1, "path", path,
			 "state", keep ? (was_paused ? "paused" : "running") : "stopped",
			 "bytes", (json_int_t)res.file_bytes, "pages", (json_int_t)res.mem_pages,
			 "seconds", res.seconds);
}

static json_t *media_json(const struct vm_media_info *m)
{
	return json_pack("{s:s,s:s,s:s?,s:I,s:s,s:b}", "drive", m->drive, "device", m->device,
			 "path", m->path, "bytes", (json_int_t)m->bytes,
			 "tray", m->tray_open ? "open" : "closed", "locked", m->locked);
}

/* {"cmd":"media"[,"drive":D]}: the drives with removable media and what they hold;
 * with "eject":true (and "force":true to take it from a drive the guest locked) or
 * "insert":PATH, change the medium first. */
static json_t *do_media(struct control *c, json_t *msg)
{
	struct vm_media_info info[VDEVS_MAX];
	const char *drive = NULL, *insert = NULL;
	int eject = 0, force = 0, ret;
	unsigned n, i;
	char err[512];
	json_t *list;

	if (json_unpack(msg, "{s?s,s?s,s?b,s?b}", "drive", &drive, "insert", &insert, "eject",
			&eject, "force", &force) || (eject && insert) || (insert && !insert[0]) ||
	    (force && !eject))
		return error("media takes \"eject\":true (optionally \"force\":true) or "
			     "\"insert\":PATH, and optionally \"drive\" (e.g. \"disk1\"); "
			     "without either it lists the drives");
	if (eject || insert) {
		ret = vm_devices_media(c->vm, drive, insert, force, err, sizeof(err));
		if (ret)
			return error(err);
	}
	n = vm_devices_media_list(c->vm, info, VDEVS_MAX);
	list = json_array();
	for (i = 0; i < n; i++)
		if (!drive || !strcmp(drive, info[i].drive))
			json_array_append_new(list, media_json(&info[i]));
	if (drive && !json_array_size(list)) {
		json_decref(list);
		return error("no such CD/DVD drive");
	}
	return json_pack("{s:b,s:o}", "ok", 1, "drives", list);
}

/* The migration's end, on the loop thread: answer, then end the VM or let it go on. */
static void migrate_done(void *opaque, const struct migrate_result *res)
{
	struct control *c = opaque;
	json_t *r;

	if (res->ret == 0) {
		char disks[80] = "";

		if (res->disk_rounds)
			snprintf(disks, sizeof(disks), ", its disks copied: %.1f MiB of data in %u "
				 "rounds", res->disk_bytes / 1048576.0, res->disk_rounds);
		vsrv_log("migrated the VM to %s (%.1f MiB in %u rounds, %.0f ms, downtime %.1f ms%s); "
			 "the VM ends here", c->mig_to, res->bytes / 1048576.0, res->rounds,
			 res->total_ms, res->downtime_ms, disks);
		r = json_pack("{s:b,s:s,s:f,s:f,s:I,s:I,s:i}", "ok", 1, "state", "migrated",
			      "total_ms", res->total_ms, "downtime_ms", res->downtime_ms,
			      "bytes", (json_int_t)res->bytes, "pages", (json_int_t)res->pages,
			      "rounds", (int)res->rounds);
		if (r && res->disk_rounds) {
			json_object_set_new(r, "disk_bytes", json_integer((json_int_t)res->disk_bytes));
			json_object_set_new(r, "disk_rounds", json_integer(res->disk_rounds));
		}
		c->ending = true;
		vm_request_stop(c->vm, 0);
	} else {
		vsrv_log("migrate: %s; the VM goes on here", res->error);
		r = error(res->error);
	}
	migrate_free(c->mig);
	c->mig = NULL;
	if (c->mig_client)
		reply(c, c->mig_client, r, c->mig_id);
	else
		json_decref(r);
	json_decref(c->mig_id);
	c->mig_id = NULL;
	c->mig_client = NULL;
}

/* {"cmd":"migrate","to":URI[,"timeout":S][,"max_rounds":N][,"max_downtime_ms":MS]
 * [,"disks":"shared"|"copy"]}: start the migration thread; the answer comes when it ends
 * (migrate_done). NULL when started. */
static json_t *do_migrate(struct control *c, struct ctl_client *k, json_t *msg, json_t *id)
{
	struct migrate_opts o = { .paused = c->paused };
	json_int_t timeout = 0, rounds = 0, down = 0;
	const char *disks = "shared";
	int ret;

	if (json_unpack(msg, "{s:s,s?I,s?I,s?I,s?s}", "to", &o.to, "timeout", &timeout,
			"max_rounds", &rounds, "max_downtime_ms", &down, "disks", &disks) ||
	    !o.to[0] || timeout < 0 || timeout > 86400 || rounds < 0 || rounds > 1000 ||
	    down < 0 || down > 600000)
		return error("migrate needs \"to\" (unix:PATH or tcp:HOST:PORT) and optionally "
			     "\"timeout\" (seconds), \"max_rounds\", \"max_downtime_ms\", "
			     "\"disks\" (\"shared\" or \"copy\")");
	if (strcmp(disks, "shared") && strcmp(disks, "copy"))
		return error("\"disks\" must be \"shared\" (the destination runs on the same "
			     "image files) or \"copy\" (their contents go in the stream)");
	o.copy_disks = !strcmp(disks, "copy");
	if (strncmp(o.to, "unix:", 5) && strncmp(o.to, "tcp:", 4))
		return error("\"to\" must be unix:PATH or tcp:HOST:PORT");
	if (__atomic_load_n(&c->vm->stopping, __ATOMIC_ACQUIRE))
		return error("the VM is ending");
	o.timeout_s = (unsigned)timeout;
	o.max_rounds = (unsigned)rounds;
	o.max_downtime_ms = (uint64_t)down;
	ret = migrate_start(c->vm, &o, migrate_done, c, &c->mig);
	if (ret)
		return error(strerror(-ret));
	snprintf(c->mig_to, sizeof(c->mig_to), "%s", o.to);
	vsrv_log("migrating the VM to %s", o.to);
	c->mig_client = k;
	c->mig_id = id ? json_incref(id) : NULL;
	return NULL;
}

/* {"cmd":"screenshot"}: the display as a PNG, base64 in "png". */
static json_t *do_screenshot(struct control *c)
{
	char err[160], *b64;
	void *png;
	size_t len, blen;
	uint32_t w, h;
	json_t *r;

	if (screenshot_png(vm_display_get(c->vm), &png, &len, &w, &h, err, sizeof(err)))
		return error(err);
	blen = (len + 2) / 3 * 4 + 1;
	b64 = malloc(blen);
	if (!b64 || b64_ntop(png, len, b64, blen) < 0) {
		free(png);
		free(b64);
		return error("out of memory for the screenshot");
	}
	free(png);
	r = json_pack("{s:b,s:i,s:i,s:s}", "ok", 1, "width", (int)w, "height", (int)h, "png",
		      b64);
	free(b64);
	return r ? r : error("out of memory for the screenshot");
}

/* The line ending at buffer offset end (descriptors received with it: k->q). */
static void handle_line(struct control *c, struct ctl_client *k, const char *line, size_t end)
{
	json_error_t je;
	json_t *msg = json_loads(line, JSON_REJECT_DUPLICATES, &je), *id = NULL, *r;
	const char *cmd = NULL;
	bool fds = control_fds_for(&k->q, end);

	if (!msg || !json_is_object(msg)) {
		if (fds)
			control_fds_close(&k->q);
		reply(c, k, error("expected one JSON object per line"), NULL);
		json_decref(msg);
		return;
	}
	id = json_object_get(msg, "id");
	if (json_unpack(msg, "{s:s}", "cmd", &cmd))
		r = error("missing \"cmd\" (a string)");
	else if (fds && k->q.lost)
		r = error("more descriptors than a command takes (one per disk of the VM)");
	else if (fds && strcmp(cmd, "disk-switch"))
		r = error("only disk-switch takes descriptors");
	else if (c->ending && strcmp(cmd, "status") && strcmp(cmd, "stats"))
		r = error("the VM is ending");
	else if (c->mig && strcmp(cmd, "status") && strcmp(cmd, "stats"))
		r = error("a migration is in progress");
	else if (!strcmp(cmd, "status"))
		r = do_status(c);
	else if (!strcmp(cmd, "stats"))
		r = do_stats(c);
	else if (!strcmp(cmd, "pause"))
		r = do_pause(c, true);
	else if (!strcmp(cmd, "resume"))
		r = do_pause(c, false);
	else if (!strcmp(cmd, "save"))
		r = do_save(c, msg);
	else if (!strcmp(cmd, "media"))
		r = do_media(c, msg);
	else if (!strcmp(cmd, "disk-switch")) {
		r = control_disk_switch(c->vm, msg, c->paused, k->q.fd, fds ? k->q.n : 0);
		if (fds)
			k->q.n = 0; /* used or closed */
	}
	else if (!strcmp(cmd, "screenshot"))
		r = do_screenshot(c);
	else if (!strcmp(cmd, "balloon"))
		r = do_balloon(c, msg);
	else if (!strcmp(cmd, "migrate")) {
		r = do_migrate(c, k, msg, id);
		if (!r) { /* answered when it ends */
			json_decref(msg);
			return;
		}
	}
	else if (!strcmp(cmd, "power-button")) {
		acpi_pm_power_button(c->vm->acpi_pm);
		vsrv_log("power button pressed through the control socket");
		r = json_pack("{s:b}", "ok", 1);
	} else if (!strcmp(cmd, "quit")) {
		vsrv_log("quit through the control socket");
		c->ending = true;
		vm_request_stop(c->vm, 0);
		r = json_pack("{s:b}", "ok", 1);
	} else
		r = error("unknown cmd (status, pause, resume, save, migrate, stats, media, "
			  "disk-switch, screenshot, balloon, power-button, quit)");
	if (fds) /* whatever the command did not take */
		control_fds_close(&k->q);
	reply(c, k, r, id);
	json_decref(msg);
}

static void on_client(void *opaque, uint32_t events)
{
	struct ctl_client *k = opaque;
	struct control *c = k->ctl;
	ssize_t r;

	(void)events;
	if (k->fd < 0)
		return;
	r = control_fds_recv(k->fd, k->buf + k->len, sizeof(k->buf) - k->len, k->len, &k->q);
	if (r <= 0) {
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			client_close(c, k);
		return;
	}
	k->len += (size_t)r;
	for (;;) {
		char *nl = memchr(k->buf, '\n', k->len);
		size_t used;

		if (!nl) {
			if (k->len == sizeof(k->buf)) {
				if (!k->overflow)
					reply(c, k, error("line too long (4 KiB at most)"), NULL);
				if (k->fd < 0)
					return;
				control_fds_close(&k->q); /* they came with the line dropped */
				k->overflow = true;
				k->len = 0;
			}
			return;
		}
		*nl = '\0';
		used = (size_t)(nl - k->buf) + 1;
		if (!k->overflow)
			handle_line(c, k, k->buf, used - 1);
		else if (control_fds_for(&k->q, used - 1))
			control_fds_close(&k->q);
		k->overflow = false;
		if (k->fd < 0)
			return;
		memmove(k->buf, k->buf + used, k->len - used);
		k->len -= used;
		control_fds_shift(&k->q, used);
	}
}

static void on_accept(void *opaque, uint32_t events)
{
	struct control *c = opaque;
	int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), i;

	(void)events;
	if (fd < 0)
		return;
	for (i = 0; i < CTL_MAX_CLIENTS && c->cl[i].fd >= 0; i++)
		;
	if (i == CTL_MAX_CLIENTS) {
		close(fd); /* too many: the newest is refused */
		return;
	}
	c->cl[i].fd = fd;
	c->cl[i].len = 0;
	c->cl[i].overflow = false;
	control_fds_close(&c->cl[i].q);
	if (evloop_add(c->vm->loop, fd, EPOLLIN, on_client, &c->cl[i]) < 0) {
		close(fd);
		c->cl[i].fd = -1;
	}
}

int control_open(const char *path, struct control **out)
{
	struct sockaddr_un sa;
	struct control *c;
	int ret;

	if (unixsock_addr(path, &sa)) {
		vsrv_log("--control %s: path empty or too long for a Unix socket", path);
		return -ENAMETOOLONG;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->statm_fd = -1;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		c->cl[i].fd = -1;
		c->cl[i].ctl = c;
	}
	strcpy(c->path, path);
	/* Created 0600: only our user may control the VM. */
	ret = unixsock_listen(path, 8, true, &c->lfd);
	if (ret)
		goto err;
	*out = c;
	return 0;
err:
	vsrv_log("--control %s: %s", path, strerror(-ret));
	free(c);
	return ret;
}

int control_attach(struct control *c, struct vm *vm)
{
	int ret;

	c->vm = vm;
	c->paused = false;
	c->ending = false;
	if (!c->counted && !c->boots++)
		c->started = clock_mono();
	c->counted = false;
	if (c->statm_fd < 0)
		c->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ret = evloop_add(vm->loop, c->lfd, EPOLLIN, on_accept, c);
	if (ret < 0)
		return ret;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].fd >= 0 && evloop_add(vm->loop, c->cl[i].fd, EPOLLIN, on_client, &c->cl[i]) < 0)
			client_close(c, &c->cl[i]);
	return 0;
}

void control_count_boot(struct control *c)
{
	if (!c->boots++)
		c->started = clock_mono();
	c->counted = true;
}

void control_detach(struct control *c)
{
	if (!c->vm)
		return;
	if (c->mig) { /* the VM ended during a migration: abandon it */
		migrate_free(c->mig);
		c->mig = NULL;
		if (c->mig_client)
			reply(c, c->mig_client, error("the VM ended during the migration"), c->mig_id);
		json_decref(c->mig_id);
		c->mig_id = NULL;
		c->mig_client = NULL;
	}
	evloop_del(c->vm->loop, c->lfd);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].fd >= 0)
			evloop_del(c->vm->loop, c->cl[i].fd);
	c->vm = NULL;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	control_detach(c);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].fd >= 0) {
			close(c->cl[i].fd);
			control_fds_close(&c->cl[i].q);
		}
	close(c->lfd);
	if (c->statm_fd >= 0)
		close(c->statm_fd);
	unlink(c->path);
	free(c);
}
