"""A host's drain (docs/cluster.md "Drain"; run by t-server-migrate.sh): POST
/api/v1/hosts/NAME/drain marks the host draining (its alive key; GET /api/v1/hosts shows it;
placement and failover choose it no more) and live-migrates each VM it runs to the host the
placement rule picks among the others, as the task host-drain; DELETE clears the mark. The
mark is kept in etcd (/vsrv/hosts/NAME/draining): b's daemon restarted comes back draining,
and after DELETE a restart leaves it undrained.

Without /dev/kvm no guest runs: vm1 is *laid out* as running on host a (as migrate.py does:
its status row "running" and its ownership key bound to a's lease, no VMM), and a's drain
fails naming vm1 and why, leaving its status, ownership key and placement as they were and a
still marked draining. Placement is shown through a start without a host: b has more free
memory, so a start asked of a is sent to b, and while b is draining one asked of b is sent to
a. With /dev/kvm: a counting guest drained from a to b keeps counting there."""
import json, os, re, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
from etcd_cluster import EtcdCluster, Unavailable, stop_hosts

KERNEL = os.path.join(GUESTS, "console.elf")
tmp = tempfile.mkdtemp(prefix="vsrv-drain.")
daemons = []


def host(name, endpoints, prefix, mem):
    d = Daemon(os.path.join(tmp, name), extra=[
        "--cluster", endpoints, "--inventory", "etcd", "--inventory-prefix", prefix,
        "--host-name", name, "--cluster-ttl", "10", "--host-memory", str(mem)])
    daemons.append(d)
    return d.start()


def draining(d, tok):
    st, js = d.req("GET", "/api/v1/hosts", token=tok)
    return {h["name"]: h.get("draining") for h in js["hosts"] if h.get("alive")} \
        if st == 200 else None


