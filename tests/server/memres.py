"""Admission control under concurrent starts: two VMs started at the same moment on one host
whose --host-memory has room for one of them; at most one may be admitted (the other: 409,
"its memory reservation exceeds what the host has left"), on SQLite and on the etcd
inventory (issues 10 and 17: the start's reads of the other VMs must hold at its commit,
also when the commit is retried by record_start; the loser's VMM is never launched). The
VMM is a shim that sleeps (a VM that stays starting), so no KVM is needed. Each round's outcome is read from the inventory (the
states of both VMs), not from timings: a round where both are up is a failure whatever the
machine's speed."""
import os, shutil, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
from lib import *

ROUNDS = 12
tmp = tempfile.mkdtemp(prefix="vsrv-memres.")
# the VMM: a sleep with an argument of this test's own, so that its processes are counted
SLEEP_ARG = "120.%d" % os.getpid()
SLEEP_VMM = os.path.join(tmp, "vsrv-sleep")
LAUNCHES = os.path.join(tmp, "launches")     # a line a process of it: "monitor", "run"
with open(SLEEP_VMM, "w") as f:
    f.write('#!/bin/sh\necho "$1" >> %s\n[ "$1" = run ] && exec sleep %s\nexec %s "$@"\n'
            % (LAUNCHES, SLEEP_ARG, VSRV))
os.chmod(SLEEP_VMM, 0o755)


def vmms():
    """How many of this test's VMMs (sleeps) are alive."""
    n = 0
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and open("/proc/%s/cmdline" % p, "rb").read() == \
                    b"sleep\0" + SLEEP_ARG.encode() + b"\0":
                n += 1
        except OSError:
            pass
    return n


def launches():
    """How many VMMs of this test were launched so far (their monitors spawned)."""
    try:
        return sum(1 for l in open(LAUNCHES) if l.strip() == "monitor")
    except OSError:
        return 0


def free_mib(d, tok):
    st, js = d.req("GET", "/api/v1/hosts", token=tok)
    return next((h.get("free_memory_mib") for h in js.get("hosts", []) if h.get("alive")),
                None) if st == 200 else None


def rounds(label, extra, cluster=False):
    """Start A and B at once ROUNDS times on a host with room for one; the check."""
    data = os.path.join(tmp, label)
    os.makedirs(os.path.join(data, "images"))
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(data, "images", "k.elf"))
    d = Daemon(data, extra=["--vmm", SLEEP_VMM, "--host-memory", "100"] + extra).start()
    try:
        tok = d.login("admin", "adminpass1")
        for n in ("ma", "mb"):
            st, js = d.req("POST", "/api/v1/vms", {"name": n, "kernel": "k.elf",
                                                    "memory_mib": 64}, token=tok)
            if st not in (200, 201):
                ok("memres-%s" % label, False, "create %s: %s %s" % (n, st, js))
                return
        bad, twice = [], []
        for i in range(ROUNDS):
            if cluster:
                # the placement reads the host's published free memory: the last round's
                # VMs' memory back in it first (else both are refused, which proves nothing)
                wait_for(lambda: free_mib(d, tok) == 100, 15, 0.1)
            n0 = launches()
            sts = race(lambda: d.req("POST", "/api/v1/vms/ma/start", {}, token=tok),
                       lambda: d.req("POST", "/api/v1/vms/mb/start", {}, token=tok))
            codes = [s[0] for s in sts]
            states = [d.req("GET", "/api/v1/vms/%s/status" % n, token=tok)[1].get("state")
                      for n in ("ma", "mb")]
            up = sum(s in ("starting", "running") for s in states)
            # the refused start's VMM, when it was spawned, is ended (one left: the winner's)
            one = wait_for(lambda: vmms() == 1, 10)
            if up != 1 or sorted(codes) != [202, 409] or not one:
                bad.append((i, codes, states, vmms(), [err_message(s[1]) for s in sts]))
            if launches() - n0 != 1:
                twice.append((i, launches() - n0))
            for n in ("ma", "mb"):
                d.req("POST", "/api/v1/vms/%s/off" % n, {}, token=tok)
            for n in ("ma", "mb"):
                d.wait_state(tok, n, ("stopped", "crashed"), timeout=20)
            wait_for(lambda: vmms() == 0, 10)
        ok("memres-%s-one-of-two-admitted" % label, not bad,
           "%d of %d rounds: %s" % (len(bad), ROUNDS, bad[:3]))
        # the refused start is refused before its VMM is launched (decided on reads no
        # other start of the host changes before its commit: sup_start_lock)
        # (and the daemon never ended a start's monitor for the memory another took)
        late = [l.strip() for l in open(d.log.name, errors="replace")
                if "took its memory meanwhile" in l]
        ok("memres-%s-loser-never-launched" % label, not twice and not late,
           "%d of %d rounds launched other than one VMM: %s; %d monitors ended after their "
           "spawn: %s" % (len(twice), ROUNDS, twice[:4], len(late), late[:2]))
        # a refused start is no start: one vm-starting and one vm-stopped (the off) a round,
        # no end of a refused start's monitor recorded as the VM's
        starting, stopped = events_of(d, tok, "vm-starting"), events_of(d, tok, "vm-stopped")
        ok("memres-%s-refused-start-no-events" % label, len(starting) == ROUNDS and
           len(stopped) == ROUNDS, "%d vm-starting, %d vm-stopped for %d rounds: %s" %
           (len(starting), len(stopped), ROUNDS, [e.get("message") for e in stopped][:4]))
    finally:
        d.stop()


if not os.path.exists(os.path.join(GUESTS, "hello.elf")):
    skip("memres", "build/guests/hello.elf is not built (make all)")
    sys.exit(0)
rounds("sqlite", [])
if os.path.exists("/usr/bin/etcd"):
    from etcd_cluster import EtcdCluster, Unavailable
    try:
        etcd = EtcdCluster(1).start()
    except Unavailable as e:
        etcd = None
        skip("memres-etcd-one-of-two-admitted", str(e))
    if etcd:
        rounds("etcd", ["--cluster", etcd.endpoints, "--host-name", "h1",
                        "--inventory", "etcd", "--inventory-prefix", "/memres/",
                        "--cluster-ttl", "3"], cluster=True)
else:
    skip("memres-etcd-one-of-two-admitted", "/usr/bin/etcd is not installed (etcd-server)")
shutil.rmtree(tmp, ignore_errors=True)
