"""Live migration between two hosts of a cluster on a shared etcd inventory (docs/cluster.md
"Live migration"; run by t-server-migrate.sh): POST /api/v1/vms/NAME/migrate on the host that
runs the VM, the destination's /incoming endpoints, the hand-over of the ownership key.

Without /dev/kvm no guest runs, so what is proven here is the refusals and the failure path:
a VM is *laid out* as running on host a (its status row "running" and its ownership key bound
to a's lease, written into etcd by this test, as inv_etcd.py does; no VMM runs), and its
migration to b fails (b's VMM cannot run it; or, when b's VMM listened before it died, a's
own VMM is not there): the task fails, the event vm-migrate-failed says why, and the VM's
status, ownership key and placement are exactly as before, with no VMM of it left on b.
Host c runs in a mount namespace where a's disks directory is c's own (another machine's file
system at the same paths): with disks "copy" it makes the empty image a missing disk needs.
The CLI (`vsrv vm migrate`) is driven too. With /dev/kvm: a counting guest moves from a to b
(the same kernel file: shared storage), keeps counting on b, its status names b and its
ownership key is b's; one with a disk moves from a to c with disks "copy"."""
import hashlib, json, os, re, shutil, signal, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
from etcd_cluster import EtcdCluster, Unavailable, b64, stop_hosts

KERNEL = os.path.join(GUESTS, "console.elf")
tmp = tempfile.mkdtemp(prefix="vsrv-migrate.")
daemons = []


def host(name, endpoints, prefix, mem=2048, vmm=()):
    d = Daemon(os.path.join(tmp, name), extra=[
        "--cluster", endpoints, "--inventory", "etcd", "--inventory-prefix", prefix,
        "--host-name", name, "--cluster-ttl", "10", "--host-memory", str(mem)] + list(vmm))
    daemons.append(d)
    return d.start()