try:
    try:
        etcd = EtcdCluster(1).start()
    except Unavailable as e:
        skip("drain", str(e))
        sys.exit(0)
    prefix = "/vsrv-drain/%d/" % os.getpid()
    a = host("a", etcd.endpoints, prefix, 2048)
    b = host("b", etcd.endpoints, prefix, 4096)
    ta, tb = a.login("admin", "adminpass1"), b.login("admin", "adminpass1")

    # --- not a cluster: 409 ----------------------------------------------------------------
    solo = Daemon(os.path.join(tmp, "solo"))
    daemons.append(solo)
    solo.start()
    ts = solo.login("admin", "adminpass1")
    st, js = solo.req("POST", "/api/v1/hosts/solo/drain", token=ts)
    ok("not-cluster-409", st == 409 and "cluster" in err_message(js), str((st, js)))
    solo.stop()

    # --- refusals ---------------------------------------------------------------------------
    st, js = a.req("POST", "/api/v1/users", {"name": "plain", "password": "Plain-pass1"},
                   token=ta)
    tp = a.login("plain", "Plain-pass1")
    st, js = a.req("POST", "/api/v1/hosts/a/drain", token=tp)
    ok("non-admin-403", st == 403, str((st, js)))
    st, js = a.req("DELETE", "/api/v1/hosts/b/drain", token=tp)
    ok("non-admin-undrain-403", st == 403, str((st, js)))
    st, js = a.req("POST", "/api/v1/hosts/nosuch/drain", token=ta)
    ok("unknown-host-404", st == 404 and "no host nosuch" in err_message(js), str((st, js)))
    st, js = a.req("POST", "/api/v1/hosts/a/drain", {"disks": "maybe"}, token=ta)
    ok("bad-body-400", st == 400, str((st, js)))
    ok("not-draining-at-first", draining(a, ta) == {"a": False, "b": False},
       str(draining(a, ta)))

    # --- placement: b has the most free memory, so a start without a host goes there ---------
    st, js = a.req("POST", "/api/v1/vms", {"name": "p1", "kernel": KERNEL, "memory_mib": 64},
                   token=ta)
    ok("p1-created", st == 201, str((st, js)))
    a.req("POST", "/api/v1/vms/p1/start", token=ta)
    ok("start-placed-on-b", "vm p1: start sent to host b" in log_of(a), log_of(a)[-800:])
    a.wait_state(ta, "p1", ["stopped", "crashed"], 20)

    # --- a drain of a host that runs nothing: sent on to b, done at once --------------------
    st, js = a.req("POST", "/api/v1/hosts/b/drain", token=ta)
    ok("drain-b-202", st == 202 and js.get("host") == "b" and js.get("draining") is True and
       isinstance(js.get("task"), int), str((st, js)))
    t = task_wait(b, tb, js["task"]) if st == 202 else None
    ok("drain-empty-done", t is not None and t["state"] == "done" and t["kind"] == "host-drain"
       and t["object"] == "b", str(t))
    ok("drain-events", len(events_of(a, ta, "host-drain-started")) == 1 and
       len(events_of(a, ta, "host-drain-done")) == 1, str(events_of(a, ta, "host-drain-done")))
    ok("hosts-shows-draining", draining(a, ta) == {"a": False, "b": True}, str(draining(a, ta)))
    # the mark is kept in etcd (no lease): b's daemon restarted comes back draining
    ok("drain-mark-key", etcd.get("/vsrv/hosts/b/draining") is not None)
    b.stop()
    ok("dead-host-still-marked", (lambda h: h.get("b", {}).get("alive") is False and
                                  h["b"].get("draining") is True)(
        {x["name"]: x for x in a.req("GET", "/api/v1/hosts", token=ta)[1]["hosts"]}))
    b.start()
    ok("restarted-host-still-draining", draining(a, ta) == {"a": False, "b": True},
       str(draining(a, ta)))
    st, js = b.req("POST", "/api/v1/vms/p1/start", token=tb)
    ok("start-skips-draining-host", "vm p1: start sent to host a" in log_of(b),
       str((st, js)) + log_of(b)[-800:])
    a.wait_state(ta, "p1", ["stopped", "crashed"], 20)
    st, js = a.req("DELETE", "/api/v1/hosts/b/drain", token=ta)
    ok("undrain-200", st == 200 and js.get("draining") is False, str((st, js)))
    ok("undrain-clears", draining(a, ta) == {"a": False, "b": False}, str(draining(a, ta)))
    ok("undrain-deletes-mark-key", etcd.get("/vsrv/hosts/b/draining") is None)
    b.stop()
    b.start()
    ok("restarted-after-undrain-not-draining", draining(a, ta) == {"a": False, "b": False},
       str(draining(a, ta)))

    # --- vm1 laid out as running on a (no VMM): its drain fails, the VM stays a's ------------
    st, js = a.req("POST", "/api/v1/vms", {"name": "vm1", "kernel": KERNEL, "memory_mib": 64},
                   token=ta)
    vid = int(etcd.get(prefix + "u/vms.name/vm1")[0])
    st_key = prefix + "t/vm_status/%020d" % vid
    status = json.loads(etcd.get(st_key)[0])
    status.update({"state": "running", "monitor_pid": 999999})
    etcd.put(st_key, json.dumps(status))
    lease_a = etcd.get("/vsrv/hosts/a/alive")[1]
    etcd.put("/vsrv/vms/vm1/owner", json.dumps({"host": "a", "lease": "%x" % lease_a}),
             lease=lease_a)
    etcd.put("/vsrv/vms/vm1/placement", json.dumps({
        "host": "a", "lease": "%x" % lease_a, "intent": "running", "since": int(time.time()),
        "inventory": prefix}))
    before = {k: etcd.get(k) for k in (st_key, "/vsrv/vms/vm1/owner", "/vsrv/vms/vm1/placement")}
    if have_kvm():
        skip("laid-out-drain-fails", "a usable /dev/kvm: b's VMM would wait for the source")
    else:
        st, js = b.req("POST", "/api/v1/hosts/a/drain", token=tb)
        ok("drain-a-202", st == 202 and js.get("host") == "a", str((st, js)))
        t = task_wait(a, ta, js["task"], 120) if st == 202 else None
        ok("drain-fails-naming-vm", t is not None and t["state"] == "failed" and
           re.search(r'"vm":"vm1","reason":"[^"]+', t["error"] or ""), str(t))
        print("# drain error: %s" % (t or {}).get("error"), flush=True)
        ev = events_of(a, ta, "host-drain-failed")
        ok("event-host-drain-failed", len(ev) == 1 and ev[0]["object"] == "a" and
           ev[0]["data"]["failed"][0]["vm"] == "vm1" and ev[0]["data"]["failed"][0]["reason"],
           str(ev))
        ok("migration-tried-to-b", len(events_of(a, ta, "vm-migrate-failed")) == 1 and
           events_of(a, ta, "vm-migrate-failed")[0]["data"]["to"] == "b",
           str(events_of(a, ta, "vm-migrate-failed")))
        after = {k: etcd.get(k) for k in before}
        ok("status-owner-placement-unchanged", after == before, "%s\n%s" % (before, after))
        ok("still-marked-draining", draining(a, ta) == {"a": True, "b": False},
           str(draining(a, ta)))
        st, js = a.req("POST", "/api/v1/hosts/a/drain", token=ta)
        ok("drain-again-202", st == 202, str((st, js)))
        task_wait(a, ta, js["task"], 120) if st == 202 else None
    # the CLI
    rc, out = cli(b, tb, "hosts", "undrain", "a")
    ok("cli-undrain", rc == 0 and "not draining" in out and
       draining(a, ta) == {"a": False, "b": False}, out)
    rc, out = cli(a, ta, "hosts", "drain", "b")
    ok("cli-drain-empty", rc == 0 and "drained" in out and draining(a, ta)["b"] is True, out)
    rc, out = cli(a, ta, "hosts")
    ok("cli-hosts-draining-column", rc == 0 and "DRAINING" in out and
       re.search(r"^b .* yes +0 +yes$", out, re.M) is not None, out)
    rc, out = cli(a, ta, "hosts", "undrain", "b")
    ok("cli-undrain-b", rc == 0 and draining(a, ta)["b"] is False, out)
    etcd.call("/v3/kv/deleterange", {"key": __import__("etcd_cluster").b64(
        "/vsrv/vms/vm1/owner")})
    status.update({"state": "stopped", "monitor_pid": 0})
    etcd.put(st_key, json.dumps(status))

    # --- with KVM: a counting guest drained from a to b keeps counting -----------------------
    if not have_kvm():
        skip("kvm-drain", "no usable /dev/kvm")
    else:
        st, js = a.req("POST", "/api/v1/vms", {"name": "cnt", "kernel": os.path.join(
            GUESTS, "savecount.elf"), "memory_mib": 64, "cmdline": "steps=100000"}, token=ta)
        a.req("POST", "/api/v1/vms/cnt/start", {"host": "a"}, token=ta)
        ok("kvm-runs-on-a", a.wait_state(ta, "cnt", ["running"], 30) is not None)

        ok("kvm-counts-on-a", wait_for(lambda: len(console_steps(a, ta, "cnt")) >= 20, 60) is not None)
        st, js = a.req("POST", "/api/v1/hosts/a/drain", token=ta)
        t = task_wait(a, ta, js["task"], 180) if st == 202 else None
        ok("kvm-drain-done", t is not None and t["state"] == "done" and t["progress"] == 1,
           str((st, js, t)))
        last_a = max(console_steps(a, ta, "cnt") or [0])
        ok("kvm-status-host-b", b.req("GET", "/api/v1/vms/cnt/status", token=tb)[1]
           .get("host") == "b")
        ok("kvm-counts-on-b", wait_for(lambda: [s for s in console_steps(b, tb, "cnt") if s > last_a], 60)
           is not None, str(console_steps(b, tb, "cnt")[-5:]))
        b.req("POST", "/api/v1/vms/cnt/off", token=tb)
        a.req("DELETE", "/api/v1/hosts/a/drain", token=ta)
finally:
    stop_hosts(daemons, tmp)
sys.exit(1 if fails else 0)
