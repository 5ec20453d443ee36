"""A VM's end on the etcd inventory, two hosts on one etcd: its record when etcd does not answer
a restart's commit, when a migration's hand-over is not recorded, when the host that ran it is
fenced after the VM went on elsewhere, and while another VM's start commit is held.

Host h reaches etcd through a proxy of this test (etcd_proxy.py) that can hold or drop the one
request that carries a commit; host h2 reaches etcd directly. The VMM of each host is a
Python script of this test (no KVM needed) that stays up until killed; a migration's incoming
one listens on its control socket as a VMM does. Its launches are counted in a file.

- etcd-exit-restart-commit-lost: a VM with restart policy on-failure ends; the commit that
  records its end with its restart never reaches etcd: the restart is recorded after all
  (its status names the restart's monitor, whose VMM runs) or ended (no VMM left, not up),
  never a VMM running under the ended run's record; an off of it then ends it (stopped).
- etcd-exit-not-behind-start: while one VM's start commits are not answered, another VM's
  VMM ends: its end is recorded before that start gives up (not behind it).
- etcd-exit-restart-not-behind-start: so is the end of a VM with restart policy on-failure
  (its restart, a start, comes once that start has given the start lock up).
- etcd-exit-restart-later-policy-never: so is the end of VM rn (on-failure); its restart
  policy set to never while its restart waits for that start: it is not restarted (it was,
  by the policy of its end).
- etcd-exit-restart-later-off: so is the end of VM ro (on-failure); a user's off of it while
  its restart waits for that start succeeds: it is recorded stopped and not restarted.
- etcd-exit-restart-later-delete: so is the end of VM rd (on-failure); its delete while its
  restart waits cancels that restart (never tried on the deleted VM).
- etcd-exit-handover-commit-lost: h is a migration's destination (this test the source, a
  host "tpeer" of its own); the hand-over moves the key to h, then h's commit of the VM's
  run there never reaches etcd; its VMM then ends: the VM is recorded ended (stopped or
  crashed), not left running under the source's monitor for ever.
- etcd-exit-adopt-elsewhere: h2's daemon is killed and started again while its VM runs on,
  the VM's key and status made h's meanwhile: the new daemon turns the VM off (it does not
  hold its key) and leaves h's record exactly as it was.
- etcd-exit-fence-elsewhere: h2 is fenced (it stops: a cluster's VMs stop with it) after two
  of its VMs went on elsewhere (their ownership keys h's: one running there, one recorded
  crashed by the failover): their records stay exactly as h wrote them, no end event of h2
  for them; its own VM is recorded stopped.
"""
import hashlib, json, os, shutil, signal, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
from etcd_cluster import EtcdCluster, Unavailable, b64
from etcd_proxy import CommitProxy

if not os.path.exists(os.path.join(GUESTS, "hello.elf")):
    skip("etcd-exit", "build/guests/hello.elf is not built (make all)")
    sys.exit(0)
try:
    etcd = EtcdCluster(1).start()
except Unavailable as e:
    skip("etcd-exit", str(e))
    sys.exit(0)
tmp = tempfile.mkdtemp(prefix="vsrv-etcdexit.")
TAG = "121.%d" % os.getpid()
LAUNCHES = os.path.join(tmp, "launches")
PREFIX = "/eexit/"
FAKE = os.path.join(tmp, "vmm.py")
with open(FAKE, "w") as f:
    f.write("import os, signal, socket, sys\n"
            "args = sys.argv[2:]\n"
            "if '--incoming' in args and '--control' in args:\n"
            "    s = socket.socket(socket.AF_UNIX)\n"
            "    s.bind(args[args.index('--control') + 1])\n"
            "    s.listen(8)\n"
            "while True:\n"
            "    signal.pause()\n")


def fake_vmm(host):
    """The VMM of host: its `run` logs "host vm-dir" and runs FAKE (TAG of its own)."""
    path = os.path.join(tmp, "vmm-" + host)
    with open(path, "w") as f:
        f.write('#!/bin/sh\nif [ "$1" = run ]; then echo "%s $PWD" >> %s; exec %s %s %s%d "$@"; '
                'fi\nexec %s "$@"\n' % (host, LAUNCHES, sys.executable, FAKE, TAG, len(host),
                                        VSRV))
    os.chmod(path, 0o755)
    return path


