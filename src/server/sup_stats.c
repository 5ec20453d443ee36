/* Usage of running VMs: CPU and memory from /proc, vCPU, disk and NIC counters from the
 * VMM's control socket (vmctl_stats, cached for 1 s); host capacity. */
#include "server/sup.h"
#include "server/cgroup.h"
#include "server/metrics.h"
#include "server/vmctl.h"

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

static int slurp(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -EIO;
	buf[r] = '\0';
	return 0;
}

/* The VMM of VM id: the pid in vmm.pid whose parent is the shim. */
static pid_t vmm_pid(struct server *srv, int64_t id, pid_t mon)
{
	char dir[4096], p[4200], b[512];
	pid_t pid;
	int ppid = 0;
	char *rp, st;

	if (mon <= 0 || sup_vm_dir(srv, id, dir, sizeof(dir)))
		return 0;
	snprintf(p, sizeof(p), "%s/vmm.pid", dir);
	if (slurp(p, b, sizeof(b)))
		return 0;
	pid = atoi(b);
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	if (pid <= 0 || slurp(p, b, sizeof(b)))
		return 0;
	rp = strrchr(b, ')');
	if (!rp || sscanf(rp + 2, "%c %d", &st, &ppid) != 2 || ppid != mon)
		return 0;
	return pid;
}

static int usage_of(pid_t pid, struct usage *u)
{
	char p[64], b[4096], *rp, *s;
	unsigned long long ut = 0, stt = 0;
	long tck = sysconf(_SC_CLK_TCK);

	memset(u, 0, sizeof(*u));
	u->pid = pid;
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	if (slurp(p, b, sizeof(b)))
		return -ENOENT;
	rp = strrchr(b, ')');
	/* fields after ')': state(3) ppid ... utime(14) stime(15) */
	if (!rp || sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2)
		return -EIO;
	u->cpu_seconds = (double)(ut + stt) / (tck > 0 ? tck : 100);
	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	if (!slurp(p, b, sizeof(b)) && (s = strstr(b, "VmRSS:")))
		u->rss = strtoull(s + 6, NULL, 10) * 1024;
	return 0;
}

/* Per-device counters of a stats reply, as metric lines. */
static void devices_metrics(const char *vm, json_t *vs, char **buf, size_t *len, size_t *cap)
{
	static const char *const dk[] = { "read_bytes", "write_bytes", "read_ops", "write_ops",
					   "flush_ops", "discard_ops", "errors" };
	static const char *const nk[] = { "rx_bytes", "tx_bytes", "rx_packets", "tx_packets",
					   "drops" };
	size_t i, k;
	json_t *e;

	json_array_foreach(json_object_get(vs, "disks"), i, e)
		for (k = 0; k < sizeof(dk) / sizeof(dk[0]); k++)
			metrics_printf(buf, len, cap, "vsrv_vm_disk_%s_total{vm=\"%s\",disk=\"%s\"} %lld\n",
				       dk[k], vm, json_string_value(json_object_get(e, "name")),
				       (long long)json_integer_value(json_object_get(e, dk[k])));
	json_array_foreach(json_object_get(vs, "nics"), i, e)
		for (k = 0; k < sizeof(nk) / sizeof(nk[0]); k++)
			metrics_printf(buf, len, cap,
				       "vsrv_vm_network_%s_total{vm=\"%s\",interface=\"%s\"} %lld\n",
				       nk[k], vm, json_string_value(json_object_get(e, "name")),
				       (long long)json_integer_value(json_object_get(e, nk[k])));
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
		}
		json_decref(st);
	}
}

json_t *sup_host_json(struct server *srv, struct dbc *c)
{
	sqlite3_stmt *st = db_stmt(c, "SELECT count(*), coalesce(sum(CASE WHEN memory_reserve_mib > 0 "
				      "THEN memory_reserve_mib ELSE memory_mib END), 0), coalesce(sum(cpus), 0) "
				      "FROM vms WHERE state IN ('starting','running','paused','stopping')");
	int64_t running = 0, reserved = 0, vcpus = 0, total = 0, avail = 0;
	char b[4096], *s;

	if (st) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			running = sqlite3_column_int64(st, 0);
			reserved = sqlite3_column_int64(st, 1);
			vcpus = sqlite3_column_int64(st, 2);
		}
		db_done(st);
	}
	if (!slurp("/proc/meminfo", b, sizeof(b))) {
		if ((s = strstr(b, "MemTotal:")))
			total = strtoll(s + 9, NULL, 10) / 1024;
		if ((s = strstr(b, "MemAvailable:")))
			avail = strtoll(s + 13, NULL, 10) / 1024;
	}
	return json_pack("{s:i,s:{s:I,s:I,s:I,s:I,s:I},s:{s:I,s:I},s:s}",
			 "cpus", srv->host_cpus,
			 "memory_mib", "total", (json_int_t)total, "available", (json_int_t)avail,
			 "allocatable", (json_int_t)srv->host_mem_mib, "reserved", (json_int_t)reserved,
			 "free", (json_int_t)((int64_t)srv->host_mem_mib - reserved),
			 "vms", "running", (json_int_t)running, "vcpus", (json_int_t)vcpus,
			 "cgroups", cgroup_mode());
}

