"""Placement by more than memory and balance on request (docs/cluster.md "Placement" and
"Balance"; run by t-server-migrate.sh). Three hosts on one shared inventory in etcd:

- a: 4096 MiB, 8 CPUs; b: 8192 MiB, 2 CPUs (--host-cpus); c: 10240 MiB, 8 CPUs, in a mount
  namespace where /sys/class/net is an empty directory (no bridge at all) and a's disks
  directory is an empty one of c's own (another machine's file system at the same path).
  The test makes a real Linux bridge BR, which a and b see.
- Each host publishes its CPUs, bridges and the disks it cannot reach in its alive key
  (GET /api/v1/hosts shows them). A start without a host goes to the host the rule picks:
  a VM with 4 vCPUs skips b (2 CPUs), one with 4 vCPUs and a disk in a's directory also
  skips c (the disk is not there), one with a NIC on BR also skips c (no bridge BR); one
  that fits nowhere is refused with each host's reasons.
- Balance: VMs are *laid out* as running on a (status rows and ownership keys written by
  the test, no VMM: there is no /dev/kvm here), a's free memory drops, and the dry run's
  plan is the one the rule gives (v1, v2, v3 to c; vu, with undo disks, listed unmovable;
  with c draining, v1 and v2 to b and v3, 4 vCPUs, stays). The real balance, asked of b,
  migrates them one at a time through a's migrate tasks: without KVM each migration fails
  (c's incoming VMM cannot run), the task ends failed naming each VM with its reason, and
  nothing moved (status rows, ownership keys and placements byte for byte as before).
- Failover goes by the same rule: a VM with 4 vCPUs and the disk, placed on a host that is
  gone, is taken by a (b: 2 CPUs; c: no disk), a alone being its choice.
"""
import json, os, re, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
import lib
from etcd_cluster import EtcdCluster, Unavailable, b64

KERNEL = os.path.join(GUESTS, "console.elf")
TTL = 6
tmp = tempfile.mkdtemp(prefix="vsrv-balance.")
daemons = []
BR = "vsb%d" % (os.getpid() % 100000)


def host(name, endpoints, prefix, mem, cpus, vmm=()):
    d = Daemon(os.path.join(tmp, name), extra=[
        "--cluster", endpoints, "--inventory", "etcd", "--inventory-prefix", prefix,
        "--host-name", name, "--cluster-ttl", str(TTL), "--host-memory", str(mem),
        "--host-cpus", str(cpus)] + list(vmm))
    daemons.append(d)
    return d.start()


