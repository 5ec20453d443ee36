/* Usage of running VMs: CPU and memory from /proc, vCPU, disk and NIC counters from the
 * VMM's control socket (vmctl_stats, cached for 1 s); host capacity. */
#include "server/sup.h"
#include "server/sup_int.h"
#include "server/cgroup.h"
#include "server/hostkvm.h"
#include "server/inv.h"
#include "server/metrics.h"
#include "server/vmctl.h"
#include "server/vmdir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct usage {
	pid_t pid;
	double cpu_seconds;
	uint64_t rss;
};

/* With the sandbox (`vsrv run --sandbox on`, src/vmm/sandbox.h) the VM itself runs in a
 * child of the VMM process, a new one after each guest reset: its usage is the VM's. The
 * newest child (the last in the kernel's list), else pid itself. */
static pid_t vm_process(pid_t pid)
{
	char p[64], b[512], *s, *last = NULL;

	snprintf(p, sizeof(p), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	if (sup_read_small(p, b, sizeof(b)))
		return pid;
	for (s = strtok(b, " \n"); s; s = strtok(NULL, " \n"))
		last = s;
	return last && atoi(last) > 0 ? atoi(last) : pid;
}

/* The VMM of VM id: the pid in vmm.pid whose parent is the shim (or its sandboxed child). */
static pid_t vmm_pid(struct server *srv, int64_t id, pid_t mon)
{
	char dir[4096], p[4200], b[512];
	pid_t pid;
	int ppid = 0;
	char *rp, st;

	if (mon <= 0 || vmdir_path(srv, id, dir, sizeof(dir)))
		return 0;
	snprintf(p, sizeof(p), "%s/vmm.pid", dir);
	if (sup_read_small(p, b, sizeof(b)))
		return 0;
	pid = atoi(b);
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	if (pid <= 0 || sup_read_small(p, b, sizeof(b)))
		return 0;
	rp = strrchr(b, ')');
	if (!rp || sscanf(rp + 2, "%c %d", &st, &ppid) != 2 || ppid != mon)
		return 0;
	return vm_process(pid);
}

static int usage_of(pid_t pid, struct usage *u)
{
	char p[64], b[4096], *rp, *s;
	unsigned long long ut = 0, stt = 0;
	long tck = sysconf(_SC_CLK_TCK);

	memset(u, 0, sizeof(*u));
	u->pid = pid;
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	if (sup_read_small(p, b, sizeof(b)))
		return -ENOENT;
	rp = strrchr(b, ')');
	/* fields after ')': state(3) ppid ... utime(14) stime(15) */
	if (!rp || sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2)
		return -EIO;
	u->cpu_seconds = (double)(ut + stt) / (tck > 0 ? tck : 100);
	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	if (!sup_read_small(p, b, sizeof(b)) && (s = strstr(b, "VmRSS:")))
		u->rss = strtoull(s + 6, NULL, 10) * 1024;
	return 0;
}

void sup_runtime_json(struct server *srv, int64_t id, json_t *obj)
{
	pid_t mon = json_integer_value(json_object_get(obj, "monitor_pid"));
	pid_t pid = vmm_pid(srv, id, mon);
	struct usage u;

	if (pid <= 0 || usage_of(pid, &u)) {
		json_object_set_new(obj, "pid", json_null());
		return;
	}
	json_object_set_new(obj, "pid", json_integer(pid));
	json_object_set_new(obj, "cpu_seconds", json_real(u.cpu_seconds));
	json_object_set_new(obj, "memory_rss_bytes", json_integer(u.rss));
	/* The VMM's own view, through its control socket (absent for a VMM without one). */
	{
		json_t *st = NULL;

		if (!vmctl_stats(srv, id, pid, &st)) {
			json_object_set(obj, "vcpu_exits", json_object_get(st, "exits"));
			json_object_set(obj, "vcpu_seconds", json_object_get(st, "vcpu_seconds"));
			json_object_set(obj, "vcpus", json_object_get(st, "vcpu"));
			json_object_set(obj, "vmm_state", json_object_get(st, "state"));
			json_object_set(obj, "boots", json_object_get(st, "boots"));
			json_object_set(obj, "disks", json_object_get(st, "disks"));
			json_object_set(obj, "nics", json_object_get(st, "nics"));
			if (json_object_get(st, "balloon"))
				json_object_set(obj, "balloon", json_object_get(st, "balloon"));
		}
		json_decref(st);
	}
}

/* The up VMs (inv_vm_state_up): how many, their reservations and vCPUs. */
struct up_sum {
	int64_t running, reserved, vcpus;
	json_t *mine;               /* a shared inventory: the VMs this host runs */
};

static int add_up(const struct inv_vm *v, void *arg)
{
	struct up_sum *u = arg;

	if (inv_vm_state_up(v->state) && (!u->mine || json_object_get(u->mine, v->name))) {
		u->running++;
		u->reserved += inv_vm_reserved_mib(v);
		u->vcpus += v->cpus;
	}
	return 0;
}

json_t *sup_host_json(struct server *srv, struct dbc *c)
{
	struct up_sum up = { .mine = sup_cluster_mine(srv, c) };
	int64_t running, reserved, vcpus, total = 0, avail = 0;
	char b[4096], why[400], *s;
	int kvm;

	if (inv_vm_each(c, add_up, &up))
		up.running = up.reserved = up.vcpus = 0;
	json_decref(up.mine);
	running = up.running;
	reserved = up.reserved;
	vcpus = up.vcpus;
	if (!sup_read_small("/proc/meminfo", b, sizeof(b))) {
		if ((s = strstr(b, "MemTotal:")))
			total = strtoll(s + 9, NULL, 10) / 1024;
		if ((s = strstr(b, "MemAvailable:")))
			avail = strtoll(s + 13, NULL, 10) / 1024;
	}
	kvm = hostkvm_check(why, sizeof(why));
	return json_pack("{s:i,s:{s:I,s:I,s:I,s:I,s:I},s:{s:I,s:I},s:s,s:{s:b,s:s,s:s?}}",
			 "cpus", srv->host_cpus,
			 "memory_mib", "total", (json_int_t)total, "available", (json_int_t)avail,
			 "allocatable", (json_int_t)srv->host_mem_mib, "reserved", (json_int_t)reserved,
			 "free", (json_int_t)((int64_t)srv->host_mem_mib - reserved),
			 "vms", "running", (json_int_t)running, "vcpus", (json_int_t)vcpus,
			 "cgroups", cgroup_mode(),
			 "kvm", "available", !kvm, "device", hostkvm_path(),
			 "message", kvm ? why : NULL);
}

/* One running VM's figures for /metrics. */
struct vm_sample {
	char *name;
	struct usage u;
	json_t *vs; /* the VMM's stats reply, or NULL */
};

static void metric_head(char **buf, size_t *len, size_t *cap, const char *name, const char *type,
			const char *help)
{
	metrics_printf(buf, len, cap, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One device counter (key of each element of the stats reply's array arr) for every VM, as
 * one group of lines: Prometheus's text format wants all lines of a metric together. */
static void device_metric(char **buf, size_t *len, size_t *cap, const struct vm_sample *v,
			  size_t n, const char *arr, const char *label, const char *metric,
			  const char *key, const char *help)
{
	size_t i, j;
	json_t *e;

	metric_head(buf, len, cap, metric, "counter", help);
	for (i = 0; i < n; i++)
		json_array_foreach(json_object_get(v[i].vs, arr), j, e)
			metrics_printf(buf, len, cap, "%s{vm=\"%s\",%s=\"%s\"} %lld\n", metric,
				       v[i].name, label,
				       json_string_value(json_object_get(e, "name")),
				       (long long)json_integer_value(json_object_get(e, key)));
}

/* A gauge of the balloon's figures (the stats reply's "balloon", or its "stats" when
 * guest), for the VMs that have one and report it. */
struct balloon_gauge {
	const char *metric;
	bool guest;
	const char *key;
	long long scale;
	const char *help;
};

static void balloon_metric(char **buf, size_t *len, size_t *cap, const struct vm_sample *v,
			   size_t n, const struct balloon_gauge *g)
{
	metric_head(buf, len, cap, g->metric, "gauge", g->help);
	for (size_t i = 0; i < n; i++) {
		json_t *b = json_object_get(v[i].vs, "balloon"), *x;

		x = json_object_get(g->guest ? json_object_get(b, "stats") : b, g->key);
		if (json_is_integer(x))
			metrics_printf(buf, len, cap, "%s{vm=\"%s\"} %lld\n", g->metric, v[i].name,
				       (long long)json_integer_value(x) * g->scale);
	}
}

static const char *const vm_states[] = { INV_VM_STOPPED, INV_VM_STARTING, INV_VM_RUNNING,
					  INV_VM_PAUSED, INV_VM_CRASHED, INV_VM_STOPPING,
					  INV_VM_SAVED };

/* What sup_metrics_render gathers from every VM. */
struct samples {
	struct server *srv;
	int64_t counts[7];
	struct vm_sample *v;
	size_t n, cap;
};

/* Count v's state; sample v's VMM when it runs. 0 or -ENOMEM. */
static int sample_vm(const struct inv_vm *vm, void *arg)
{
	struct samples *sa = arg;
	pid_t pid = vmm_pid(sa->srv, vm->id, vm->monitor_pid);
	struct usage u;

	for (int k = 0; k < 7; k++)
		if (!strcmp(vm->state, vm_states[k]))
			sa->counts[k]++;
	if (pid <= 0 || usage_of(pid, &u))
		return 0;
	if (sa->n == sa->cap) {
		size_t nc = sa->cap ? 2 * sa->cap : 16;
		struct vm_sample *nv = realloc(sa->v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		sa->v = nv;
		sa->cap = nc;
	}
	sa->v[sa->n].name = strdup(vm->name);
	sa->v[sa->n].u = u;
	sa->v[sa->n].vs = NULL;
	if (!sa->v[sa->n].name)
		return -ENOMEM;
	if (vmctl_stats(sa->srv, vm->id, pid, &sa->v[sa->n].vs)) {
		json_decref(sa->v[sa->n].vs);
		sa->v[sa->n].vs = NULL;
	}
	sa->n++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct vm_sample *)a)->name, ((const struct vm_sample *)b)->name);
}

int sup_metrics_render(struct server *srv, struct dbc *c, char **buf, size_t *len, size_t *cap)
{
	static const struct { const char *arr, *label, *metric, *key, *help; } devs[] = {
		{ "disks", "disk", "vsrv_vm_disk_read_bytes_total", "read_bytes",
		  "Bytes the guest read from the disk." },
		{ "disks", "disk", "vsrv_vm_disk_write_bytes_total", "write_bytes",
		  "Bytes the guest wrote to the disk." },
		{ "disks", "disk", "vsrv_vm_disk_read_ops_total", "read_ops",
		  "Read requests of the guest (virtio-blk or SCSI)." },
		{ "disks", "disk", "vsrv_vm_disk_write_ops_total", "write_ops",
		  "Write requests of the guest." },
		{ "disks", "disk", "vsrv_vm_disk_flush_ops_total", "flush_ops",
		  "Flush (cache synchronise) requests of the guest." },
		{ "disks", "disk", "vsrv_vm_disk_discard_ops_total", "discard_ops",
		  "Discard, write-zeroes, UNMAP and WRITE SAME requests." },
		{ "disks", "disk", "vsrv_vm_disk_errors_total", "errors",
		  "Disk requests that ended with an error." },
		{ "nics", "interface", "vsrv_vm_network_rx_bytes_total", "rx_bytes",
		  "Bytes of frames delivered to the guest." },
		{ "nics", "interface", "vsrv_vm_network_tx_bytes_total", "tx_bytes",
		  "Bytes of frames the guest sent." },
		{ "nics", "interface", "vsrv_vm_network_rx_packets_total", "rx_packets",
		  "Frames delivered to the guest." },
		{ "nics", "interface", "vsrv_vm_network_tx_packets_total", "tx_packets",
		  "Frames the guest sent." },
		{ "nics", "interface", "vsrv_vm_network_drops_total", "drops",
		  "Frames dropped either way (no guest buffers, bad frames, a full backend)." },
	};
	static const struct balloon_gauge balloon[] = {
		{ "vsrv_vm_memory_target_bytes", false, "target_mib", 1 << 20,
		  "Memory the guest is asked to keep (its memory balloon's target)." },
		{ "vsrv_vm_memory_actual_bytes", false, "actual_mib", 1 << 20,
		  "Memory the guest keeps: its RAM less the balloon it says it has." },
		{ "vsrv_vm_guest_memory_free_bytes", true, "free", 1,
		  "Free memory, as the guest's balloon driver reports it." },
		{ "vsrv_vm_guest_memory_available_bytes", true, "available", 1,
		  "Memory available to the guest's programs, as its balloon driver reports it." },
		{ "vsrv_vm_guest_memory_total_bytes", true, "total", 1,
		  "Memory the guest's kernel manages, as its balloon driver reports it." },
		{ "vsrv_vm_guest_memory_caches_bytes", true, "caches", 1,
		  "Memory the guest uses for caches it can drop, as its balloon driver reports it." },
	};
	struct samples sa = { .srv = srv };
	struct vm_sample *v;
	int64_t *counts = sa.counts;
	size_t n, i;
	int ret;

	/* First every running VM's figures, then each metric as one group over all VMs. */
	ret = inv_vm_each(c, sample_vm, &sa);
	v = sa.v;
	n = sa.n;
	if (ret)
		goto out;
	if (n)          /* v is NULL without a running VM: qsort's is never null */
		qsort(v, n, sizeof(*v), by_name);

	metric_head(buf, len, cap, "vsrv_vm_cpu_seconds_total", "counter",
		    "CPU time of the VM's VMM process.");
	for (i = 0; i < n; i++)
		metrics_printf(buf, len, cap, "vsrv_vm_cpu_seconds_total{vm=\"%s\"} %.2f\n",
			       v[i].name, v[i].u.cpu_seconds);
	metric_head(buf, len, cap, "vsrv_vm_memory_bytes", "gauge",
		    "Resident memory of the VM's VMM process.");
	for (i = 0; i < n; i++)
		metrics_printf(buf, len, cap, "vsrv_vm_memory_bytes{vm=\"%s\"} %llu\n", v[i].name,
			       (unsigned long long)v[i].u.rss);
	metric_head(buf, len, cap, "vsrv_vm_vcpu_exits_total", "counter",
		    "KVM exits of the VM's vCPUs (since its last boot).");
	for (i = 0; i < n; i++)
		if (v[i].vs)
			metrics_printf(buf, len, cap, "vsrv_vm_vcpu_exits_total{vm=\"%s\"} %lld\n",
				       v[i].name,
				       (long long)json_integer_value(json_object_get(v[i].vs, "exits")));
	metric_head(buf, len, cap, "vsrv_vm_vcpu_seconds_total", "counter",
		    "CPU time of the VM's vCPU threads (since its last boot).");
	for (i = 0; i < n; i++)
		if (v[i].vs)
			metrics_printf(buf, len, cap, "vsrv_vm_vcpu_seconds_total{vm=\"%s\"} %.3f\n",
				       v[i].name,
				       json_real_value(json_object_get(v[i].vs, "vcpu_seconds")));
	for (size_t d = 0; d < sizeof(devs) / sizeof(devs[0]); d++)
		device_metric(buf, len, cap, v, n, devs[d].arr, devs[d].label, devs[d].metric,
			      devs[d].key, devs[d].help);
	for (size_t d = 0; d < sizeof(balloon) / sizeof(balloon[0]); d++)
		balloon_metric(buf, len, cap, v, n, &balloon[d]);
	metric_head(buf, len, cap, "vsrv_vms", "gauge", "VMs in the inventory, by state.");
	for (int k = 0; k < 7; k++)
		metrics_printf(buf, len, cap, "vsrv_vms{state=\"%s\"} %lld\n", vm_states[k],
			       (long long)counts[k]);
	ret = *buf ? 0 : -ENOMEM;
out:
	for (i = 0; i < n; i++) {
		free(v[i].name);
		json_decref(v[i].vs);
	}
	free(v);
	return ret;
}

struct reserved {
	int64_t except, used;
	json_t *mine;               /* a shared inventory: the VMs this host runs */
};

static int add_reserved(const struct inv_vm *v, void *arg)
{
	struct reserved *r = arg;

	if (v->id != r->except && inv_vm_state_up(v->state) &&
	    (!r->mine || json_object_get(r->mine, v->name)))
		r->used += inv_vm_reserved_mib(v);
	return 0;
}

/* The memory that the up VMs of this host but except hold from admission control. */
int64_t sup_reservation_used(struct server *srv, struct dbc *c, int64_t except)
{
	struct reserved r = { .except = except, .mine = sup_cluster_mine(srv, c) };

	inv_vm_each(c, add_reserved, &r);
	json_decref(r.mine);
	return r.used;
}
