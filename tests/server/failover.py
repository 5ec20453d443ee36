"""Failover (docs/cluster.md "Failover"; run by t-server-failover.sh): three vsrv hosts on one
shared inventory in etcd (`--cluster EP --inventory etcd`, a short --cluster-ttl). VMs are
started on host a: each start records the VM placed on a and meant to run
(/vsrv/vms/NAME/placement). Then a's daemon and its monitors are killed with -9: once a's
lease has expired, the survivor the rule picks (the most free memory that fits, ties by
name) claims the VM with restart policy `always` (create-if-absent on its ownership key)
and restarts it, with the event vm-failover {from, to}; the other survivor does nothing; a
VM with policy `never`, a VM the user turned off and a VM no survivor has the memory for
stay where they were.

Without /dev/kvm no guest runs: every start fails in its VMM (a's restarts by policy fail
too), but the placements, the decision, the claim and the start attempt on the survivor are
real, and that is what this proves. With /dev/kvm the moved guest is checked to run and
print on the survivor."""
import json, os, re, shutil, signal, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
from etcd_cluster import EtcdCluster, Unavailable, stop_hosts

TTL = 4                                   # --cluster-ttl of the three hosts
SLACK = 3.0                               # scheduling, etcd's expiry check, the start itself
KERNEL = os.path.join(GUESTS, "console.elf")   # one file every host reaches (shared storage)

tmp = tempfile.mkdtemp(prefix="vsrv-failover.")
daemons = []


def host(name, mem, endpoints, prefix, ttl=TTL):
    d = Daemon(os.path.join(tmp, name), extra=[
        "--cluster", endpoints, "--inventory", "etcd", "--inventory-prefix", prefix,
        "--host-name", name, "--cluster-ttl", str(ttl), "--host-memory", str(mem)])
    daemons.append(d)
    return d.start()


def placement(etcd, vm):
    v = etcd.get("/vsrv/vms/%s/placement" % vm)
    return json.loads(v[0]) if v else None