def vmm_pids(host, monitor=None, incoming=False):
    """The pids of host's live VMMs: those whose parent is monitor when given, the
    incoming migrations' alone with incoming."""
    tag = ("%s%d" % (TAG, len(host))).encode()
    pids = []
    for p in os.listdir("/proc"):
        try:
            if not p.isdigit():
                continue
            args = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
            if len(args) < 3 or args[2] != tag or (incoming and b"--incoming" not in args):
                continue
            if monitor is None or "PPid:\t%s\n" % monitor in open("/proc/%s/status" % p).read():
                pids.append(int(p))
        except OSError:
            pass
    return pids


def kill_pids(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def launches(host):
    try:
        return sum(1 for l in open(LAUNCHES) if l.split()[0] == host)
    except OSError:
        return 0


def status_key(vm):
    return PREFIX + "t/vm_status/%020d" % int(etcd.get(PREFIX + "u/vms.name/" + vm)[0])


def status_put(vm):
    """The pattern of a commit that writes vm's status row."""
    return '"key":"%s","value"' % b64(status_key(vm))


def status(d, tok, vm):
    return d.req("GET", "/api/v1/vms/%s/status" % vm, token=tok)[1] or {}


proxy = CommitProxy(int(etcd.endpoints.rsplit(":", 1)[1]))
daemons = []


def host(name, endpoint, extra=()):
    data = os.path.join(tmp, name)
    os.makedirs(os.path.join(data, "images"))
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(data, "images", "k.elf"))
    d = Daemon(data, extra=["--vmm", fake_vmm(name), "--cluster", endpoint, "--host-name", name,
                            "--inventory", "etcd", "--inventory-prefix", PREFIX] +
               list(extra)).start()
    daemons.append(d)
    return d


def lease_of(host_name):
    return etcd.get("/vsrv/hosts/%s/alive" % host_name)[1]


def give_key(vm, to):
    """vm's ownership key to host to, under its lease (a failover's claim, a hand-over)."""
    lease = lease_of(to)
    etcd.put("/vsrv/vms/%s/owner" % vm, json.dumps({"host": to, "lease": "%x" % lease}),
             lease=lease)


