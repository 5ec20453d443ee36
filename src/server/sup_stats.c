/* Usage of running VMs read from /proc (CPU, memory, I/O), host capacity. */
#include "server/sup.h"
#include "server/cgroup.h"
#include "server/metrics.h"
#include "server/vmctl.h"

#include <dirent.h>
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
	uint64_t read_bytes, write_bytes, syscr, syscw;
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
	snprintf(p, sizeof(p), "/proc/%d/io", (int)pid);
	if (!slurp(p, b, sizeof(b))) {
		if ((s = strstr(b, "syscr:")))
			u->syscr = strtoull(s + 6, NULL, 10);
		if ((s = strstr(b, "syscw:")))
			u->syscw = strtoull(s + 6, NULL, 10);
		if ((s = strstr(b, "read_bytes:")))
			u->read_bytes = strtoull(s + 11, NULL, 10);
		if ((s = strstr(b, "\nwrite_bytes:")))
			u->write_bytes = strtoull(s + 13, NULL, 10);
	}
	return 0;
}

/* The VMM's TAP interfaces (its /dev/net/tun fds: fdinfo names the interface) and their
 * host counters. NAT NICs (libslirp inside the VMM) have no host interface: the virtio
 * devices keep no counters of their own, so those NICs are not counted. */
struct tapio {
	char ifname[16];
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;  /* the guest's view */
};

static uint64_t ifstat(const char *ifn, const char *what)
{
	char p[128], b[32];

	snprintf(p, sizeof(p), "/sys/class/net/%s/statistics/%s", ifn, what);
	return slurp(p, b, sizeof(b)) ? 0 : strtoull(b, NULL, 10);
}

static int taps_of(pid_t pid, struct tapio *t, int max)
{
	char p[64], l[64], b[512], *s;
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	d = opendir(p);
	if (!d)
		return 0;
	while (n < max && (de = readdir(d))) {
		char fp[300];
		ssize_t r;

		snprintf(fp, sizeof(fp), "/proc/%d/fd/%s", (int)pid, de->d_name);
		r = readlink(fp, l, sizeof(l) - 1);
		if (r <= 0)
			continue;
		l[r] = '\0';
		if (strcmp(l, "/dev/net/tun"))
			continue;
		snprintf(fp, sizeof(fp), "/proc/%d/fdinfo/%s", (int)pid, de->d_name);
		if (slurp(fp, b, sizeof(b)) || !(s = strstr(b, "iff:")))
			continue;
		s += 4;
		s += strspn(s, " \t");
		snprintf(t[n].ifname, sizeof(t[n].ifname), "%.*s", (int)strcspn(s, "\n"), s);
		/* The TAP's transmit is the guest's receive. */
		t[n].rx_bytes = ifstat(t[n].ifname, "tx_bytes");
		t[n].tx_bytes = ifstat(t[n].ifname, "rx_bytes");
		t[n].rx_packets = ifstat(t[n].ifname, "tx_packets");
		t[n].tx_packets = ifstat(t[n].ifname, "rx_packets");
		n++;
	}
	closedir(d);
	return n;
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
	json_object_set_new(obj, "disk_read_bytes", json_integer(u.read_bytes));
	json_object_set_new(obj, "disk_write_bytes", json_integer(u.write_bytes));
	{
		struct tapio t[8];
		int nt = taps_of(pid, t, 8);
		json_t *a = json_array();

		for (int i = 0; i < nt; i++)
			json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:I,s:I}", "interface", t[i].ifname,
							   "rx_bytes", (json_int_t)t[i].rx_bytes,
							   "tx_bytes", (json_int_t)t[i].tx_bytes,
							   "rx_packets", (json_int_t)t[i].rx_packets,
							   "tx_packets", (json_int_t)t[i].tx_packets));
		json_object_set_new(obj, "network", a);
	}
	/* The VMM's own view, through its control socket (absent for a VMM without one). */
	{
		json_t *st = NULL;

		if (!vmctl_stats(srv, id, pid, &st)) {
			json_object_set(obj, "vcpu_exits", json_object_get(st, "exits"));
			json_object_set(obj, "vcpu_seconds", json_object_get(st, "vcpu_seconds"));
			json_object_set(obj, "vcpus", json_object_get(st, "vcpu"));
			json_object_set(obj, "vmm_state", json_object_get(st, "state"));
			json_object_set(obj, "boots", json_object_get(st, "boots"));
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
		       "# HELP vsrv_vm_disk_bytes_total Bytes the VMM read from and wrote to storage.\n"
		       "# TYPE vsrv_vm_disk_bytes_total counter\n"
		       "# HELP vsrv_vm_disk_operations_total Read and write system calls of the VMM.\n"
		       "# TYPE vsrv_vm_disk_operations_total counter\n"
		       "# HELP vsrv_vm_network_bytes_total Bytes through the VM's TAP NICs, as the guest "
		       "sees them (NAT NICs are not counted).\n"
		       "# TYPE vsrv_vm_network_bytes_total counter\n"
		       "# HELP vsrv_vm_network_packets_total Frames through the VM's TAP NICs, as the guest "
		       "sees them (NAT NICs are not counted).\n"
		       "# TYPE vsrv_vm_network_packets_total counter\n"
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
			       "vsrv_vm_memory_bytes{vm=\"%s\"} %llu\n"
			       "vsrv_vm_disk_bytes_total{vm=\"%s\",direction=\"read\"} %llu\n"
			       "vsrv_vm_disk_bytes_total{vm=\"%s\",direction=\"write\"} %llu\n"
			       "vsrv_vm_disk_operations_total{vm=\"%s\",direction=\"read\"} %llu\n"
			       "vsrv_vm_disk_operations_total{vm=\"%s\",direction=\"write\"} %llu\n",
			       name, u.cpu_seconds, name, (unsigned long long)u.rss,
			       name, (unsigned long long)u.read_bytes, name,
			       (unsigned long long)u.write_bytes, name, (unsigned long long)u.syscr,
			       name, (unsigned long long)u.syscw);
		{
			struct tapio t[8];
			int nt = taps_of(pid, t, 8);

			for (int i = 0; i < nt; i++)
				metrics_printf(buf, len, cap,
					       "vsrv_vm_network_bytes_total{vm=\"%s\",interface=\"%s\",direction=\"rx\"} %llu\n"
					       "vsrv_vm_network_bytes_total{vm=\"%s\",interface=\"%s\",direction=\"tx\"} %llu\n"
					       "vsrv_vm_network_packets_total{vm=\"%s\",interface=\"%s\",direction=\"rx\"} %llu\n"
					       "vsrv_vm_network_packets_total{vm=\"%s\",interface=\"%s\",direction=\"tx\"} %llu\n",
					       name, t[i].ifname, (unsigned long long)t[i].rx_bytes,
					       name, t[i].ifname, (unsigned long long)t[i].tx_bytes,
					       name, t[i].ifname, (unsigned long long)t[i].rx_packets,
					       name, t[i].ifname, (unsigned long long)t[i].tx_packets);
		}
		{
			json_t *vs = NULL;

			if (!vmctl_stats(srv, id, pid, &vs))
				metrics_printf(buf, len, cap,
					       "vsrv_vm_vcpu_exits_total{vm=\"%s\"} %lld\n"
					       "vsrv_vm_vcpu_seconds_total{vm=\"%s\"} %.3f\n", name,
					       (long long)json_integer_value(json_object_get(vs, "exits")),
					       name, json_real_value(json_object_get(vs, "vcpu_seconds")));
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