try:
    try:
        etcd = EtcdCluster(1).start()
    except Unavailable as e:
        skip("failover", str(e))
        sys.exit(0)
    prefix = "/vsrv-failover/%d/" % os.getpid()
    # b has the most free memory, c less; a holds what no survivor can
    a = host("a", 8192, etcd.endpoints, prefix)
    b = host("b", 2048, etcd.endpoints, prefix)
    c = host("c", 1024, etcd.endpoints, prefix)
    ta = a.login("admin", "adminpass1")
    tb, tc = b.login("admin", "adminpass1"), c.login("admin", "adminpass1")

    vms = {"va": ("always", 256), "vn": ("never", 64), "vs": ("always", 64),
           "vhuge": ("on-failure", 4096)}
    for name, (policy, mem) in sorted(vms.items()):
        st, js = a.req("POST", "/api/v1/vms", {"name": name, "kernel": KERNEL, "memory_mib": mem,
                                               "restart_policy": policy}, token=ta)
        ok("created-" + name, st == 201, str((st, js)))
    # the inventory is shared: c sees a's VMs
    st, js = c.req("GET", "/api/v1/vms", token=tc)
    ok("shared-inventory", st == 200 and {v["name"] for v in js["vms"]} >= set(vms), str(js))
    for name in sorted(vms):
        st, js = a.req("POST", "/api/v1/vms/%s/start" % name, token=ta)
        ok("started-on-a-" + name, st == 202, str((st, js)))
    placed = {n: placement(etcd, n) for n in vms}
    ok("placement-recorded", all(p and p["host"] == "a" and p["intent"] == "running" and
                                 p["inventory"] == prefix for p in placed.values()), str(placed))
    lease_a = etcd.get("/vsrv/hosts/a/alive")[1]
    ok("placement-names-a-lease", all(int(p["lease"], 16) == lease_a for p in placed.values()),
       "%s vs %x" % (placed, lease_a))
    if have_kvm():
        ok("va-runs-on-a", a.wait_state(ta, "va", ["running"], 10) is not None)
        st, js = c.req("GET", "/api/v1/vms/va/status", token=tc)
        ok("vm-host-read-on-c-names-a", st == 200 and js["host"] == "a", str((st, js)))
    else:
        skip("va-runs-on-a", "no usable /dev/kvm: its VMM fails at once (a restarts it by policy)")
    # the user turns vs off: its intent goes (started or not, it is not to run any more)
    st, js = a.req("POST", "/api/v1/vms/vs/off", token=ta)
    ok("user-off-accepted", st == 202, str((st, js)))
    p = placement(etcd, "vs")
    ok("user-off-clears-intent", p and p["intent"] == "stopped" and p["host"] == "a", str(p))
    # off asked of another host than the one holding the VM's key is refused there
    if have_kvm():
        st, js = c.req("POST", "/api/v1/vms/va/off", token=tc)
        ok("off-elsewhere-409", st == 409 and "runs on host a" in err_message(js), str((st, js)))
        ok("off-elsewhere-keeps-intent", placement(etcd, "va")["intent"] == "running")

    # --- a dies ----------------------------------------------------------------------------
    rev0 = etcd.revision()
    kill_host(a)
    t_kill = time.time()
    t_gone = wait_for(lambda: etcd.get("/vsrv/hosts/a/alive") is None and time.time(), TTL + 3,
                      0.02)
    moved = wait_for(lambda: (placement(etcd, "va") or {}).get("host") == "b" and time.time(),
                     TTL + TTL / 3.0 + SLACK + 5, 0.02)
    print("# a killed at 0; its lease gone at %s s; va placed on b at %s s (bound %.1f s)" % (
        t_gone and round(t_gone - t_kill, 3), moved and round(moved - t_kill, 3),
        TTL + TTL / 3.0 + SLACK), flush=True)
    ok("a-lease-expired", t_gone is not None)
    ok("va-restarted-on-b", moved is not None, log_of(b)[-800:])
    ok("va-failover-in-time", moved is not None and moved - t_kill <= TTL + TTL / 3.0 + SLACK,
       "%.3f s after the kill" % ((moved or 0) - t_kill))
    ok("va-not-before-lease-expiry", moved is not None and t_gone is not None and
       moved >= t_gone - 0.1, "moved %.3f, lease gone %.3f" % ((moved or 0) - t_kill,
                                                              (t_gone or 0) - t_kill))
    # (an event shows once the events before it have committed or timed out: a killed
    # host's event in flight holds the ones after it up to 15 s, inv_etcd_event.c)
    def failovers():
        st, js = c.req("GET", "/api/v1/events?limit=1000", token=tc)
        return [e for e in (js or {}).get("events", []) if e["type"] == "vm-failover"]
    fo = wait_for(failovers, 20, 0.2) or []
    ok("event-vm-failover", len(fo) == 1 and fo[0]["object"] == "va" and
       fo[0]["data"] == {"from": "a", "to": "b"}, "%s; %s" % (fo, [
           l for l in log_of(b).splitlines() if "failover" in l]))
    if have_kvm():
        ok("va-runs-on-b", b.wait_state(tb, "va", ["running"], 10) is not None)
        def console_b():
            x = b.req("GET", "/api/v1/vms/va/console", token=tb)[1]
            return "console: ready" in (x.decode(errors="replace") if isinstance(x, bytes)
                                        else str(x))
        got = wait_for(console_b, 10)
        ok("va-guest-prints-on-b", got is not None)
        st, js = c.req("GET", "/api/v1/vms", token=tc)
        ok("vm-list-on-c-names-b", st == 200 and {v["name"]: v["host"] for v in js["vms"]}
           .get("va") == "b", str(js))
    else:
        skip("va-runs-on-b", "no usable /dev/kvm: b's start of va fails in its VMM (the claim, "
             "the placement and the event above are b's)")
        skip("va-guest-prints-on-b", "no usable /dev/kvm")

    # --- what must not move, and c, who was not chosen ----------------------------------------
    time.sleep(TTL + 1.0)                 # past the bound after which c would have stepped in
    st, js = c.req("GET", "/api/v1/events?limit=1000", token=tc)
    hists = etcd.histories("/vsrv/vms/", rev0 + 1)   # one watch for the four VMs' keys
    # the claim: b's create-if-absent of the ownership key, nobody else's (read after the
    # wait above: a later claim by anyone would show too)
    hist = hists.get("/vsrv/vms/va/owner", [])
    puts = [json.loads(v)["host"] for t, v in hist if t == "PUT"]
    ok("va-claimed-by-b-only", puts[:1] == ["b"] and set(puts) == {"b"}, str(hist))
    for name in ("vn", "vs", "vhuge"):
        # not started anywhere: its placement is still a's, no vm-failover, no key held now;
        # its end on a is recorded (by b, the first in order, under a claim it gives up)
        hist = hists.get("/vsrv/vms/%s/owner" % name, [])
        ok("not-moved-" + name, (placement(etcd, name) or {}).get("host") == "a" and
           etcd.get("/vsrv/vms/%s/owner" % name) is None and
           not [e for e in js["events"] if e["type"] == "vm-failover" and e["object"] == name] and
           {json.loads(v)["host"] for t, v in hist if t == "PUT"} <= {"b"},
           "%s %s" % (hist, placement(etcd, name)))
        ok("end-recorded-" + name, c.req("GET", "/api/v1/vms/%s/status" % name, token=tc)[1]
           ["state"] in ("stopped", "crashed"), log_of(b)[-600:])
    # a VM whose policy is never is not meant to run any more; one that fits nowhere still is
    ok("never-policy-intent-cleared", placement(etcd, "vn")["intent"] == "stopped",
       str(placement(etcd, "vn")))
    ok("huge-vm-intent-kept", placement(etcd, "vhuge")["intent"] == "running",
       str(placement(etcd, "vhuge")))
    ok("never-policy-left-alone", re.search(r"vm vn was placed on host a.*left alone", log_of(b))
       is not None, log_of(b)[-600:])
    ok("stopped-vm-not-considered", "vm vs " not in log_of(b) and "vm vs " not in log_of(c),
       log_of(c)[-600:])
    ok("huge-vm-taken-by-nobody", "vm vhuge (" not in log_of(b) + log_of(c) and re.search(
        r"vm vhuge was placed on host a.*no surviving host can run it \(b: \d+ MiB free, the "
        r"VM needs 4096; c: \d+ MiB free, the VM needs 4096\): left alone", log_of(b))
       is not None, log_of(b)[-600:])
    # (c may not even have seen va orphaned: b can claim it before c's next look)
    ok("c-did-nothing", "taking it" not in log_of(c) and "its end on host" not in log_of(c),
       log_of(c)[-600:])
    ok("b-took-only-va", log_of(b).count("taking it") == 1, log_of(b)[-600:])

    # a single-host view of the same: a VM that no host is placed on has no host
    st, js = c.req("GET", "/api/v1/vms/vn/status", token=tc)
    ok("vm-host-null-when-running-nowhere", st == 200 and js["host"] is None, str((st, js)))

    # a deleted VM's intent goes with it (a new VM of its name is not restarted by failover)
    st, js = c.req("DELETE", "/api/v1/vms/vhuge", token=tc)
    ok("deleted-vm-intent-cleared", st in (200, 204) and
       (placement(etcd, "vhuge") or {}).get("intent") == "stopped",
       "%s %s" % ((st, js), placement(etcd, "vhuge")))

    # --- placement on start: the start sent to c runs where it is placed ---------------------
    def claims(vm, hs):
        return [json.loads(v)["host"] for t, v in hs.get("/vsrv/vms/%s/owner" % vm, [])
                if t == "PUT"]
    for name in ("vp", "vq", "vr"):
        st, js = c.req("POST", "/api/v1/vms", {"name": name, "kernel": KERNEL, "memory_mib": 64},
                       token=tc)
        ok("created-" + name, st == 201, str((st, js)))
    rev1 = etcd.revision()
    # named: c sends it to b with the caller's token, b's answer is the answer
    st, js = c.req("POST", "/api/v1/vms/vp/start", {"host": "b"}, token=tc)
    ok("start-named-host-forwarded", st == 202 and js["name"] == "vp", str((st, js)))
    ok("start-named-host-placed-on-b", (placement(etcd, "vp") or {}).get("host") == "b",
       str(placement(etcd, "vp")))
    ok("start-named-host-b-started-it", wait_for(lambda: re.search(r"vm vp: ", log_of(b)), 10)
       is not None and "start sent to host b" in log_of(c) and not re.search(r"vm vp: (?!start sent)",
                                                                              log_of(c)),
       log_of(c)[-500:])
    # not named: the host with the most free memory that holds it (b: 2048 against c's 1024)
    st, js = c.req("POST", "/api/v1/vms/vq/start", token=tc)
    st_vq = (st, js)
    # this host named: here
    st, js = c.req("POST", "/api/v1/vms/vr/start", {"host": "c"}, token=tc)
    st_vr = (st, js)
    st, js = c.req("POST", "/api/v1/vms/vr/start", {"host": "nosuch"}, token=tc)
    ok("start-unknown-host-400", st == 400 and "no host nosuch" in err_message(js), str((st, js)))
    st, js = c.req("POST", "/api/v1/vms/vr/start", {"host": "a"}, token=tc)
    ok("start-dead-host-409", st == 409 and "not alive" in err_message(js), str((st, js)))
    st, js = c.req("POST", "/api/v1/vms/vr/start", {"host": "b", "x": 1}, token=tc)
    ok("start-bad-body-400", st == 400, str((st, js)))
    st, js = c.req("POST", "/api/v1/vms/vr/off", {"host": "b"}, token=tc)
    ok("off-takes-no-host-400", st == 400, str((st, js)))
    # the claims of the three starts, in one watch (after the refused requests: a claim they
    # made would show too)
    hs = etcd.histories("/vsrv/vms/", rev1 + 1)
    cl = claims("vp", hs)
    ok("start-named-host-claimed-by-b", cl == ["b"], str(cl))
    cl = claims("vq", hs)
    ok("start-placed-by-rule-on-b", st_vq[0] == 202 and cl == ["b"], "%s %s" % (st_vq, cl))
    cl = claims("vr", hs)
    ok("start-named-this-host-local", st_vr[0] == 202 and cl == ["c"], "%s %s" % (st_vr, cl))

    # --- the first choice does not act: the next one does, T after it saw the VM orphaned ---
    # (another inventory on the same etcd: b and c leave its VMs alone). f has the most
    # memory but is frozen (SIGSTOP) while its lease (TTL 30 s) lives; e acts in its stead.
    prefix2 = prefix + "two/"
    d = host("d", 8192, etcd.endpoints, prefix2)
    e = host("e", 1024, etcd.endpoints, prefix2)
    f = host("f", 2048, etcd.endpoints, prefix2, ttl=30)
    td = d.login("admin", "adminpass1")
    st, js = d.req("POST", "/api/v1/vms", {"name": "vf", "kernel": KERNEL, "memory_mib": 128,
                                           "restart_policy": "always"}, token=td)
    st2, js2 = d.req("POST", "/api/v1/vms/vf/start", token=td)
    ok("fallback-vm-started-on-d", st == 201 and st2 == 202 and
       (placement(etcd, "vf") or {}).get("host") == "d", "%s %s" % ((st, js), (st2, js2)))
    rev2 = etcd.revision()
    f.proc.send_signal(signal.SIGSTOP)
    try:
        kill_host(d)
        t_kill = time.time()
        t_gone = wait_for(lambda: etcd.get("/vsrv/hosts/d/alive") is None and time.time(),
                          TTL + 3, 0.02)
        moved = wait_for(lambda: (placement(etcd, "vf") or {}).get("host") == "e" and
                         time.time(), TTL + TTL / 3.0 + TTL + SLACK + 5, 0.02)
        print("# d killed at 0, f frozen; d's lease gone at %s s; vf placed on e at %s s" % (
            t_gone and round(t_gone - t_kill, 3), moved and round(moved - t_kill, 3)), flush=True)
        ok("fallback-next-choice-takes-it", moved is not None and t_gone is not None and
           re.search(r"vm vf \(128 MiB\) of host d: this host is choice 2 of 2", log_of(e))
           is not None, log_of(e)[-600:])
        # not before T after the VM was first seen orphaned (itself at or after the lease's
        # end, within a poll of T/3), and at the first poll after that
        ok("fallback-waits-the-bound", moved is not None and t_gone is not None and
           TTL - 0.5 <= moved - t_gone <= TTL + 2 * TTL / 3.0 + SLACK,
           "%.3f s after the lease's end" % ((moved or 0) - (t_gone or 0)))
    finally:
        f.proc.send_signal(signal.SIGCONT)
    hist = etcd.history("/vsrv/vms/vf/owner", rev2 + 1)
    ok("fallback-claimed-by-e-only", {json.loads(v)["host"] for t, v in hist if t == "PUT"} ==
       {"e"}, str(hist))
    ok("other-inventory-left-alone", "vm vf" not in log_of(b) + log_of(c), log_of(b)[-400:])
finally:
    stop_hosts(daemons, tmp)
sys.exit(1 if fails else 0)
