#!/usr/bin/env python3
"""Cluster figures (issue 17), `make bench-cluster`:

1. API latency in cluster mode (the inventory in a 3-member etcd: `vsrv serve --cluster ...
   --inventory etcd`) beside single-host mode (SQLite), the same requests on the same
   machine in one run: a VM's status, a page of the VM list, a VM's edit (PATCH), a VM's
   create and delete. p50 and p99 of sequential requests over one keep-alive connection.
2. The etcd traffic of an idle cluster of 3 hosts x 100 VMs: bytes and requests the etcd
   members received over a quiet minute (their own /metrics, summed), per host and per
   second. Peers' messages between the members (raft) are counted apart.

Without /dev/kvm the VMs exist but do not run (their ownership keys, which a running VM
adds, are idle keys: they cost nothing while idle); the line says so."""
import atexit, http.client, json, os, re, shutil, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "server"))
import lib  # noqa: E402
from lib import Daemon, GUESTS  # noqa: E402
from etcd_cluster import EtcdCluster, Unavailable  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from apitime import pct, timed  # noqa: E402

atexit.unregister(lib._openapi_summary)   # a benchmark, not a test: no PASS lines

N_REQ = int(os.environ.get("BENCH_CLUSTER_REQ", "400"))
N_VMS = int(os.environ.get("BENCH_CLUSTER_VMS", "100"))
IDLE_S = int(os.environ.get("BENCH_CLUSTER_IDLE", "60"))


def latencies(d, tok):
    """name -> list of seconds, for the same requests on daemon d."""
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    res = {}
    for i in range(20):
        timed(c, tok, "POST", "/api/v1/vms", {"name": "lat%02d" % i, "kernel": "k.elf"},
              want=(201,))
    res["GET status"] = [timed(c, tok, "GET", "/api/v1/vms/lat%02d/status" % (i % 20))
                         for i in range(N_REQ)]
    res["GET list (page)"] = [timed(c, tok, "GET", "/api/v1/vms?limit=20")
                              for _ in range(N_REQ)]
    res["PATCH"] = [timed(c, tok, "PATCH", "/api/v1/vms/lat%02d" % (i % 20),
                          {"description": "edit %d" % i}) for i in range(N_REQ)]
    n = max(N_REQ // 4, 20)
    res["POST create"] = [timed(c, tok, "POST", "/api/v1/vms",
                                {"name": "new%04d" % i, "kernel": "k.elf"}, want=(201,))
                          for i in range(n)]
    res["DELETE"] = [timed(c, tok, "DELETE", "/api/v1/vms/new%04d" % i, want=(200, 204))
                     for i in range(n)]
    c.close()
    return res


def etcd_counters(cluster):
    """Summed over the members: bytes received from clients, client requests handled
    (gRPC, which the JSON gateway calls), bytes received from peers."""
    tot = {"client_bytes": 0.0, "client_sent": 0.0, "client_requests": 0.0, "peer_bytes": 0.0}
    for i in range(cluster.n):
        with urllib.request.urlopen(cluster.endpoint(i) + "/metrics", timeout=10) as r:
            text = r.read().decode()
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            m = re.match(r"(\w+)(\{[^}]*\})?\s+([0-9.e+-]+)$", line)
            if not m:
                continue
            name, val = m.group(1), float(m.group(3))
            if name == "etcd_network_client_grpc_received_bytes_total":
                tot["client_bytes"] += val
            elif name == "etcd_network_client_grpc_sent_bytes_total":
                tot["client_sent"] += val
            elif name == "grpc_server_handled_total":
                tot["client_requests"] += val
            elif name == "etcd_network_peer_received_bytes_total":
                tot["peer_bytes"] += val
    return tot


def host(tmp, etcd, name, extra=()):
    data = os.path.join(tmp, name)
    os.makedirs(os.path.join(data, "images"))
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(data, "images", "k.elf"))
    args = list(extra)
    if etcd:
        args += ["--cluster", etcd.endpoints, "--host-name", name, "--inventory", "etcd",
                 "--inventory-prefix", "/bench/"]
    return Daemon(data, extra=args).start()


def main():
    try:
        etcd = EtcdCluster(3).start()
    except Unavailable as e:
        print("bench-cluster: skipped: %s" % e)
        return 0
    if not os.path.exists(os.path.join(GUESTS, "hello.elf")):
        print("bench-cluster: skipped: build/guests/hello.elf is not built (make all)")
        return 0
    tmp = tempfile.mkdtemp(prefix="vsrv-bench-cluster.")
    daemons = []
    try:
        alone = host(tmp, None, "alone")
        daemons.append(alone)
        hosts = [host(tmp, etcd, "h%d" % i) for i in range(3)]
        daemons += hosts
        kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
        print("cluster bench: %d cores, load average %s; etcd %d members, 3 hosts"
              % (os.cpu_count(), open("/proc/loadavg").read().split()[0], etcd.n))
        print("\n1. API latency, %d sequential requests each (ms); single host = SQLite"
              % N_REQ)
        a = latencies(alone, alone.login("admin", "adminpass1"))
        c = latencies(hosts[0], hosts[0].login("admin", "adminpass1"))
        print("%-16s %9s %9s %9s %9s %7s" % ("request", "alone p50", "etcd p50", "alone p99",
                                              "etcd p99", "p50 x"))
        for k in a:
            a50, c50 = pct(a[k], 50) * 1e3, pct(c[k], 50) * 1e3
            a99, c99 = pct(a[k], 99) * 1e3, pct(c[k], 99) * 1e3
            print("%-16s %9.2f %9.2f %9.2f %9.2f %6.1fx" % (k, a50, c50, a99, c99, c50 / a50))

        print("\n2. idle etcd traffic, 3 hosts x %d VMs%s" % (
            N_VMS, "" if kvm else " (no /dev/kvm here: the VMs exist, stopped)"))
        for h in hosts:
            tok = h.login("admin", "adminpass1")
            conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
            for i in range(N_VMS):
                timed(conn, tok, "POST", "/api/v1/vms",
                      {"name": "%s-vm%03d" % (h.data[-2:], i), "kernel": "k.elf",
                       "memory_mib": 16}, want=(201,))
                if kvm:
                    timed(conn, tok, "POST", "/api/v1/vms/%s-vm%03d/start" % (h.data[-2:], i),
                          want=(200, 202))
            conn.close()
        time.sleep(5)   # let the creates' traffic end
        before = etcd_counters(etcd)
        t0 = time.monotonic()
        time.sleep(IDLE_S)
        after = etcd_counters(etcd)
        dt = time.monotonic() - t0
        d = {k: after[k] - before[k] for k in before}
        print("over %.0f s: clients sent %.0f bytes in %.0f requests and received %.0f bytes: "
              "%.0f B/s in, %.0f B/s out, %.2f req/s (per host %.2f req/s); between the "
              "members %.0f B/s"
              % (dt, d["client_bytes"], d["client_requests"], d["client_sent"],
                 d["client_bytes"] / dt, d["client_sent"] / dt, d["client_requests"] / dt,
                 d["client_requests"] / dt / 3, d["peer_bytes"] / dt))
    finally:
        for d in daemons:
            d.stop()
        etcd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