def ns_host(name, endpoints, prefix, own, at):
    """A host whose daemon (and so its VMs) runs in a mount namespace where directory at is
    its own directory own, as another machine's file system at the same path. None when
    this machine cannot make one (not root, no unshare)."""
    os.makedirs(own, exist_ok=True)
    wrap = os.path.join(tmp, "vsrv-ns-" + name)
    with open(wrap, "w") as f:
        f.write("#!/bin/sh\nexec unshare -m --propagation private sh -c "
                "'mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\"' sh '%s' '%s' '%s' \"$@\"\n"
                % (own, at, VSRV))
    os.chmod(wrap, 0o755)
    probe = subprocess.run([wrap, "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        print("# no mount namespace: %s" % (probe.stderr.strip()[-200:]), flush=True)
        return None
    import lib
    real = lib.VSRV
    lib.VSRV = wrap
    try:
        return host(name, endpoints, prefix, vmm=["--vmm", real])
    finally:
        lib.VSRV = real


def procs_naming(path):
    """pids whose command line names path (a host's data directory: its monitors, VMMs)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read().decode(errors="replace")
        except OSError:
            continue
        if path + "/" in cmd.replace("\0", " ") and " serve " not in cmd.replace("\0", " "):
            out.append(int(pid))
    return out


try:
    try:
        etcd = EtcdCluster(1).start()
    except Unavailable as e:
        skip("migrate", str(e))
        sys.exit(0)
    prefix = "/vsrv-migrate/%d/" % os.getpid()
    a = host("a", etcd.endpoints, prefix)
    # b's VMMs go through a shim that records their command lines (lib.vmm_shim)
    os.makedirs(os.path.join(tmp, "shim-b"))
    shim_b, argvs_b = vmm_shim(os.path.join(tmp, "shim-b"))
    b = host("b", etcd.endpoints, prefix, vmm=["--vmm", shim_b])
    ta, tb = a.login("admin", "adminpass1"), b.login("admin", "adminpass1")
    # The .../incoming endpoints take a cluster host's own credential only (cluster_peer.c):
    # this test registers a host of its own, "tpeer", in etcd as a host does (its info key
    # with the SHA-256 of its token, its alive key on a lease), and calls them as tpeer.
    peer_tok = os.urandom(32).hex()
    etcd.put("/vsrv/hosts/tpeer/info", json.dumps({
        "name": "tpeer", "api_url": "http://127.0.0.1:%d" % free_port(),
        "peer_key": hashlib.sha256(peer_tok.encode()).hexdigest()}))
    peer_lease = etcd.grant(300)
    etcd.put("/vsrv/hosts/tpeer/alive", json.dumps({"lease": "%x" % peer_lease}), lease=peer_lease)
    PEER = {"Authorization": "VsrvHost tpeer " + peer_tok, "X-Vsrv-By": "admin"}

    # --- not a cluster: 409 ----------------------------------------------------------------
    solo = Daemon(os.path.join(tmp, "solo"))
    daemons.append(solo)
    solo.start()
    ts = solo.login("admin", "adminpass1")
    st, js = solo.req("POST", "/api/v1/vms", {"name": "s1", "kernel": KERNEL, "memory_mib": 64},
                      token=ts)
    st, js = solo.req("POST", "/api/v1/vms/s1/migrate", {"to": "b"}, token=ts)
    ok("not-cluster-409", st == 409 and "cluster" in err_message(js), str((st, js)))
    st, js = solo.req("POST", "/api/v1/vms/s1/incoming", {"from": "a"}, headers=PEER)
    ok("not-cluster-incoming-401", st == 401, str((st, js)))
    solo.stop()

    st, js = a.req("POST", "/api/v1/vms", {"name": "vm1", "kernel": KERNEL, "memory_mib": 64},
                   token=ta)
    ok("created", st == 201, str((st, js)))
    # --- the VM is off: 409 -----------------------------------------------------------------
    st, js = a.req("POST", "/api/v1/vms/vm1/migrate", {"to": "b"}, token=ta)
    ok("not-running-409", st == 409 and "running" in err_message(js), str((st, js)))
    st, js = a.req("POST", "/api/v1/vms/nosuch/migrate", {"to": "b"}, token=ta)
    ok("unknown-vm-404", st == 404, str((st, js)))

    # --- vm1 laid out as running on a (no VMM: see above) -----------------------------------
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
    st, js = b.req("GET", "/api/v1/vms/vm1/status", token=tb)
    ok("laid-out-runs-on-a", st == 200 and js["state"] == "running" and js["host"] == "a",
       str((st, js)))

    # --- refusals ---------------------------------------------------------------------------
    st, js = a.req("POST", "/api/v1/vms/vm1/migrate", {"to": "a"}, token=ta)
    ok("to-itself-400", st == 400 and "already" in err_message(js), str((st, js)))
    st, js = a.req("POST", "/api/v1/vms/vm1/migrate", {"to": "nosuch"}, token=ta)
    ok("unknown-host-400", st == 400 and "no host nosuch" in err_message(js), str((st, js)))
    # a host that registered once and is gone: its info stays, its alive key went
    etcd.put("/vsrv/hosts/gone/info", json.dumps({"name": "gone", "api_url":
                                                  "http://127.0.0.1:%d" % free_port()}))
    st, js = a.req("POST", "/api/v1/vms/vm1/migrate", {"to": "gone"}, token=ta)
    ok("dead-host-409", st == 409 and "not alive" in err_message(js), str((st, js)))
    for bad in ({}, {"to": "b", "disks": "maybe"}, {"to": "b", "x": 1},
                {"to": "b", "max_downtime_ms": -1}, {"to": 5}):
        st, js = a.req("POST", "/api/v1/vms/vm1/migrate", bad, token=ta)
        ok("bad-body-400-%s" % "-".join(sorted(bad)) if bad else "bad-body-400-empty", st == 400,
           str((bad, st, js)))
    # asked of b, where it does not run: refused naming a
    st, js = b.req("POST", "/api/v1/vms/vm1/migrate", {"to": "a"}, token=tb)
    ok("wrong-host-409-names-owner", st == 409 and "runs on host a" in err_message(js),
       str((st, js)))
    # the destination's endpoints: not on the host that holds it; no commit without the key
    st, js = a.req("POST", "/api/v1/vms/vm1/incoming", {"from": "b"}, headers=PEER)
    ok("incoming-on-owner-409", st == 409 and "this host" in err_message(js), str((st, js)))
    st, js = b.req("POST", "/api/v1/vms/vm1/incoming/commit", headers=PEER)
    ok("commit-without-key-409", st == 409 and "not this host" in err_message(js), str((st, js)))
    st, js = b.req("DELETE", "/api/v1/vms/vm1/incoming", headers=PEER)
    ok("abort-nothing-404", st == 404, str((st, js)))
    # ... and only with a live host's own credential: a user's token, even an
    # administrator's, is refused; so are a wrong token, a host that is not registered, and
    # the credential anywhere else
    st, js = b.req("POST", "/api/v1/vms/vm1/incoming", {"from": "a"}, token=tb)
    ok("incoming-user-token-403", st == 403 and "only the cluster's hosts" in err_message(js),
       str((st, js)))
    st, js = b.req("POST", "/api/v1/vms/vm1/incoming/commit", token=tb)
    ok("commit-user-token-403", st == 403, str((st, js)))
    for why, cred in (("wrong-token", "VsrvHost tpeer " + "0" * 64),
                      ("other-hosts-name", "VsrvHost a " + peer_tok),
                      ("unknown-host", "VsrvHost nosuch " + peer_tok),
                      ("malformed", "VsrvHost tpeer"), ("malformed-long", "VsrvHost " + "x" * 5000)):
        st, js = b.req("POST", "/api/v1/vms/vm1/incoming", {"from": "a"},
                       headers={"Authorization": cred})
        ok("incoming-credential-%s-401" % why, st == 401, str((st, js)))
    st, js = b.req("GET", "/api/v1/vms", headers=PEER)
    ok("credential-not-for-other-endpoints-401", st == 401, str((st, js)))
    info_a = json.loads(etcd.get("/vsrv/hosts/a/info")[0])
    st, js = b.req("GET", "/api/v1/hosts", token=tb)
    ok("host-key-published-not-shown", re.fullmatch(r"[0-9a-f]{64}", info_a.get("peer_key", ""))
       and st == 200 and "peer_key" not in json.dumps(js) and
       info_a["peer_key"] != json.loads(etcd.get("/vsrv/hosts/b/info")[0]).get("peer_key"),
       str((info_a, js)))
    rc, out = cli(a, ta, "vm", "migrate", "vm1")
    ok("cli-migrate-needs-to", rc != 0 and "--to" in out, out)
    rc, out = cli(a, ta, "vm", "migrate", "vm1", "--to", "a")
    ok("cli-migrate-to-itself", rc != 0 and "already" in out, out)
    # a user with view only may not migrate
    st, js = a.req("POST", "/api/v1/users", {"name": "viewer", "password": "Viewer-pass1"},
                   token=ta)
    a.req("PUT", "/api/v1/vms/vm1/permissions", {"grants": [
        {"user": "viewer", "permissions": ["view"]}]}, token=ta)
    tv = a.login("viewer", "Viewer-pass1")
    st, js = a.req("POST", "/api/v1/vms/vm1/migrate", {"to": "b"}, token=tv)
    ok("view-only-403", st == 403, str((st, js)))

    # --- the migration fails: the VM stays a's, untouched ---------------------------------------
    if have_kvm():
        skip("laid-out-migration-fails", "a usable /dev/kvm: b's VMM would wait for the source")
    else:
        st, js = a.req("POST", "/api/v1/vms/vm1/migrate", {"to": "b"}, token=ta)
        ok("migrate-202-task", st == 202 and isinstance(js.get("task"), int) and
           js["to"] == "b" and js["from"] == "a" and js["disks"] == "shared", str((st, js)))
        t = task_wait(a, ta, js["task"]) if st == 202 else None
        ok("task-failed", t is not None and t["state"] == "failed" and t["kind"] == "vm-migrate"
           and t["error"], str(t))
        ev = wait_for(lambda: events_of(b, tb, "vm-migrate-failed"), 20, 0.2) or []
        print("# vm-migrate-failed: %s" % [e["data"]["reason"] for e in ev], flush=True)
        ok("event-vm-migrate-failed", len(ev) == 1 and ev[0]["object"] == "vm1" and
           ev[0]["data"]["from"] == "a" and ev[0]["data"]["to"] == "b" and
           ev[0]["data"]["reason"], str(ev))
        after = {k: etcd.get(k) for k in before}
        ok("status-owner-placement-unchanged", after == before, "%s\n%s" % (before, after))
        st, js = b.req("GET", "/api/v1/vms/vm1/status", token=tb)
        ok("still-runs-on-a", st == 200 and js["state"] == "running" and js["host"] == "a",
           str((st, js)))
        ok("no-vmm-left-on-b", wait_for(lambda: not procs_naming(b.data), 10) is not None,
           str(procs_naming(b.data)))
        ok("no-migrated-event", not events_of(a, ta, "vm-migrated"), str(events_of(a, ta, "vm-migrated")))
        # b started the VM's VMM from the shared inventory's row, listening for the migration
        runs = argvs_b()
        inc = [x[x.index("--incoming") + 1] for x in runs if "--incoming" in x]
        ok("b-vmm-incoming-argv", len(runs) == 1 and len(inc) == 1 and
           re.match(r"tcp:127\.0\.0\.1:\d+$", inc[0]) and KERNEL in runs[0] and
           "--control" in runs[0], str(runs))
        # the CLI: the same task, waited for; its failure is the exit status and the reason
        rc, out = cli(a, ta, "vm", "migrate", "vm1", "--to", "b")
        ok("cli-migrate-fails-clearly", rc == 1 and "migrating to host b" in out and
           "failed" in out and after == {k: etcd.get(k) for k in before}, out)
        ok("no-vmm-left-on-b-after-cli", wait_for(lambda: not procs_naming(b.data), 10)
           is not None, str(procs_naming(b.data)))
        # the destination's preparation on its own: its VMM cannot run the VM here (no KVM);
        # answered 503 when that shows before it listens, else 200 and the VMM is gone soon
        # after: either way nothing of it stays and the status is not b's to write
        ended0 = log_of(b).count("the incoming migration's VMM ended")
        st, js = b.req("POST", "/api/v1/vms/vm1/incoming", {"from": "a"}, headers=PEER)
        ok("incoming-no-kvm", (st == 503 and "ended before listening" in err_message(js)) or
           (st == 200 and js["address"].startswith("tcp:127.0.0.1:")), str((st, js)))
        ok("incoming-no-kvm-nothing-left", wait_for(lambda: not procs_naming(b.data), 10)
           is not None, str(procs_naming(b.data)))
        ok("incoming-no-kvm-status-unchanged", etcd.get(st_key) == before[st_key],
           str(etcd.get(st_key)))
        # b's supervisor saw that VMM end by itself (not recorded as the VM's exit)
        ok("incoming-no-kvm-end-seen", wait_for(lambda: log_of(b).count(
            "the incoming migration's VMM ended") > ended0, 10) is not None, log_of(b)[-600:])
        st, js = b.req("DELETE", "/api/v1/vms/vm1/incoming", headers=PEER)
        ok("incoming-gone-404", st == 404, str((st, js)))

    # --- disks copy: host c sees its own file system at a's disk paths ----------------------
    # (c runs in a mount namespace where a's disks directory is c's own empty directory, as a
    # second machine would; vm2 is laid out as running on a like vm1)
    c = ns_host("c", etcd.endpoints, prefix, os.path.join(tmp, "c-disks"),
                os.path.join(a.data, "disks"))
    if c is None:
        skip("copy-dest-image-made", "cannot make a mount namespace here (unshare -m, root)")
    else:
        tc = c.login("admin", "adminpass1")
        st, js = a.req("POST", "/api/v1/disks", {"name": "cd1", "size": 64 << 20,
                                                 "format": "vhd"}, token=ta)
        size = js.get("size") if st == 201 else None
        dpath = os.path.join(a.data, "disks", "cd1.vhd")
        cpath = os.path.join(tmp, "c-disks", "cd1.vhd")
        st2, js2 = a.req("POST", "/api/v1/vms", {"name": "vm2", "kernel": KERNEL,
                                                 "memory_mib": 64, "disks": [{"disk": "cd1"}]},
                         token=ta)
        ok("copy-vm-created", st == 201 and st2 == 201, str((st, js, st2, js2)))
        vid2 = int(etcd.get(prefix + "u/vms.name/vm2")[0])
        k2 = prefix + "t/vm_status/%020d" % vid2
        st2 = json.loads(etcd.get(k2)[0])
        st2.update({"state": "running", "monitor_pid": 999998})
        etcd.put(k2, json.dumps(st2))
        etcd.put("/vsrv/vms/vm2/owner", json.dumps({"host": "a", "lease": "%x" % lease_a}),
                 lease=lease_a)
        a_before = open(dpath, "rb").read()
        st, js = c.req("POST", "/api/v1/vms/vm2/incoming", {"from": "a", "disks": "copy"},
                       headers=PEER)
        info = subprocess.run([VSRV, "img", "info", "--output", "json", cpath],
                              capture_output=True, text=True)
        try:
            vsize = json.loads(info.stdout).get("virtual-size")
        except ValueError:
            vsize = None
        ok("copy-dest-image-made", st in (200, 503) and vsize == size and
           "made 1 empty image" in log_of(c) and open(dpath, "rb").read() == a_before,
           "%s %s %s" % ((st, js), info.stdout[-300:] + info.stderr[-300:], size))
        wait_for(lambda: not procs_naming(c.data), 10)
        c.req("DELETE", "/api/v1/vms/vm2/incoming", headers=PEER)
        # an image that is there is left alone (the VMM checks it)
        m0 = os.path.getmtime(cpath)
        st, js = c.req("POST", "/api/v1/vms/vm2/incoming", {"from": "a", "disks": "copy"},
                       headers=PEER)
        ok("copy-dest-image-kept", st in (200, 503) and os.path.getmtime(cpath) == m0 and
           log_of(c).count("made 1 empty image") == 1, str((st, js)))
        wait_for(lambda: not procs_naming(c.data), 10)
        c.req("DELETE", "/api/v1/vms/vm2/incoming", headers=PEER)
        etcd.call("/v3/kv/deleterange", {"key": b64("/vsrv/vms/vm2/owner")})  # laid out no more
        st2["state"] = "stopped"
        st2["monitor_pid"] = 0
        etcd.put(k2, json.dumps(st2))

    # a host whose lease is gone calls no one: its credential dies with it
    etcd.revoke(peer_lease)
    st, js = b.req("DELETE", "/api/v1/vms/vm1/incoming", headers=PEER)
    ok("incoming-dead-host-credential-401", st == 401, str((st, js)))

    # --- with KVM: a counting guest moves from a to b ---------------------------------------
    if not have_kvm():
        skip("kvm-migrate-shared", "no usable /dev/kvm")
    else:
        st, js = a.req("POST", "/api/v1/vms", {"name": "cnt", "kernel": os.path.join(
            GUESTS, "savecount.elf"), "memory_mib": 64, "cmdline": "steps=100000"}, token=ta)
        a.req("POST", "/api/v1/vms/cnt/start", {"host": "a"}, token=ta)
        ok("kvm-runs-on-a", a.wait_state(ta, "cnt", ["running"], 30) is not None)

        ok("kvm-counts-on-a", wait_for(lambda: len(console_steps(a, ta, "cnt")) >= 20, 60) is not None)
        st, js = a.req("POST", "/api/v1/vms/cnt/migrate", {"to": "b"}, token=ta)
        t = task_wait(a, ta, js["task"], 120) if st == 202 else None
        ok("kvm-task-done", t is not None and t["state"] == "done", str((st, js, t)))
        last_a = max(console_steps(a, ta, "cnt") or [0])
        ok("kvm-status-host-b", b.wait_state(tb, "cnt", ["running"], 10) is not None and
           b.req("GET", "/api/v1/vms/cnt/status", token=tb)[1]["host"] == "b")
        ok("kvm-owner-is-b", json.loads(etcd.get("/vsrv/vms/cnt/owner")[0])["host"] == "b" and
           etcd.get("/vsrv/vms/cnt/owner")[1] == etcd.get("/vsrv/hosts/b/alive")[1])
        ok("kvm-placement-b", json.loads(etcd.get("/vsrv/vms/cnt/placement")[0])["host"] == "b")
        ok("kvm-counts-on-b", wait_for(lambda: [s for s in console_steps(b, tb, "cnt") if s > last_a], 60)
           is not None, str(console_steps(b, tb, "cnt")[-5:]))
        ev = events_of(a, ta, "vm-migrated")
        ok("kvm-event-vm-migrated", len(ev) == 1 and ev[0]["data"]["from"] == "a" and
           ev[0]["data"]["to"] == "b", str(ev))
        ok("kvm-no-crash-on-a", not events_of(a, ta, "vm-crashed"), str(events_of(a, ta, "vm-crashed")))
        ok("kvm-no-vmm-left-on-a", wait_for(lambda: not procs_naming(a.data), 10) is not None)
        b.req("POST", "/api/v1/vms/cnt/off", token=tb)
    # disks copy: a counting guest with a disk moves to c, whose image of the disk c makes
    # and the copy fills
    if not have_kvm() or c is None:
        skip("kvm-migrate-copy-disks", "no usable /dev/kvm" if not have_kvm() else
             "no mount namespace for c")
    else:
        st, js = a.req("POST", "/api/v1/disks", {"name": "cd2", "size": 16 << 20,
                                                 "format": "vhd"}, token=ta)
        st, js = a.req("POST", "/api/v1/vms", {"name": "cnt2", "kernel": os.path.join(
            GUESTS, "savecount.elf"), "memory_mib": 64, "cmdline": "steps=100000",
            "disks": [{"disk": "cd2"}]}, token=ta)
        a.req("POST", "/api/v1/vms/cnt2/start", {"host": "a"}, token=ta)
        ok("kvm-copy-runs-on-a", a.wait_state(ta, "cnt2", ["running"], 30) is not None)
        st, js = a.req("POST", "/api/v1/vms/cnt2/migrate", {"to": "c", "disks": "copy"},
                       token=ta)
        t = task_wait(a, ta, js["task"], 120) if st == 202 else None
        ok("kvm-copy-task-done", t is not None and t["state"] == "done", str((st, js, t)))
        ok("kvm-copy-status-host-c", c.wait_state(tc, "cnt2", ["running"], 10) is not None and
           c.req("GET", "/api/v1/vms/cnt2/status", token=tc)[1]["host"] == "c")
        ok("kvm-copy-image-on-c", os.path.exists(os.path.join(tmp, "c-disks", "cd2.vhd")))

        ok("kvm-copy-counts-on-c", wait_for(lambda: len(console_steps(c, tc, "cnt2")) >= 3, 60) is not None)
        c.req("POST", "/api/v1/vms/cnt2/off", token=tc)
finally:
    stop_hosts(daemons, tmp)
sys.exit(1 if fails else 0)