try:
    h = host("h", proxy.endpoint)
    # (h2's lease outlives a restart of its daemon by far: its VMs' monitors keep them
    # running while it restarts, the deadline 60 s away)
    h2 = host("h2", etcd.endpoints, ["--cluster-ttl", "60"])
    tok, tok2 = h.login("admin", "adminpass1"), h2.login("admin", "adminpass1")
    for vm, policy in (("rl", "on-failure"), ("eb", "never"), ("rp", "on-failure"), ("rn", "on-failure"),
                       ("ro", "on-failure"), ("rd", "on-failure"), ("ha", "never"), ("mg", "never"),
                       ("fa", "never"), ("fb", "never"), ("fs", "never"),
                       ("ad", "never")):
        st, js = h.req("POST", "/api/v1/vms", {"name": vm, "kernel": "k.elf", "memory_mib": 64,
                                                "restart_policy": policy}, token=tok)
        ok("etcd-exit-create-" + vm, st == 201, str((st, js)))

    # --- a restart whose commit never reaches etcd ------------------------------------------
    n0 = launches("h")
    st, js = h.req("POST", "/api/v1/vms/rl/start", {"host": "h"}, token=tok)
    mon = js.get("monitor_pid") if st == 202 else None
    up = wait_for(lambda: vmm_pids("h", mon), 10)
    proxy.arm(status_put("rl"), "drop")
    kill_pids(vmm_pids("h", mon) if mon else [])
    hit = proxy.hit.wait(20)

    def settled():
        """rl's record and its VMMs agree: up with the restart's VMM (its "pid"), the one
        running, or not up with no VMM left."""
        j = status(h, tok, "rl")
        if j.get("state") == "starting" and j.get("pid"):
            return j if vmm_pids("h") == [j["pid"]] and not vmm_pids("h", mon) else None
        if j.get("state") in ("stopped", "crashed"):
            return j if not vmm_pids("h") else None
        return None
    rec = wait_for(settled, 40)
    now = status(h, tok, "rl")
    h.req("POST", "/api/v1/vms/rl/off", {}, token=tok)
    h.wait_state(tok, "rl", ("stopped", "crashed"), timeout=20)
    last = status(h, tok, "rl")
    ok("etcd-exit-restart-commit-lost", st == 202 and up and hit and rec and
       last.get("state") in ("stopped", "crashed") and wait_for(lambda: not vmm_pids("h"), 10),
       "start %s, VMM up %s, commit dropped %s; settled %s (status %s, first monitor %s, "
       "VMMs %s, launched %d); after the off %s" % (st, bool(up), hit, bool(rec), now, mon,
                                                     vmm_pids("h"), launches("h") - n0, last))
    wait_for(lambda: not vmm_pids("h"), 10)

    # --- an end while another VM's start commit is not answered ----------------------------
    # every commit of ha's start is dropped (it is examined again after each, up to 4 tries
    # of 5 s: the start lock held all the while) until eb's end, its VMM killed, is
    # recorded: the daemon logs eb's end before ha's start gives up ("not started"), or ha's
    # start, no longer dropped then, goes through. (Behind the start lock, eb's end could
    # only come after ha's start has given up.)
    st, js = h.req("POST", "/api/v1/vms/eb/start", {"host": "h"}, token=tok)
    mon = js.get("monitor_pid") if st == 202 else None
    str_, jsr = h.req("POST", "/api/v1/vms/rp/start", {"host": "h"}, token=tok)
    mon_rp = jsr.get("monitor_pid") if str_ == 202 else None
    srn, jsn = h.req("POST", "/api/v1/vms/rn/start", {"host": "h"}, token=tok)
    mon_rn = jsn.get("monitor_pid") if srn == 202 else None
    sro, jso = h.req("POST", "/api/v1/vms/ro/start", {"host": "h"}, token=tok)
    mon_ro = jso.get("monitor_pid") if sro == 202 else None
    srd, jsd = h.req("POST", "/api/v1/vms/rd/start", {"host": "h"}, token=tok)
    mon_rd = jsd.get("monitor_pid") if srd == 202 else None
    up = wait_for(lambda: vmm_pids("h", mon) and vmm_pids("h", mon_rp) and
                  vmm_pids("h", mon_rn) and vmm_pids("h", mon_ro) and
                  vmm_pids("h", mon_rd), 10)
    n0 = launches("h")
    pattern, done, out = b64("/vsrv/vms/ha/placement"), threading.Event(), []
    proxy.arm(pattern, "drop")

    def redrop():
        while not done.wait(0.02):
            if proxy.hit.is_set():
                proxy.arm(pattern, "drop")
    threading.Thread(target=redrop, daemon=True).start()
    t = threading.Thread(target=lambda: out.append(
        h.req("POST", "/api/v1/vms/ha/start", {"host": "h"}, token=tok)))
    t.start()
    t0 = time.time()
    kill_pids((vmm_pids("h", mon) if mon else []) + (vmm_pids("h", mon_rp) if mon_rp else []) +
              (vmm_pids("h", mon_rn) if mon_rn else []) + (vmm_pids("h", mon_ro) if mon_ro else []) + (vmm_pids("h", mon_rd) if mon_rd else []))
    ended = wait_for(lambda: status(h, tok, "eb").get("state") in ("stopped", "crashed") and
                     "vm rp: signal 9" in open(h.log.name, errors="replace").read() and
                     "vm ro: signal 9" in open(h.log.name, errors="replace").read() and
                     "vm rd: signal 9" in open(h.log.name, errors="replace").read() and
                     "vm rn: signal 9" in open(h.log.name, errors="replace").read(), 60)
    dt = time.time() - t0
    # rn's restart waits for ha's start (its commits still dropped): its policy set to never
    stp, jsp = h.req("PATCH", "/api/v1/vms/rn", {"restart_policy": "never"}, token=tok)
    # ro's restart waits too: a user's off of it cancels that restart (it is stopped)
    sto, jst = h.req("POST", "/api/v1/vms/ro/off", {}, token=tok)
    ro_off = status(h, tok, "ro")
    # and rd's: a delete of it cancels that restart (not tried on the deleted VM)
    std, _ = h.req("DELETE", "/api/v1/vms/rd", token=tok)
    patched_first = "vm ha: not started" not in open(h.log.name, errors="replace").read()
    done.set()
    t.join(60)
    log = open(h.log.name, errors="replace").read()
    at_end = log.find("vm eb: signal 9")
    rp_end = log.find("vm rp: signal 9")
    gave_up = log.find("vm ha: not started")
    # rp restarted once ha's start gave the lock up: its status names its new VMM
    again = wait_for(lambda: (lambda j: j.get("state") == "starting" and j.get("restarts") == 1
                              and j.get("pid") in vmm_pids("h") and
                              not vmm_pids("h", mon_rp))(status(h, tok, "rp")), 30)
    ok("etcd-exit-restart-not-behind-start", str_ == 202 and up and ended and rp_end >= 0 and
       (gave_up < 0 or rp_end < gave_up) and again,
       "rp start %s; its end logged at %d, ha's start given up at %d; restarted %s (status %s, "
       "launches %d)" % (str_, rp_end, gave_up, bool(again), status(h, tok, "rp"),
                         launches("h") - n0))
    # rn's restart made, or given up (logged)
    wait_for(lambda: "vm rn: not restarted" in open(h.log.name, errors="replace").read() or
             status(h, tok, "rn").get("restarts"), 30)
    rn_end = open(h.log.name, errors="replace").read().find("vm rn: signal 9")
    rn = status(h, tok, "rn")
    ok("etcd-exit-restart-later-policy-never", srn == 202 and ended and stp == 200 and
       patched_first and rn_end >= 0 and (gave_up < 0 or rn_end < gave_up) and again and
       rn.get("state") == "crashed" and not rn.get("restarts") and not rn.get("pid"),
       "rn start %s; its end logged at %d, ha's start given up at %d; policy set %s %s "
       "(before ha's start gave up: %s); status once rp restarted %s" %
       (srn, rn_end, gave_up, stp, jsp, patched_first, rn))
    # ro is not restarted (its restart would come with rp's and rn's, once the lock is free)
    ro_again = wait_for(lambda: (lambda j: j.get("restarts") or j.get("pid") or
                                 j.get("state") != "stopped")(status(h, tok, "ro")), 5)
    ro = status(h, tok, "ro")
    ok("etcd-exit-restart-later-off", sro == 202 and ended and patched_first and
       sto in (200, 202) and ro_off.get("state") == "stopped" and not ro_again and
       ro.get("state") == "stopped" and not ro.get("restarts") and not ro.get("pid") and
       not vmm_pids("h", mon_ro),
       "ro start %s; off while its restart waited %s %s (before ha's start gave up: %s), "
       "status then %s; once rp restarted %s" % (sro, sto, jst, patched_first, ro_off, ro))
    log = open(h.log.name, errors="replace").read()
    ok("etcd-exit-restart-later-delete", srd == 202 and ended and std in (200, 204) and
       "vm rd: its restart, which waited for the start lock, is cancelled" in log and
       "vm rd: restart failed" not in log and not vmm_pids("h", mon_rd),
       "rd start %s; deleted while its restart waited %s; log: %s" %
       (srd, std, [l for l in log.splitlines() if "vm rd:" in l]))
    ok("etcd-exit-not-behind-start", st == 202 and up and ended and at_end >= 0 and
       (gave_up < 0 or at_end < gave_up) and out and out[0][0] in (202, 503),
       "eb start %s, VMM up %s; eb's end recorded %s after %.1f s (status %s; logged at %d, "
       "ha's start given up at %d); ha's start %s" % (st, bool(up), bool(ended), dt,
                                                      status(h, tok, "eb"), at_end, gave_up,
                                                      out))
    print("# eb's and rp's ends recorded (rp's logged) %.1f s after their VMMs were killed, "
          "ha's start answered %s" % (dt, out[0][0] if out else None), flush=True)
    for vm in ("ha", "rp", "rn", "ro"):
        h.req("POST", "/api/v1/vms/%s/off" % vm, {}, token=tok)
        h.wait_state(tok, vm, ("stopped", "crashed"), timeout=20)
    wait_for(lambda: not vmm_pids("h"), 10)

    # --- a hand-over whose commit on the destination never reaches etcd ---------------------
    # this test is the source: a host "tpeer" of its own (its info key with the SHA-256 of
    # its token, its alive key on a lease), the VM laid out as running there
    peer_tok = os.urandom(32).hex()
    etcd.put("/vsrv/hosts/tpeer/info", json.dumps({
        "name": "tpeer", "api_url": "http://127.0.0.1:%d" % free_port(),
        "peer_key": hashlib.sha256(peer_tok.encode()).hexdigest()}))
    peer_lease = etcd.grant(300)
    etcd.put("/vsrv/hosts/tpeer/alive", json.dumps({"lease": "%x" % peer_lease}),
             lease=peer_lease)
    PEER = {"Authorization": "VsrvHost tpeer " + peer_tok, "X-Vsrv-By": "admin"}
    sk = status_key("mg")
    row = json.loads(etcd.get(sk)[0])
    row.update({"state": "running", "monitor_pid": 999999})
    etcd.put(sk, json.dumps(row))
    give_key("mg", "tpeer")
    stp, jsp = h.req("POST", "/api/v1/vms/mg/incoming", {"from": "tpeer"}, headers=PEER)
    inc = wait_for(lambda: vmm_pids("h", incoming=True), 10)
    give_key("mg", "h")         # the source's hand-over Txn
    proxy.arm(status_put("mg"), "drop")
    stc, jsc = h.req("POST", "/api/v1/vms/mg/incoming/commit", {}, headers=PEER)
    hit = proxy.hit.is_set()
    kill_pids(vmm_pids("h", incoming=True))
    end = wait_for(lambda: status(h, tok, "mg").get("state") in ("stopped", "crashed"), 20)
    ok("etcd-exit-handover-commit-lost", stp == 200 and inc and hit and stc != 200 and end and
       wait_for(lambda: not vmm_pids("h"), 10),
       "incoming %s %s (VMM %s); commit dropped %s, answered %s %s; status after its VMM "
       "ended %s" % (stp, jsp, inc, hit, stc, jsc, status(h, tok, "mg")))

    # --- h2's daemon restarts after its VM went on elsewhere --------------------------------
    # its daemon killed (its VM keeps running), ad's key and status made h's run meanwhile;
    # the new daemon re-attaches to ad's monitor and, the key not its own, turns it off
    # (sup_cluster_adopt): h's record of ad stays exactly as it is
    st, js = h2.req("POST", "/api/v1/vms/ad/start", {"host": "h2"}, token=tok2)
    mon = js.get("monitor_pid") if st == 202 else None
    up = wait_for(lambda: vmm_pids("h2", mon), 10)
    h2.proc.send_signal(signal.SIGKILL)
    h2.proc.wait(30)
    give_key("ad", "h")
    row = json.loads(etcd.get(status_key("ad"))[0])
    row.update({"state": "running", "monitor_pid": 434343})
    etcd.put(status_key("ad"), json.dumps(row))
    before = etcd.get(status_key("ad"))[0]
    h2.start()
    tok2 = h2.login("admin", "adminpass1")
    off = wait_for(lambda: mon and not vmm_pids("h2", mon), 20)
    gone = wait_for(lambda: "vm ad: signal 9" in open(h2.log.name, errors="replace").read(), 20)
    after = etcd.get(status_key("ad"))[0]
    ok("etcd-exit-adopt-elsewhere", st == 202 and up and off and gone and after == before,
       "start %s, VMM up %s; after the restart its VMM ended %s, its end seen %s; record "
       "before %s after %s" % (st, bool(up), bool(off), bool(gone), before, after))

    # --- h2 fenced after two of its VMs went on elsewhere -----------------------------------
    mons = {}
    for vm in ("fa", "fb", "fs"):
        st, js = h2.req("POST", "/api/v1/vms/%s/start" % vm, {"host": "h2"}, token=tok2)
        mons[vm] = js.get("monitor_pid") if st == 202 else None
    up = wait_for(lambda: all(mons.values()) and
                  all(vmm_pids("h2", m) for m in mons.values()), 10)
    # fa runs on h now (a failover's start there: its key and its status h's run); fb's end
    # was recorded by the failover on h (crashed), its key h's, not yet started again
    give_key("fa", "h")
    row = json.loads(etcd.get(status_key("fa"))[0])
    row.update({"state": "running", "monitor_pid": 424242})
    etcd.put(status_key("fa"), json.dumps(row))
    give_key("fb", "h")
    row = json.loads(etcd.get(status_key("fb"))[0])
    row.update({"state": "crashed", "monitor_pid": 0})
    etcd.put(status_key("fb"), json.dumps(row))
    before = {vm: etcd.get(status_key(vm))[0] for vm in ("fa", "fb")}
    h2.proc.send_signal(15)
    try:
        rc = h2.proc.wait(30)
    except Exception as e:
        rc = type(e).__name__
    h2.proc = None
    after = {vm: etcd.get(status_key(vm))[0] for vm in ("fa", "fb")}
    ends = [e for e in events_of(h, tok, "vm-stopped") + events_of(h, tok, "vm-crashed")
            if e.get("object") in ("fa", "fb")]
    own = status(h, tok, "fs")
    ok("etcd-exit-fence-elsewhere", up and rc == 0 and after == before and not ends and
       own.get("state") == "stopped" and wait_for(lambda: not vmm_pids("h2"), 10),
       "VMs up on h2 %s; h2 exited %s; records before %s after %s; end events %s; h2's own "
       "VM %s; VMMs left %s" % (bool(up), rc, before, after, ends, own, vmm_pids("h2")))

finally:
    for x in daemons:
        x.stop()
    etcd.stop()
    shutil.rmtree(tmp, ignore_errors=True)
