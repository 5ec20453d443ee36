"""Cluster mode on a real local etcd cluster of three members (etcd_cluster.py; see
t-server-cluster.sh and docs/cluster.md): hosts register with a lease and are listed by
GET /api/v1/hosts and `vsrv hosts`; a duplicate host name is refused; one etcd member
killed changes nothing; a VM's ownership key held by another host refuses its start with
409 (the claim is taken before the VMM is launched, so this runs without KVM); the lease
watchdog of a host cut off from etcd fences it before its lease can expire (timing
checked against the cluster's own view of the host's keys). Running VMs need /dev/kvm."""
import json, os, re, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
from etcd_cluster import EtcdCluster, Proxy, Unavailable

TTL = 8                              # --cluster-ttl of hosts a and b
FIRE = TTL * 1000 - max(1000, TTL * 300)   # their watchdog fires this many ms after a renewal
WTTL = 4                             # host w, whose watchdog fires (no etcd election there)
WFIRE = WTTL * 1000 - max(1000, WTTL * 300)
VSRV_BIN = os.path.join(ROOT, "build", "vsrv")

tmp = tempfile.mkdtemp(prefix="vsrv-cluster.")
daemons = []


def daemon(name, endpoints, ttl=TTL, start=True):
    # each host keeps its own inventory (SQLite): what is tested here is the hosts' leases
    # and the ownership keys, which are the same with the shared inventory (inv_etcd.py)
    d = Daemon(os.path.join(tmp, name), extra=["--cluster", endpoints, "--host-name", name,
                                               "--cluster-ttl", str(ttl), "--inventory", "sqlite"])
    daemons.append(d)
    return d.start() if start else d


def cli(d, *args):
    p = subprocess.run([VSRV_BIN] + list(args), capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, VSRV_SERVER="http://127.0.0.1:%d" % d.port,
                                VSRV_TOKEN=d.login("admin", "adminpass1")))
    return p.returncode, p.stdout + p.stderr


def hosts_of(d, tok):
    st, js = d.req("GET", "/api/v1/hosts", token=tok)
    return st, js, {h["name"]: h for h in (js or {}).get("hosts", [])} if st == 200 else {}