def ns_host(name, endpoints, prefix, mem, cpus, binds):
    """A host in a mount namespace where each (own, at) of binds has directory own mounted
    at at. None when this machine cannot make one (not root, no unshare)."""
    script = " && ".join('mount --bind "%s" "%s"' % b for b in binds)
    wrap = os.path.join(tmp, "vsrv-ns-" + name)
    with open(wrap, "w") as f:
        f.write("#!/bin/sh\nexec unshare -m --propagation private sh -c "
                "'%s && exec \"$@\"' sh '%s' \"$@\"\n" % (script, VSRV))
    os.chmod(wrap, 0o755)
    probe = subprocess.run([wrap, "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        print("# no mount namespace: %s" % (probe.stderr.strip()[-200:]), flush=True)
        return None
    real = lib.VSRV
    lib.VSRV = wrap
    try:
        return host(name, endpoints, prefix, mem, cpus, vmm=["--vmm", real])
    finally:
        lib.VSRV = real


def hosts(d, tok):
    st, js = d.req("GET", "/api/v1/hosts", token=tok)
    return {h["name"]: h for h in js["hosts"] if h.get("alive")} if st == 200 else {}


made_bridge = False
try:
    try:
        etcd = EtcdCluster(1).start()
    except Unavailable as e:
        skip("balance", str(e))
        sys.exit(0)
    made_bridge = subprocess.run(["ip", "link", "add", BR, "type", "bridge"],
                                 capture_output=True).returncode == 0
    if not made_bridge:
        print("# cannot make bridge %s (not root?): the bridge checks are skipped" % BR)
    prefix = "/vsrv-balance/%d/" % os.getpid()
    a = host("a", etcd.endpoints, prefix, 4096, 8)
    b = host("b", etcd.endpoints, prefix, 8192, 2)
    os.makedirs(os.path.join(a.data, "disks"), exist_ok=True)
    for dd in ("c-net", "c-disks"):
        os.makedirs(os.path.join(tmp, dd))
    c = ns_host("c", etcd.endpoints, prefix, 10240, 8,
                [(os.path.join(tmp, "c-net"), "/sys/class/net"),
                 (os.path.join(tmp, "c-disks"), os.path.join(a.data, "disks"))])
    ns = c is not None
    if not ns:
        c = host("c", etcd.endpoints, prefix, 10240, 8)
    ta, tb, tc = (d.login("admin", "adminpass1") for d in (a, b, c))

    # --- what each host publishes ---------------------------------------------------------
    hs = hosts(a, ta)
    ok("hosts-publish-cpus", hs["a"].get("cpus") == 8 and hs["b"].get("cpus") == 2 and
       hs["c"].get("cpus") == 8, str(hs))
    if made_bridge:
        ok("hosts-publish-bridges", BR in hs["a"].get("bridges", []) and
           BR in hs["b"].get("bridges", []), str(hs))
    if ns:
        ok("ns-host-has-no-bridge", hs["c"].get("bridges") == [], str(hs["c"]))
    st, js = a.req("POST", "/api/v1/disks", {"name": "d1", "size": 16 << 20, "format": "vhd"},
                   token=ta)
    ok("disk-created", st == 201, str((st, js)))
    did = int(etcd.get(prefix + "u/disks.name/d1")[0])
    if ns:
        # c looks at the inventory's disks again once the inventory changed (within T/3)
        got = wait_for(lambda: did in hosts(a, ta)["c"].get("missing_disks", []), 3 * TTL, 0.2)
        ok("ns-host-publishes-missing-disk", got is not None, str(hosts(a, ta)["c"]))
        ok("others-miss-nothing", hosts(a, ta)["a"].get("missing_disks") == [] and
           hosts(a, ta)["b"].get("missing_disks") == [], str(hosts(a, ta)))
    else:
        skip("ns-host-publishes-missing-disk", "cannot make a mount namespace here")

    def placed(asked, tok, vm, to):
        before = log_of(asked)
        st, js = asked.req("POST", "/api/v1/vms/%s/start" % vm, token=tok)
        line = "vm %s: start sent to host %s" % (vm, to)
        res = line in log_of(asked)[len(before):]
        asked.wait_state(tok, vm, ["stopped", "crashed"], 20)
        return res, (st, js, log_of(asked)[-600:])

    # --- placement: CPUs --------------------------------------------------------------------
    st, js = a.req("POST", "/api/v1/vms", {"name": "cpu4", "kernel": KERNEL, "memory_mib": 64,
                                           "cpus": 4}, token=ta)
    ok("cpu4-created", st == 201, str((st, js)))
    res, why = placed(a, ta, "cpu4", "c")
    ok("start-skips-host-with-too-few-cpus", res, str(why))
    # --- placement: disks -------------------------------------------------------------------
    st, js = a.req("POST", "/api/v1/vms", {"name": "disk4", "kernel": KERNEL, "memory_mib": 64,
                                           "cpus": 4, "disks": [{"disk": "d1"}]}, token=ta)
    ok("disk4-created", st == 201, str((st, js)))
    if ns:
        # b: 2 CPUs; c: the disk is not there; a: runs here (asked of b, sent to a)
        res, why = placed(b, tb, "disk4", "a")
        ok("start-skips-host-without-the-disk", res, str(why))
    # --- placement: bridges -----------------------------------------------------------------
    if made_bridge:
        st, js = a.req("POST", "/api/v1/networks", {"name": "lan", "kind": "bridged",
                                                    "bridge": BR}, token=ta)
        ok("bridged-network-created", st == 201, str((st, js)))
        st, js = a.req("POST", "/api/v1/vms", {"name": "net4", "kernel": KERNEL,
                                               "memory_mib": 64, "cpus": 4,
                                               "nics": [{"network": "lan"}]}, token=ta)
        ok("net4-created", st == 201, str((st, js)))
        if ns:
            res, why = placed(b, tb, "net4", "a")
            ok("start-skips-host-without-the-bridge", res, str(why))
    # --- nowhere: each host's reasons -------------------------------------------------------
    # (without the namespace c is refused by memory)
    nofit_mib = 5000 if ns else 12000
    body = {"name": "nofit", "kernel": KERNEL, "memory_mib": nofit_mib, "cpus": 4,
            "disks": [{"disk": "d1", "readonly": True}]}
    if made_bridge:
        body["nics"] = [{"network": "lan"}]
    st, js = a.req("POST", "/api/v1/vms", body, token=ta)
    ok("nofit-created", st == 201, str((st, js)))
    st, js = a.req("POST", "/api/v1/vms/nofit/start", token=ta)
    msg = err_message(js)
    print("# nofit: %s" % msg, flush=True)
    want = [r"a: \d+ MiB free, the VM needs %d" % nofit_mib, r"b: 2 CPUs, the VM has 4"]
    if ns:
        want.append(r"c: %sdisk d1 not there" % ("no bridge %s, " % BR if made_bridge else ""))
    else:
        want.append(r"c: 10240 MiB free, the VM needs 12000")
    ok("nowhere-409-each-host-why", st == 409 and
       all(re.search(w, msg) for w in want), str((st, js)))

    # --- balance: refusals ------------------------------------------------------------------
    solo = Daemon(os.path.join(tmp, "solo"))
    daemons.append(solo)
    solo.start()
    st, js = solo.req("POST", "/api/v1/cluster/balance", token=solo.login("admin", "adminpass1"))
    ok("balance-not-cluster-409", st == 409 and "cluster" in err_message(js), str((st, js)))
    solo.stop()
    a.req("POST", "/api/v1/users", {"name": "plain", "password": "Plain-pass1"}, token=ta)
    st, js = a.req("POST", "/api/v1/cluster/balance", {"dry_run": True},
                   token=a.login("plain", "Plain-pass1"))
    ok("balance-non-admin-403", st == 403, str((st, js)))
    codes = [a.req("POST", "/api/v1/cluster/balance", bad, token=ta)[0] for bad in (
        {"dry_run": "yes"}, {"disks": "maybe"}, {"x": 1}, [1])]
    ok("balance-bad-body-400", codes == [400] * 4, str(codes))
    st, js = a.req("POST", "/api/v1/cluster/balance", {"dry_run": True}, token=ta)
    ok("balance-nothing-to-do", st == 200 and js["plan"]["moves"] == [] and
       js["dry_run"] is True and "task" not in js, str((st, js)))

    # --- balance: VMs laid out as running on a ----------------------------------------------
    lease_a = etcd.get("/vsrv/hosts/a/alive")[1]
    layout = {"v1": (1024, 1, "off"), "v2": (512, 1, "off"), "v3": (256, 4, "off"),
              "vu": (256, 1, "keep")}
    keys = []
    for name, (mem, cpus, undo) in sorted(layout.items()):
        st, js = a.req("POST", "/api/v1/vms", {"name": name, "kernel": KERNEL, "memory_mib": mem,
                                               "cpus": cpus, "undo_disks": undo}, token=ta)
        ok("laid-out-created-" + name, st == 201, str((st, js)))
        vid = int(etcd.get(prefix + "u/vms.name/%s" % name)[0])
        sk = prefix + "t/vm_status/%020d" % vid
        s = json.loads(etcd.get(sk)[0])
        s.update({"state": "running", "monitor_pid": 999990 + len(keys)})
        etcd.put(sk, json.dumps(s))
        etcd.put("/vsrv/vms/%s/owner" % name, json.dumps({"host": "a", "lease": "%x" % lease_a}),
                 lease=lease_a)
        etcd.put("/vsrv/vms/%s/placement" % name, json.dumps({
            "host": "a", "lease": "%x" % lease_a, "intent": "running",
            "since": int(time.time()), "inventory": prefix}))
        keys += [sk, "/vsrv/vms/%s/owner" % name, "/vsrv/vms/%s/placement" % name]
    # a's admission counts them: its alive key's free memory drops to 4096 - 2048
    got = wait_for(lambda: hosts(a, ta)["a"].get("free_memory_mib") == 2048, 3 * TTL, 0.2)
    ok("laid-out-counted-on-a", got is not None, str(hosts(a, ta).get("a")))

    def plan_of(d, tok):
        st, js = d.req("POST", "/api/v1/cluster/balance", {"dry_run": True}, token=tok)
        return st, js, [(m["vm"], m["from"], m["to"]) for m in
                        (js.get("plan", {}).get("moves", []) if st == 200 else [])]
    st, js, moves = plan_of(b, tb)
    print("# plan: %s" % json.dumps((js or {}).get("plan")), flush=True)
    ok("plan-moves", moves == [("v1", "a", "c"), ("v2", "a", "c"), ("v3", "a", "c")], str(js))
    plan = js.get("plan", {}) if st == 200 else {}
    ok("plan-unmovable-undo", [(u["vm"], u["host"]) for u in plan.get("unmovable", [])] ==
       [("vu", "a")] and "undo" in plan["unmovable"][0]["reason"], str(plan))
    after = {h["name"]: (h["free_memory_mib"], h["after_mib"]) for h in plan.get("hosts", [])}
    ok("plan-hosts-before-after", after == {"a": (2048, 3840), "b": (8192, 8192),
                                            "c": (10240, 8448)}, str(after))
    ok("plan-spread", plan.get("spread_mib") == 8192 and plan.get("spread_after_mib") == 4608,
       str(plan))
    # c draining: never a destination; b has 2 CPUs, so v3 (4 vCPUs) stays
    st, js = a.req("POST", "/api/v1/hosts/c/drain", token=ta)
    task_wait(c, tc, js["task"]) if st == 202 else None
    st, js, moves = plan_of(a, ta)
    ok("plan-skips-draining-host", moves == [("v1", "a", "b"), ("v2", "a", "b")], str(js))
    rc, out = cli(a, ta, "hosts", "balance", "--dry-run")
    ok("cli-balance-dry-run", rc == 0 and re.search(r"^v1 +a +b +1024$", out, re.M) and
       "2 move(s)" in out and "dry run" in out, out)
    a.req("DELETE", "/api/v1/hosts/c/drain", token=ta)

    # --- the balance itself: each migration fails without KVM, nothing moves ---------------
    before = {k: etcd.get(k) for k in keys}
    if have_kvm():
        skip("balance-fails-naming-each-vm", "a usable /dev/kvm: c's VMMs would wait for a's")
    else:
        st, js = b.req("POST", "/api/v1/cluster/balance", token=tb)
        ok("balance-202", st == 202 and isinstance(js.get("task"), int) and
           [m["vm"] for m in js["plan"]["moves"]] == ["v1", "v2", "v3"], str((st, js)))
        t = task_wait(b, tb, js["task"], 180) if st == 202 else None
        print("# balance error: %s" % (t or {}).get("error"), flush=True)
        ok("balance-task-failed", t is not None and t["state"] == "failed" and
           t["kind"] == "cluster-balance" and t["object"] == "cluster", str(t))
        err = (t or {}).get("error") or ""
        ok("balance-names-each-vm", all(re.search(r'"vm":"%s","to":"c","reason":"[^"]+' % v, err)
                                        for v in ("v1", "v2", "v3")), err)
        ev = events_of(b, tb, "cluster-balance-failed")
        ok("event-balance-failed", len(ev) == 1 and [f["vm"] for f in ev[0]["data"]["failed"]]
           == ["v1", "v2", "v3"] and ev[0]["data"]["moved"] == {}, str(ev))
        mf = events_of(a, ta, "vm-migrate-failed")
        ok("migrations-tried-on-a-to-c", sorted(e["object"] for e in mf) == ["v1", "v2", "v3"]
           and all(e["data"]["from"] == "a" and e["data"]["to"] == "c" for e in mf), str(mf))
        ok("nothing-moved", {k: etcd.get(k) for k in keys} == before, "changed")
    # --- failover goes by the same rule ---------------------------------------------------
    # fo4 (4 vCPUs, disk d1, restart policy always) placed on a host z that is gone: b has
    # 2 CPUs, c lacks d1, so a takes it
    if not ns:
        skip("failover-by-the-rule", "cannot make a mount namespace here")
    else:
        st, js = a.req("POST", "/api/v1/vms", {"name": "fo4", "kernel": KERNEL,
                                               "memory_mib": 64, "cpus": 4,
                                               "restart_policy": "always",
                                               "disks": [{"disk": "d1"}]}, token=ta)
        ok("fo4-created", st == 201, str((st, js)))
        rev0 = etcd.revision()
        etcd.put("/vsrv/vms/fo4/placement", json.dumps({
            "host": "z", "lease": "1", "intent": "running", "since": int(time.time()),
            "inventory": prefix}))
        # a alone fits ("choice 1 of 1" of the three alive hosts); b and c may not even see it
        # orphaned before a's claim
        line = "vm fo4 (64 MiB) of host z: this host is choice 1 of 1"
        seen = wait_for(lambda: line in log_of(a), 5 * TTL, 0.2)
        ok("failover-by-the-rule", seen is not None and "vm fo4 was placed on host z, whose "
           "lease is gone: to be restarted on host a" in log_of(a), log_of(a)[-600:])
        hist = etcd.history("/vsrv/vms/fo4/owner", rev0 + 1)
        puts = [json.loads(v)["host"] for t, v in hist if t == "PUT"]
        ok("failover-claimed-by-a-only", puts[:1] == ["a"] and set(puts) == {"a"}, str(hist))
        a.req("POST", "/api/v1/vms/fo4/off", token=ta)
    # the laid-out VMs end as stopped (no daemon is to stop a VMM that never was)
    for name in layout:
        etcd.call("/v3/kv/deleterange", {"key": b64("/vsrv/vms/%s/owner" % name)})
    for k in keys[0::3]:
        s = json.loads(etcd.get(k)[0])
        s.update({"state": "stopped", "monitor_pid": 0})
        etcd.put(k, json.dumps(s))
finally:
    for d in daemons:
        try:
            d.stop()
        except Exception as e:
            print("# stop:", e)
    for cl in list(EtcdCluster._all):
        cl.stop()
    if made_bridge:
        subprocess.run(["ip", "link", "del", BR], capture_output=True)
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