int sup_metrics_render(struct server *srv, struct dbc *c, char **buf, size_t *len, size_t *cap)
{
	sqlite3_stmt *st = db_stmt(c, "SELECT id, name, monitor_pid, state FROM vms ORDER BY name");
	static const char *const states[] = { "stopped", "running", "paused", "crashed", "stopping" };
	int64_t counts[5] = { 0 };

	if (!st)
		return -EIO;
	metrics_printf(buf, len, cap,
		       "# HELP vsrv_vm_cpu_seconds_total CPU time of the VM's VMM process.\n"
		       "# TYPE vsrv_vm_cpu_seconds_total counter\n"
		       "# HELP vsrv_vm_memory_bytes Resident memory of the VM's VMM process.\n"
		       "# TYPE vsrv_vm_memory_bytes gauge\n"
		       "# HELP vsrv_vm_disk_read_bytes_total Bytes the guest read from the disk.\n"
		       "# TYPE vsrv_vm_disk_read_bytes_total counter\n"
		       "# HELP vsrv_vm_disk_write_bytes_total Bytes the guest wrote to the disk.\n"
		       "# TYPE vsrv_vm_disk_write_bytes_total counter\n"
		       "# HELP vsrv_vm_disk_read_ops_total Read requests of the guest (virtio-blk or SCSI).\n"
		       "# TYPE vsrv_vm_disk_read_ops_total counter\n"
		       "# HELP vsrv_vm_disk_write_ops_total Write requests of the guest.\n"
		       "# TYPE vsrv_vm_disk_write_ops_total counter\n"
		       "# HELP vsrv_vm_disk_flush_ops_total Flush (cache synchronise) requests of the guest.\n"
		       "# TYPE vsrv_vm_disk_flush_ops_total counter\n"
		       "# HELP vsrv_vm_disk_discard_ops_total Discard, write-zeroes, UNMAP and WRITE SAME requests.\n"
		       "# TYPE vsrv_vm_disk_discard_ops_total counter\n"
		       "# HELP vsrv_vm_disk_errors_total Disk requests that ended with an error.\n"
		       "# TYPE vsrv_vm_disk_errors_total counter\n"
		       "# HELP vsrv_vm_network_rx_bytes_total Bytes of frames delivered to the guest.\n"
		       "# TYPE vsrv_vm_network_rx_bytes_total counter\n"
		       "# HELP vsrv_vm_network_tx_bytes_total Bytes of frames the guest sent.\n"
		       "# TYPE vsrv_vm_network_tx_bytes_total counter\n"
		       "# HELP vsrv_vm_network_rx_packets_total Frames delivered to the guest.\n"
		       "# TYPE vsrv_vm_network_rx_packets_total counter\n"
		       "# HELP vsrv_vm_network_tx_packets_total Frames the guest sent.\n"
		       "# TYPE vsrv_vm_network_tx_packets_total counter\n"
		       "# HELP vsrv_vm_network_drops_total Frames dropped either way (no guest buffers, "
		       "bad frames, a full backend).\n"
		       "# TYPE vsrv_vm_network_drops_total counter\n"
		       "# HELP vsrv_vm_vcpu_exits_total KVM exits of the VM's vCPUs (since its last boot).\n"
		       "# TYPE vsrv_vm_vcpu_exits_total counter\n"
		       "# HELP vsrv_vm_vcpu_seconds_total CPU time of the VM's vCPU threads (since its last boot).\n"
		       "# TYPE vsrv_vm_vcpu_seconds_total counter\n");
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *state = (const char *)sqlite3_column_text(st, 3);
		pid_t pid = vmm_pid(srv, id, sqlite3_column_int(st, 2));
		struct usage u;

		for (int i = 0; i < 5; i++)
			if (!strcmp(state, states[i]))
				counts[i]++;
		if (pid <= 0 || usage_of(pid, &u))
			continue;
		metrics_printf(buf, len, cap,
			       "vsrv_vm_cpu_seconds_total{vm=\"%s\"} %.2f\n"
			       "vsrv_vm_memory_bytes{vm=\"%s\"} %llu\n",
			       name, u.cpu_seconds, name, (unsigned long long)u.rss);
		{
			json_t *vs = NULL;

			if (!vmctl_stats(srv, id, pid, &vs))
				metrics_printf(buf, len, cap,
					       "vsrv_vm_vcpu_exits_total{vm=\"%s\"} %lld\n"
					       "vsrv_vm_vcpu_seconds_total{vm=\"%s\"} %.3f\n", name,
					       (long long)json_integer_value(json_object_get(vs, "exits")),
					       name, json_real_value(json_object_get(vs, "vcpu_seconds")));
			if (vs)
				devices_metrics(name, vs, buf, len, cap);
			json_decref(vs);
		}
	}
	db_done(st);
	metrics_printf(buf, len, cap, "# HELP vsrv_vms VMs in the inventory, by state.\n"
		       "# TYPE vsrv_vms gauge\n");
	for (int i = 0; i < 5; i++)
		metrics_printf(buf, len, cap, "vsrv_vms{state=\"%s\"} %lld\n", states[i],
			       (long long)counts[i]);
	return *buf ? 0 : -ENOMEM;
}