try:
    # --- alone: the host itself ------------------------------------------------------------
    solo = Daemon(os.path.join(tmp, "solo")).start()
    daemons.append(solo)
    tok = solo.login("admin", "adminpass1")
    st, js, hs = hosts_of(solo, tok)
    ok("hosts-alone-lists-this-host", st == 200 and len(hs) == 1 and js["cluster"] is None and
       list(hs.values())[0]["alive"] and list(hs.values())[0]["this"], str((st, js)))
    st, js = solo.req("GET", "/api/v1/hosts")
    ok("hosts-needs-login", st == 401, str((st, js)))
    solo.stop()

    # --- a VM's monitor enforces the watchdog's deadline itself (no KVM: it runs sleep) ---
    mdir = os.path.join(tmp, "mon")
    os.makedirs(mdir)
    dl = os.path.join(tmp, "deadline")
    boot_ms = lambda: int(time.clock_gettime(time.CLOCK_BOOTTIME) * 1000)

    def push(ms):
        with open(dl + ".tmp", "w") as f:
            f.write("%d\n" % (boot_ms() + ms))
        os.rename(dl + ".tmp", dl)

    # without the link (a single host): no deadline, the VMM runs on (read below; it runs
    # meanwhile)
    os.makedirs(mdir + "2")
    mon2 = subprocess.Popen([VSRV_BIN, "monitor", mdir + "2", "--", "/bin/sleep", "1.5"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    push(1000)
    os.symlink(dl, os.path.join(mdir, "lease.deadline"))
    mon = subprocess.Popen([VSRV_BIN, "monitor", mdir, "--", "/bin/sleep", "60"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(8):                      # 2.4 s of renewals, each 1 s ahead
        time.sleep(0.3)
        push(1000)
    ok("monitor-runs-while-deadline-pushed", mon.poll() is None)
    t0 = time.time()
    try:
        mon.wait(5)
    except subprocess.TimeoutExpired:
        mon.kill()
    took = time.time() - t0
    ex = open(os.path.join(mdir, "exit")).read() if os.path.exists(os.path.join(mdir, "exit")) else ""
    # killed after its deadline (1 s after the last push), and within the smallest margin
    # (1 s) after it: before a lease could expire
    ok("monitor-kills-vmm-at-deadline", ex.strip() == "signal 9" and 0.5 <= took <= 2.0,
       "exit %r after %.2f s: %s" % (ex, took, mon.stderr.read().decode()[-300:]))
    mon2.wait(10)
    ex = open(os.path.join(mdir + "2", "exit")).read()
    ok("monitor-without-link-no-deadline", ex.strip() == "exited 0", ex)

    # --- a cluster that cannot be joined: a clear error, at once -----------------------------
    for name, ep, why in (("bad-url", "ftp://127.0.0.1:1", "Invalid argument"),
                          ("no-etcd", "http://127.0.0.1:%d" % free_port(), "Connection refused")):
        d = daemon(name, ep, start=False)
        t0 = time.time()
        d.start(wait=False)
        rc = d.proc.wait(20)
        d.proc = None
        ok("cluster-join-fails-" + name, rc == 1 and "cannot join the cluster" in log_of(d) and
           why in log_of(d) and time.time() - t0 < 10, "rc %s: %s" % (rc, log_of(d)[-300:]))

    try:
        etcd = EtcdCluster(3).start()
    except Unavailable as e:
        skip("cluster", str(e))
        sys.exit(0)

    # --- two hosts register and see each other ---------------------------------------------
    a = daemon("a", etcd.endpoints)
    b = daemon("b", etcd.endpoints)
    ta, tb = a.login("admin", "adminpass1"), b.login("admin", "adminpass1")
    st, js, hs = hosts_of(a, ta)
    ok("hosts-both-registered", st == 200 and set(hs) == {"a", "b"} and
       all(h["alive"] for h in hs.values()), str((st, js)))
    ok("hosts-fields", st == 200 and hs["a"]["this"] and not hs["b"]["this"] and
       hs["b"]["api_url"] == "http://127.0.0.1:%d" % b.port and hs["b"]["address"] == "127.0.0.1"
       and hs["a"]["cpus"] >= 1 and
       hs["a"]["memory_mib"] > 0 and "free_memory_mib" in hs["a"] and
       js["cluster"]["lease_ttl_ms"] == TTL * 1000 and js["cluster"]["watchdog_ms"] == FIRE,
       str(js))
    dfile = os.path.join(a.data, "cluster.deadline")
    a1 = int(open(dfile).read())
    d1 = a1 - int(time.clock_gettime(time.CLOCK_BOOTTIME) * 1000)
    time.sleep(TTL / 3.0 + 0.5)
    a2 = int(open(dfile).read())
    d2 = a2 - int(time.clock_gettime(time.CLOCK_BOOTTIME) * 1000)
    ok("deadline-file-pushed-by-renewals", 0 < d1 <= FIRE and 0 < d2 <= FIRE and a2 > a1,
       "%d then %d ms ahead" % (d1, d2))
    alive = etcd.get("/vsrv/hosts/a/alive")
    ok("host-key-bound-to-a-lease", alive is not None and alive[1] != 0, str(alive))
    rc, out = cli(b, "hosts")
    ok("cli-hosts-table", rc == 0 and re.search(r"^NAME\s+ALIVE", out, re.M) and
       re.search(r"^a\s+yes", out, re.M) and re.search(r"^b\s+yes", out, re.M), out)
    rc, out = cli(b, "hosts", "--json")
    ok("cli-hosts-json", rc == 0 and {h["name"] for h in json.loads(out)["hosts"]} == {"a", "b"},
       out)

    # --- leases are renewed; etcd's leader killed changes nothing --------------------------
    # (the hosts' renewals fail during the election and are retried every 250 ms)
    lead = etcd.leader()
    ok("etcd-leader-known", lead is not None)
    etcd.kill(lead if lead is not None else 0)
    time.sleep(TTL + 2)
    st, js, hs = hosts_of(b, tb)
    ok("one-etcd-member-killed-hosts-alive", st == 200 and hs.get("a", {}).get("alive") and
       hs.get("b", {}).get("alive"), str((st, js)))
    ok("no-fence-while-renewed", "cluster: watchdog:" not in log_of(a) and
       "cluster: watchdog:" not in log_of(b),
       log_of(a)[-300:])

    # --- a VM's ownership key ---------------------------------------------------------------
    shutil.copy(os.path.join(GUESTS, "console.elf"), os.path.join(a.data, "images", "k.elf"))
    shutil.copy(os.path.join(GUESTS, "console.elf"), os.path.join(b.data, "images", "k.elf"))
    for d, t in ((a, ta), (b, tb)):
        st, js = d.req("POST", "/api/v1/vms", {"name": "v1", "kernel": "k.elf"}, token=t)
        ok("vm-created-on-" + os.path.basename(d.data), st == 201, str((st, js)))
    # host "b" holds v1 (its claim, bound to a lease as a host's would be)
    other = etcd.grant(60)
    etcd.put("/vsrv/vms/v1/owner", json.dumps({"host": "b", "lease": "%x" % other}), lease=other)
    st, js = a.req("POST", "/api/v1/vms/v1/start", token=ta)
    ok("vm-owned-elsewhere-start-409", st == 409 and "runs on host b" in js["error"]["message"],
       str((st, js)))
    st, js = a.req("GET", "/api/v1/vms/v1/status", token=ta)
    ok("vm-owned-elsewhere-not-started", st == 200 and js["state"] == "stopped", str((st, js)))
    ok("vm-owned-elsewhere-no-vmm", "vm-starting" not in json.dumps(
        a.req("GET", "/api/v1/events?limit=1000", token=ta)[1]), "a vm-starting event")
    st, js, hs = hosts_of(a, ta)
    ok("hosts-list-owned-vms", st == 200 and hs["b"]["vms"] == ["v1"] and hs["a"]["vms"] == [],
       str(js))
    # where a VM runs: on either host, the VM list, its status and the VM name the host
    # holding its ownership key (b)
    def host_of_vm(d, t, vm):
        st, js = d.req("GET", "/api/v1/vms", token=t)
        listed = {v["name"]: v["host"] for v in (js or {}).get("vms", [])}.get(vm, "?")
        return (listed, d.req("GET", "/api/v1/vms/%s/status" % vm, token=t)[1].get("host", "?"),
                d.req("GET", "/api/v1/vms/%s" % vm, token=t)[1].get("host", "?"))
    for d, t in ((a, ta), (b, tb)):
        got = host_of_vm(d, t, "v1")
        ok("vm-host-names-owner-on-" + os.path.basename(d.data), got == ("b", "b", "b"), str(got))
    rc, out = cli(a, "vm", "list")
    ok("cli-vm-list-host-column", rc == 0 and re.search(r"^NAME\s+STATE\s+HOST", out, re.M) and
       re.search(r"^v1\s+\S+\s+b\s", out, re.M), out)
    # the holder's lease ends (its host died): the key goes, a can claim it
    rev = etcd.revision()
    etcd.revoke(other)
    # (the VM list's cache does not outlive a claim's end)
    got = host_of_vm(a, ta, "v1")
    ok("vm-host-null-once-owner-gone", got == (None, None, None), str(got))
    st, js = a.req("POST", "/api/v1/vms/v1/start", token=ta)
    ok("vm-start-after-owner-gone-accepted", st == 202, str((st, js)))
    hist = []
    if have_kvm():
        a.wait_state(ta, "v1", ["running"], 10)
        st, js = b.req("POST", "/api/v1/vms/v1/start", token=tb)
        ok("vm-running-on-a-refused-on-b", st == 409 and "runs on host a" in
           js["error"]["message"], str((st, js)))
        a.req("POST", "/api/v1/vms/v1/off", token=ta)
        a.wait_state(ta, "v1", ["stopped", "crashed"], 10)
        time.sleep(0.5)
    else:
        skip("vm-running-on-a-refused-on-b", "no usable /dev/kvm: v1 cannot run on a")
        a.wait_state(ta, "v1", ["stopped", "crashed"], 10)
    wait_for(lambda: etcd.get("/vsrv/vms/v1/owner") is None, 5)
    hist = etcd.history("/vsrv/vms/v1/owner", rev + 1)
    puts = [json.loads(v)["host"] for t, v in hist if t == "PUT"]
    ok("vm-claim-by-a-then-released", puts[:1] == ["a"] and hist[-1][0] == "DELETE" and
       etcd.get("/vsrv/vms/v1/owner") is None, str(hist))
    # the claim is bound to a's lease
    st, js = b.req("POST", "/api/v1/vms/v1/start", token=tb)
    ok("vm-start-on-b-after-release-accepted", st == 202, str((st, js)))
    b.wait_state(tb, "v1", ["stopped", "crashed", "running"], 10)

    # --- a daemon killed and restarted within its TTL takes its lease up again -------------
    lease_a = etcd.get("/vsrv/hosts/a/alive")[1]
    a.stop(9)
    a.start()
    ta = a.login("admin", "adminpass1")
    now_a = etcd.get("/vsrv/hosts/a/alive")
    ok("host-restart-within-ttl-keeps-lease", now_a is not None and now_a[1] == lease_a and
       "takes its lease" in log_of(a), "%s vs %x" % (now_a, lease_a))

    # the same name twice: refused once the live one's lease is seen not to expire (about
    # TTL + 2 s: its result is read after the watchdog's part, which goes on meanwhile)
    dup = daemon("a", etcd.endpoints, start=False)
    dup.data = os.path.join(tmp, "a2")
    dup.start(wait=False)

    # --- the watchdog: host w loses etcd (its link is cut), the cluster does not -----------
    live = [i for i in range(etcd.n) if etcd.procs[i]]
    prox = Proxy(etcd.cports[live[0]])
    w = daemon("w", prox.endpoint, ttl=WTTL)
    tw = w.login("admin", "adminpass1")
    lease_w = etcd.get("/vsrv/hosts/w/alive")[1]
    shutil.copy(os.path.join(GUESTS, "console.elf"), os.path.join(w.data, "images", "k.elf"))
    st, js = w.req("POST", "/api/v1/vms", {"name": "f0", "kernel": "k.elf", "memory_mib": 32},
                   token=tw)
    if have_kvm():
        w.req("POST", "/api/v1/vms/f0/start", token=tw)
        ok("watchdog-vm-running-before-cut", w.wait_state(tw, "f0", ["running"], 10) is not None)
    time.sleep(WTTL / 3.0 + 0.5)            # a renewal or two through the proxy
    prox.cut()
    t_cut = time.time()
    t_fence = t_gone = None
    end = t_cut + WTTL + 10
    while time.time() < end and (t_fence is None or t_gone is None):
        if t_fence is None and "cluster: watchdog:" in log_of(w):
            t_fence = time.time()
        if t_gone is None and etcd.get("/vsrv/hosts/w/alive") is None:
            t_gone = time.time()
        time.sleep(0.02)
    print("# cut at 0; fenced at %s s; lease gone (seen by the cluster) at %s s"
          % (t_fence and round(t_fence - t_cut, 3), t_gone and round(t_gone - t_cut, 3)), flush=True)
    m = re.search(r"not renewed ([0-9.]+) s after its last renewal was sent", log_of(w))
    ok("watchdog-fired", t_fence is not None and m is not None, log_of(w)[-600:])
    ok("watchdog-before-lease-expiry", t_fence is not None and t_gone is not None and
       t_fence < t_gone, "fence %s, gone %s" % (t_fence, t_gone))
    # it fires at T - M after the last renewal's send, not before, and before T (the
    # earliest the lease can expire); the last renewal was sent before the cut
    ok("watchdog-fires-at-ttl-minus-margin", m is not None and
       WFIRE / 1000.0 <= float(m.group(1)) < WTTL, m and m.group(0))
    ok("watchdog-timing-from-cut", t_fence is not None and t_fence - t_cut < WTTL,
       "fenced %.3f s after the cut" % ((t_fence or 0) - t_cut))
    ok("lease-expiry-after-ttl", t_gone is not None and t_gone - t_cut >= WFIRE / 1000.0,
       "gone %.3f s after the cut" % ((t_gone or 0) - t_cut))
    st, js = w.req("GET", "/api/v1/events?limit=1000", token=tw)
    ok("watchdog-event-host-fenced", st == 200 and any(e["type"] == "host-fenced" for e in
                                                        js["events"]), str(js)[:400])
    st, js = w.req("GET", "/api/v1/hosts", token=tw)
    ok("hosts-without-etcd-503", st == 503 and "etcd" in js["error"]["message"], str((st, js)))
    st, js = w.req("POST", "/api/v1/vms/f0/start", token=tw)
    ok("fenced-host-refuses-starts", st == 503 and "fenced" in js["error"]["message"], str((st, js)))
    prox.mend()
    ok("fenced-host-registers-again", wait_for(lambda: etcd.get("/vsrv/hosts/w/alive") is not None
                                               and etcd.get("/vsrv/hosts/w/alive")[1] != lease_w,
                                               WTTL + 10) is not None, log_of(w)[-400:])
    if have_kvm():
        st, js = w.req("GET", "/api/v1/vms/f0/status", token=tw)
        # the daemon's watchdog and the VM's monitor (its deadline file) fire together:
        # either may be the one that killed it
        ok("watchdog-stops-running-vms", st == 200 and js["state"] in ("stopped", "crashed")
           and "cluster: watchdog: fenced:" in log_of(w), str((st, js)))
    else:
        skip("watchdog-stops-running-vms", "no usable /dev/kvm: no VM can run on w")
    w.stop()
    prox.stop()
    rc = dup.proc.wait(TTL + 15)
    ok("host-name-taken-refused", rc != 0 and "choose another --host-name" in log_of(dup),
       "rc %s: %s" % (rc, log_of(dup)[-400:]))
    dup.proc = None
    st, js, hs = hosts_of(b, tb)
    ok("hosts-stopped-host-not-alive", st == 200 and "w" in hs and not hs["w"]["alive"] and
       hs["a"]["alive"], str(js))

    # --- quorum lost: the hosts cannot renew, they fence -----------------------------------
    etcd.kill([i for i in range(etcd.n) if etcd.procs[i]][0])
    t0 = time.time()
    ok("quorum-lost-hosts-fence", wait_for(lambda: "cluster: watchdog:" in log_of(a) and
                                           "cluster: watchdog:" in log_of(b), TTL + 5) is not None,
       log_of(a)[-300:])
    # The last leader still renews leases until it sees it has lost its quorum (etcd's
    # check-quorum: an election timeout, 1 s by default), and the last renewal may be a
    # renewal period old: the fence comes FIRE after that last renewal.
    took = time.time() - t0
    ok("quorum-lost-fence-in-time", took < TTL + 2.0, "%.3f s" % took)
    m = re.findall(r"not renewed ([0-9.]+) s after its last renewal was sent", log_of(a))
    ok("quorum-lost-fence-at-ttl-minus-margin", m and FIRE / 1000.0 <= float(m[-1]) < TTL,
       str(m))
finally:
    # etcd first: a host that cannot reach it ends at once (with a member or two left
    # without a quorum, each call to revoke its lease would wait for its timeout)
    for c in list(EtcdCluster._all):
        c.stop()
    for d in daemons:                       # all told to end first: they end at the same time
        try:
            if d.proc and d.proc.poll() is None:
                d.proc.terminate()
        except Exception as e:
            print("# stop:", e)
    for d in daemons:
        try:
            d.stop()
        except Exception as e:
            print("# stop:", e)
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
