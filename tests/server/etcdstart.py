"""A VM's start on the etcd inventory, two hosts on one etcd (issue 17): what happens when its
commit meets another host, another start on its own host, or an etcd that does not answer.

Host h reaches etcd through a proxy of this test that can hold, drop, or swallow the answer
of, the one request that carries the start's commit (the Txn that writes the VM's
/vsrv/vms/NAME/placement key): the window between the start's reads and its commit is then
as long as the test needs, whatever the machine's speed. Host h2 reaches etcd directly. The
VMM of each host is a sleep (a VM that stays starting, no KVM needed) whose launches are
counted in a file, so "its VMM never ran" is a count, not a timing.

- etcd-start-key-taken: h's start is held at its commit while its ownership key is taken
  (deleted, as h's lease's expiry would) and h2 starts the VM: h's commit fails and its
  start is examined again: 409 naming h2, h's VMM ended, the VM h2's alone (owner key,
  placement, status, one vm-starting event).
- etcd-start-key-moved: the key is moved to h2 between h's claim and its commit, as a
  migration's hand-over writes it (no inventory row): h's commit fails on the key's compare
  alone: 409 naming h2, h's VMM ended, nothing recorded.
- etcd-start-same-host-twice: two starts of one VM at once on one host: one 202, one 409,
  one VMM launched (the loser is refused before its spawn). Once with the first start's
  commit held while the second is sent (the second then waits for the start lock, parked:
  its wake-ups, VSRV_PARK_TRACE, say it did), then 6 times sent together.
- etcd-start-commit-lost: the start's commit never reaches etcd (the connection drops):
  the start is recorded again (202: status, placement, one event, its VMM running) or
  refused with 503 and no VMM left, never a VMM running unrecorded.
- etcd-start-answer-lost: etcd makes the commit but its answer is lost: 202, one
  vm-starting event, the VMM running, its placement h's.
- etcd-start-restart-conflict: a restart by policy whose commit fails on a conflict (a
  PATCH of the VM meanwhile) is recorded again: the VM's status names the restarted
  monitor, and an off of it ends it (stopped), never "stopping" for ever.
- etcd-start-exit-and-off: a VM's end recorded while a stop of it writes "stopping": the
  exit's record is made again on what the stop wrote (stopped or crashed, one end event),
  never lost.
- etcd-start-parked: while one start's commit is held (its call times out after the
  inventory's 5 s, then it is examined again), 8 more starts of other VMs on its host wait
  for the host's start lock without holding the HTTP threads (2 of them,
  VSRV_HTTP_THREADS: the held start holds one): GET /api/v1/health and a GET of another VM answer within 2 s all the
  while, and all 9 are started (202, their status starting on h, one vm-starting event
  each).
- etcd-start-parked-woken-once: a start parked behind a held commit while 20 other
  requests (GETs, PATCHes writing events) are answered and over a second passes: its
  request is woken once (VSRV_PARK_TRACE), when the start lock is given up, and started.
- etcd-start-parked-vm-deleted, etcd-start-parked-vm-recreated: a VM deleted while its
  start is parked, and one deleted and made again under its name: both starts answer 404,
  nothing of either starts (no VMM, no event; the new VM stays stopped).
- etcd-start-parked-client-gone: the client of the first parked start closes its
  connection; the starts behind it (over TCP and the Unix socket) are still started (the
  start lock passed on without any periodic wake-up of parked starts to cover a lost one).
- etcd-start-parked-revert-client-gone: a revert with memory of a saved VM whose start
  (after the revert is made) is parked, and whose client closes its connection: the start
  is made all the same in its turn (the VM's VMM launched, "starting"), not left undone
  with the VM saved at the snapshot.
- etcd-start-parked-shutdown: the server stopped (SIGTERM) with starts parked over TCP and
  the Unix socket: each answers 503 or its connection ends, and the server exits 0 (not
  libmicrohttpd's abort on a connection left suspended).
"""
import base64, json, os, re, shutil, socket, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
from etcd_cluster import EtcdCluster, Unavailable, b64
from etcd_proxy import CommitProxy

if not os.path.exists(os.path.join(GUESTS, "hello.elf")):
    skip("etcd-start", "build/guests/hello.elf is not built (make all)")
    sys.exit(0)
try:
    etcd = EtcdCluster(1).start()
except Unavailable as e:
    skip("etcd-start", str(e))
    sys.exit(0)
tmp = tempfile.mkdtemp(prefix="vsrv-etcdstart.")
TAG = "120.%d" % os.getpid()
LAUNCHES = os.path.join(tmp, "launches")


def sleep_vmm(host):
    """The VMM of host: its `run` logs a line "host vm-dir" and sleeps (args of its own)."""
    path = os.path.join(tmp, "vmm-" + host)
    with open(path, "w") as f:
        f.write('#!/bin/sh\nif [ "$1" = run ]; then echo "%s $PWD" >> %s; exec sleep %s%d; fi\n'
                'exec %s "$@"\n' % (host, LAUNCHES, TAG, len(host), VSRV))
    os.chmod(path, 0o755)
    return path


def vmm_pids(host, monitor=None):
    """The pids of host's live VMMs (sleeps), those whose parent is monitor when given."""
    want = b"sleep\0" + ("%s%d" % (TAG, len(host))).encode() + b"\0"
    pids = []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and open("/proc/%s/cmdline" % p, "rb").read() == want and \
                    (monitor is None or
                     "PPid:\t%s\n" % monitor in open("/proc/%s/status" % p).read()):
                pids.append(int(p))
        except OSError:
            pass
    return pids


def vmms(host):
    """How many VMMs (sleeps) of host are alive."""
    return len(vmm_pids(host))


def kill_vmm(host, monitor):
    """SIGKILL to the VMM of host whose parent is monitor (its VM ends by itself); none
    when monitor is None (the start was not answered with one)."""
    for pid in vmm_pids(host, monitor) if monitor is not None else []:
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def launches(host):
    try:
        return sum(1 for l in open(LAUNCHES) if l.split()[0] == host)
    except OSError:
        return 0


proxy = CommitProxy(int(etcd.endpoints.rsplit(":", 1)[1]))
# the pool's size, not this machine's core count: 2 threads. While a start's commit is held
# one of them runs it; every connection then goes to the other (libmicrohttpd binds a
# connection to the thread that accepted it, and only a thread in its poll accepts), so
# that one start waiting there for the start lock would hold it, whatever the machine.
os.environ["VSRV_HTTP_THREADS"] = "2"
# each request's count of wake-ups while parked, in the log ("park wake-ups: METHOD path: N")
os.environ["VSRV_PARK_TRACE"] = "1"

daemons = []


def host(name, endpoint):
    data = os.path.join(tmp, name)
    os.makedirs(os.path.join(data, "images"))
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(data, "images", "k.elf"))
    d = Daemon(data, extra=["--vmm", sleep_vmm(name), "--cluster", endpoint, "--host-name", name,
                            "--inventory", "etcd", "--inventory-prefix", "/estart/"]).start()
    daemons.append(d)
    return d


def owner(vm):
    got = etcd.get("/vsrv/vms/%s/owner" % vm)
    return json.loads(got[0]).get("host") if got else None


def placement(vm):
    got = etcd.get("/vsrv/vms/%s/placement" % vm)
    return json.loads(got[0]) if got else {}


def starts(d, tok, vm):
    return [e for e in events_of(d, tok, "vm-starting") if e.get("object") == vm]


def in_background(f):
    out = []
    t = threading.Thread(target=lambda: out.append(f()))
    t.start()
    return t, out


def wakeups(d, method, path):
    """Every count of wake-ups d logged (VSRV_PARK_TRACE) for METHOD path, in order."""
    pat = re.compile(r"park wake-ups: %s %s: (\d+)$" % (method, re.escape(path)))
    d.log.flush()
    return [int(m.group(1)) for m in
            (pat.search(l.rstrip("\n")) for l in open(d.log.name, errors="replace")) if m]


def parks(d, method, path):
    """How often d logged a park of a METHOD path request (VSRV_PARK_TRACE)."""
    line = "vsrv: parked: %s %s\n" % (method, path)
    d.log.flush()
    return sum(1 for l in open(d.log.name, errors="replace") if l.endswith(line))


def parked(d, vm, n0):
    """Wait until d has logged a park of a start of vm beyond the n0 before (its request
    waits for the start lock); whether it did."""
    return bool(wait_for(lambda: parks(d, "POST", "/api/v1/vms/%s/start" % vm) > n0, 20))


def send_start(d, tok, vm, unix=False):
    """POST .../vm/start ({"host": "h"}) sent whole on its own connection, its answer left
    to read (getresponse)."""
    c = d.conn(unix=unix, timeout=60)
    c.request("POST", "/api/v1/vms/%s/start" % vm, body=json.dumps({"host": "h"}),
              headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
    return c


def answer_of(c):
    """(status, body) of connection c's answer, or (the error's name, None)."""
    try:
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    except Exception as e:
        return type(e).__name__, None
    finally:
        c.close()


def off(d, tok, vm, who):
    d.req("POST", "/api/v1/vms/%s/off" % vm, {}, token=tok)
    d.wait_state(tok, vm, ("stopped", "crashed"), timeout=20)
    wait_for(lambda: vmms(who) == 0, 10)


try:
    h = host("h", proxy.endpoint)
    h2 = host("h2", etcd.endpoints)
    tok, tok2 = h.login("admin", "adminpass1"), h2.login("admin", "adminpass1")
    for vm in ("kt", "km", "tw", "cl", "al", "ex", "wk", "dv", "dr"):
        st, js = h.req("POST", "/api/v1/vms", {"name": vm, "kernel": "k.elf",
                                                "memory_mib": 64}, token=tok)
        ok("etcd-start-create-" + vm, st == 201, str((st, js)))

    # --- the ownership key taken between the start's reads and its commit ----------------
    proxy.arm(b64("/vsrv/vms/kt/placement"), "hold")
    t, out = in_background(lambda: h.req("POST", "/api/v1/vms/kt/start", {"host": "h"},
                                         token=tok))
    held = proxy.hit.wait(20)
    # h's lease expired as its key sees it: the key goes; h2 takes it with its own start
    etcd.call("/v3/kv/deleterange", {"key": b64("/vsrv/vms/kt/owner")})
    st2, js2 = h2.req("POST", "/api/v1/vms/kt/start", {"host": "h2"}, token=tok2)
    proxy.release()
    t.join(30)
    st, js = out[0] if out else (None, None)
    _, now = h2.req("GET", "/api/v1/vms/kt/status", token=tok2)
    gone = wait_for(lambda: vmms("h") == 0, 10)
    ev = starts(h2, tok2, "kt")
    ok("etcd-start-key-taken", held and st2 == 202 and st == 409 and
       "h2" in err_message(js) and owner("kt") == "h2" and placement("kt").get("host") == "h2" and
       now.get("host") == "h2" and now.get("state") == "starting" and gone and
       wait_for(lambda: vmms("h2") == 1, 10) and len(ev) == 1,
       "held %s; h2's start %s %s; h's %s %s; owner %s, placement %s, status %s; VMMs alive on "
       "h %d, h2 %d; %d vm-starting events" % (held, st2, js2, st, js, owner("kt"),
                                               placement("kt"), now, vmms("h"), vmms("h2"),
                                               len(ev)))
    off(h2, tok2, "kt", "h2")

    # --- the ownership key moved between the start's claim and its commit ----------------
    # (what a migration's hand-over writes: the key another host's, under its lease, and no
    # row of the inventory): only the key's compare at the commit can refuse h's start
    proxy.arm(b64("/vsrv/vms/km/placement"), "hold")
    t, out = in_background(lambda: h.req("POST", "/api/v1/vms/km/start", {"host": "h"},
                                         token=tok))
    held = proxy.hit.wait(20)
    alive = etcd.call("/v3/kv/range", {"key": b64("/vsrv/hosts/h2/alive")}).get("kvs") or [{}]
    lease2 = int(alive[0].get("lease", 0))
    etcd.call("/v3/kv/put", {"key": b64("/vsrv/vms/km/owner"), "lease": lease2,
                             "value": b64(json.dumps({"host": "h2", "lease": "%x" % lease2}))})
    proxy.release()
    t.join(30)
    st, js = out[0] if out else (None, None)
    _, now = h.req("GET", "/api/v1/vms/km/status", token=tok)
    gone = wait_for(lambda: vmms("h") == 0, 10)
    ok("etcd-start-key-moved", held and lease2 and st == 409 and "h2" in err_message(js) and
       owner("km") == "h2" and placement("km").get("host") != "h" and gone and
       now.get("state") == "stopped" and not starts(h, tok, "km"),
       "held %s, h2's lease %s; h's start %s %s; owner %s, placement %s, status %s; VMMs "
       "alive on h %d" % (held, lease2, st, js, owner("km"), placement("km"), now, vmms("h")))
    etcd.call("/v3/kv/deleterange", {"key": b64("/vsrv/vms/km/owner")})

    # --- two starts of one VM at once on one host ------------------------------------------
    # First on h with the first start's commit held while the second is sent: the second
    # waits for the start lock (parked; woken once the first gives it up: its wake-ups
    # logged) and is refused on the first's commit, its VMM never launched. Without the lock
    # it reads the VM stopped, as the first did, and launches a second VMM.
    n0, w0 = launches("h"), len(wakeups(h, "POST", "/api/v1/vms/tw/start"))
    proxy.arm(b64("/vsrv/vms/tw/placement"), "hold")
    t, out = in_background(lambda: h.req("POST", "/api/v1/vms/tw/start", {"host": "h"},
                                         token=tok))
    held = proxy.hit.wait(20)
    k0 = parks(h, "POST", "/api/v1/vms/tw/start")
    second = send_start(h, tok, "tw")
    waited = parked(h, "tw", k0)
    proxy.release()
    t.join(60)
    st2, js2 = answer_of(second)
    st, js = out[0] if out else (None, None)
    one = wait_for(lambda: vmms("h") >= 1 and launches("h") - n0 >= 1, 10)
    n = launches("h") - n0
    woken = wait_for(lambda: len(wakeups(h, "POST", "/api/v1/vms/tw/start")) - w0 >= 2, 10)
    w = sorted(wakeups(h, "POST", "/api/v1/vms/tw/start")[w0:])
    bad = [] if held and waited and (st, st2) == (202, 409) and n == 1 and one and \
        vmms("h") == 1 and woken and w[0] == 0 and w[-1] >= 1 else \
        [("held", held, "parked", waited, st, st2, err_message(js2), n, vmms("h"), w)]
    off(h, tok, "tw", "h")
    ev0 = len(starts(h2, tok2, "tw"))
    for i in range(6):
        n0 = launches("h2")
        sts = race(lambda: h2.req("POST", "/api/v1/vms/tw/start", {"host": "h2"}, token=tok2),
                   lambda: h2.req("POST", "/api/v1/vms/tw/start", {"host": "h2"}, token=tok2))
        codes = sorted(s[0] for s in sts)
        one = wait_for(lambda: vmms("h2") == 1, 10)
        n = launches("h2") - n0
        if codes != [202, 409] or n != 1 or not one or vmms("h2") != 1:
            bad.append((i, codes, n, vmms("h2"), [err_message(s[1]) for s in sts]))
        off(h2, tok2, "tw", "h2")
    ev = starts(h2, tok2, "tw")
    ok("etcd-start-same-host-twice", not bad and len(ev) - ev0 == 6,
       "%s; %d vm-starting events for 6 rounds" % (bad[:3], len(ev) - ev0))

    # --- a VM's end and a stop of it at once ----------------------------------------------
    # its VMM ends by itself; the exit's record (the put of its status row) is held while
    # the user's off writes "stopping": the exit's commit then fails (a key it read has
    # changed) and its end is recorded on what the off wrote, not lost ("stopping" for ever)
    st, js = h.req("POST", "/api/v1/vms/ex/start", {"host": "h"}, token=tok)
    up = wait_for(lambda: vmms("h") >= 1, 10)
    id_ = int(etcd.get("/estart/u/vms.name/ex")[0])
    proxy.arm('"key":"%s","value"' % b64("/estart/t/vm_status/%020d" % id_), "hold")
    # (its VMM alone: the sleep whose parent is its monitor)
    mon = js.get("monitor_pid") if st == 202 else None
    kill_vmm("h", mon)
    held = proxy.hit.wait(20)
    st2, js2 = h.req("POST", "/api/v1/vms/ex/off", {}, token=tok)
    proxy.release()
    end = h.wait_state(tok, "ex", ("stopped", "crashed"), timeout=15)
    _, now = h.req("GET", "/api/v1/vms/ex/status", token=tok)
    ends = [e for e in events_of(h, tok, "vm-crashed") + events_of(h, tok, "vm-stopped")
            if e.get("object") == "ex"]
    ok("etcd-start-exit-and-off", st == 202 and up and held and
       now.get("state") in ("stopped", "crashed") and len(ends) == 1,
       "start %s, VMM up %s, exit held %s; off %s %s; status %s; %d end events" %
       (st, up, held, st2, js2, now, len(ends)))

    # --- a restart by policy whose commit meets a conflict -----------------------------------
    # rs (restart policy always) ends by itself; the exit's record, with its restart's start,
    # is held while a PATCH of rs on h2 changes a row it read: that commit fails, and the
    # restart (its VMM running) is recorded again, not left with the ended run's monitor as
    # rs's (then every later end of rs, an off too, was "another run's": left up for ever)
    st, js = h.req("POST", "/api/v1/vms", {"name": "rs", "kernel": "k.elf", "memory_mib": 64,
                                           "restart_policy": "always"}, token=tok)
    ok("etcd-start-create-rs", st == 201, str((st, js)))
    n0 = launches("h")
    st, js = h.req("POST", "/api/v1/vms/rs/start", {"host": "h"}, token=tok)
    mon = js.get("monitor_pid") if st == 202 else None
    up = wait_for(lambda: vmms("h") >= 1, 10)
    id_ = int(etcd.get("/estart/u/vms.name/rs")[0])
    proxy.arm('"key":"%s","value"' % b64("/estart/t/vm_status/%020d" % id_), "hold")
    kill_vmm("h", mon)
    held = proxy.hit.wait(20)
    stp, jsp = h2.req("PATCH", "/api/v1/vms/rs", {"description": "edited"}, token=tok2)
    proxy.release()
    again = wait_for(lambda: launches("h") - n0 == 2 and vmms("h") == 1, 15)
    rec = wait_for(lambda: (lambda j: j if j.get("pid") not in (None, 0, mon) and
                            j.get("state") == "starting" else None)(
        h.req("GET", "/api/v1/vms/rs/status", token=tok)[1]), 10)
    _, now = h.req("GET", "/api/v1/vms/rs/status", token=tok)
    h.req("POST", "/api/v1/vms/rs/off", {}, token=tok)
    end = h.wait_state(tok, "rs", ("stopped", "crashed"), timeout=15)
    _, last = h.req("GET", "/api/v1/vms/rs/status", token=tok)
    ok("etcd-start-restart-conflict", st == 202 and up and held and stp == 200 and again and
       rec and last.get("state") == "stopped" and wait_for(lambda: vmms("h") == 0, 10),
       "start %s, VMM up %s, exit held %s, PATCH %s %s; restarted %s (launches %d); status "
       "then %s (first monitor %s); after the off %s" % (st, up, held, stp, jsp, again,
                                                          launches("h") - n0, now, mon, last))
    wait_for(lambda: vmms("h") == 0, 10)

    # --- the commit never reaches etcd -------------------------------------------------------
    n0 = launches("h")
    proxy.arm(b64("/vsrv/vms/cl/placement"), "drop")
    st, js = h.req("POST", "/api/v1/vms/cl/start", {"host": "h"}, token=tok)
    hit = proxy.hit.is_set()
    _, now = h.req("GET", "/api/v1/vms/cl/status", token=tok)
    ev = starts(h, tok, "cl")
    if st == 202:
        good = now.get("state") == "starting" and now.get("host") == "h" and \
            placement("cl").get("host") == "h" and \
            wait_for(lambda: vmms("h") == 1, 10) and len(ev) == 1
    else:
        good = st == 503 and wait_for(lambda: vmms("h") == 0, 10) and \
            now.get("state") in ("stopped", "crashed") and not ev
    # (one VMM launched at most: a monitor ended early may not have run its VMM yet)
    once = wait_for(lambda: launches("h") - n0 == 1, 10) if st == 202 else \
        launches("h") - n0 <= 1
    ok("etcd-start-commit-lost", hit and good and once,
       "dropped %s; start %s %s; status %s, placement %s; VMMs alive %d, launched %d; "
       "%d vm-starting events" % (hit, st, js, now, placement("cl"), vmms("h"),
                                  launches("h") - n0, len(ev)))
    off(h, tok, "cl", "h")

    # --- the commit made, its answer lost ----------------------------------------------------
    proxy.arm(b64("/vsrv/vms/al/placement"), "mute")
    st, js = h.req("POST", "/api/v1/vms/al/start", {"host": "h"}, token=tok)
    hit = proxy.hit.is_set()
    _, now = h.req("GET", "/api/v1/vms/al/status", token=tok)
    ev = starts(h, tok, "al")
    ok("etcd-start-answer-lost", hit and st == 202 and now.get("state") == "starting" and
       now.get("host") == "h" and placement("al").get("host") == "h" and
       wait_for(lambda: vmms("h") == 1, 10) and len(ev) == 1,
       "muted %s; start %s %s; status %s, placement %s; VMMs alive %d; %d vm-starting events"
       % (hit, st, js, now, placement("al"), vmms("h"), len(ev)))
    off(h, tok, "al", "h")

    # --- starts waiting for the start lock hold no HTTP thread ------------------------------
    pvms = ["p%d" % i for i in range(9)]
    for vm in pvms:
        st, js = h.req("POST", "/api/v1/vms", {"name": vm, "kernel": "k.elf",
                                                "memory_mib": 64}, token=tok)
        ok("etcd-start-create-" + vm, st == 201, str((st, js)))
    n0 = launches("h")
    proxy.arm(b64("/vsrv/vms/p0/placement"), "hold")
    t0, out0 = in_background(lambda: h.req("POST", "/api/v1/vms/p0/start", {"host": "h"},
                                           token=tok))
    held = proxy.hit.wait(20)
    # the 8 others' requests sent whole (each on its connection), their answers awaited
    conns = []
    for vm in pvms[1:]:
        c = h.conn(timeout=60)
        c.request("POST", "/api/v1/vms/%s/start" % vm, body=json.dumps({"host": "h"}),
                  headers={"Authorization": "Bearer " + tok,
                           "Content-Type": "application/json"})
        conns.append(c)
    answers = {}

    def answer(vm, c):
        r = c.getresponse()
        answers[vm] = (r.status, json.loads(r.read() or b"null"), time.time())
        c.close()
    waits = [threading.Thread(target=answer, args=(vm, c)) for vm, c in zip(pvms[1:], conns)]
    for w in waits:
        w.start()

    def timed(path):
        t = time.time()
        try:
            c = h.conn(timeout=5)
            c.request("GET", path, headers={"Authorization": "Bearer " + tok})
            st = c.getresponse().status
            c.close()
        except OSError:
            st = None
        return st, time.time() - t
    # over 6 s of the hold: the server has had the 8 requests for seconds by the last ones
    slow = []
    for i in range(6):
        for path in ("/api/v1/health", "/api/v1/vms/kt"):
            st, dt = timed(path)
            if st != 200 or dt > 2:
                slow.append((path, st, round(dt, 2)))
        time.sleep(1)
    proxy.release()
    t0.join(60)
    for w in waits:
        w.join(60)
    answers["p0"] = out0[0] + (None,) if out0 else (None, None, None)
    codes = {vm: answers.get(vm, (None,))[0] for vm in pvms}
    rec = {vm: h.req("GET", "/api/v1/vms/%s/status" % vm, token=tok)[1] for vm in pvms}
    bad = [vm for vm in pvms if codes[vm] != 202 or rec[vm].get("state") != "starting" or
           rec[vm].get("host") != "h" or len(starts(h, tok, vm)) != 1]
    up = wait_for(lambda: launches("h") - n0 == 9 and vmms("h") == 9, 15)
    print("# etcd-start-parked: wake-ups of the 8 parked starts (VSRV_PARK_TRACE): %s" %
          [(wakeups(h, "POST", "/api/v1/vms/%s/start" % vm) or [None])[-1] for vm in pvms[1:]])
    ok("etcd-start-parked", held and not slow and not bad and up,
       "held %s; slow answers while held %s; not started %s (codes %s, statuses %s); "
       "launched %d, VMMs alive %d" % (held, slow, bad, codes,
        {vm: rec[vm].get("state") for vm in bad}, launches("h") - n0, vmms("h")))
    for vm in pvms:
        h.req("POST", "/api/v1/vms/%s/off" % vm, {}, token=tok)
    wait_for(lambda: vmms("h") == 0, 20)

    # --- a parked start is woken when the start lock is given up, and only then ----------
    # wk's start parks behind p0's held commit; meanwhile 20 other requests are answered
    # (10 GETs, 10 PATCHes, each writing an event) over more than a second: wk's request
    # is resumed once, when p0's start gives the lock up (a pass of every parked request
    # after each event or 250 ms woke it each time, to find the lock still held)
    for vm in ("p0",):
        wait_for(lambda: h.req("GET", "/api/v1/vms/%s/status" % vm,
                               token=tok)[1].get("state") in ("stopped", "crashed"), 20)
    proxy.arm(b64("/vsrv/vms/p0/placement"), "hold")
    t0, out0 = in_background(lambda: h.req("POST", "/api/v1/vms/p0/start", {"host": "h"},
                                           token=tok))
    held = proxy.hit.wait(20)
    c = send_start(h, tok, "wk")
    waited = parked(h, "wk", 0)
    others = []
    for i in range(10):
        others.append(h.req("GET", "/api/v1/health")[0])
        others.append(h.req("PATCH", "/api/v1/vms/kt", {"description": "d%d" % i},
                            token=tok)[0])
        time.sleep(0.1)
    proxy.release()
    t0.join(60)
    st, js = answer_of(c)
    w = wakeups(h, "POST", "/api/v1/vms/wk/start")
    ok("etcd-start-parked-woken-once", held and waited and st == 202 and w == [1] and
       others == [200] * 20 and len(starts(h, tok, "wk")) == 1,
       "held %s, wk's start parked %s; its answer %s %s, its wake-ups %s; the other "
       "requests' answers %s" % (held, waited, st, js, w, others))
    for vm in ("p0", "wk"):
        h.req("POST", "/api/v1/vms/%s/off" % vm, {}, token=tok)
    wait_for(lambda: vmms("h") == 0, 20)

    # --- a parked start whose VM is deleted, or deleted and made again, meanwhile ----------
    # dv's and dr's starts park behind p0's held commit; dv is deleted, dr deleted and made
    # again (a new VM of the same name): neither start acts on what it looked up before it
    # parked: 404, no VMM of either, no vm-starting event, the new dr stopped
    wait_for(lambda: h.req("GET", "/api/v1/vms/p0/status",
                           token=tok)[1].get("state") in ("stopped", "crashed"), 20)
    n0 = launches("h")
    proxy.arm(b64("/vsrv/vms/p0/placement"), "hold")
    t0, out0 = in_background(lambda: h.req("POST", "/api/v1/vms/p0/start", {"host": "h"},
                                           token=tok))
    held = proxy.hit.wait(20)
    cs = {vm: send_start(h, tok, vm) for vm in ("dv", "dr")}
    held = held and parked(h, "dv", 0) and parked(h, "dr", 0)
    gone = [h.req("DELETE", "/api/v1/vms/%s" % vm, token=tok)[0] for vm in ("dv", "dr")]
    made = h.req("POST", "/api/v1/vms", {"name": "dr", "kernel": "k.elf", "memory_mib": 64},
                 token=tok)[0]
    proxy.release()
    t0.join(60)
    got = {vm: answer_of(c) for vm, c in cs.items()}
    p0_st = out0[0][0] if out0 else None
    up = wait_for(lambda: vmms("h") == 1, 10)
    _, dr = h.req("GET", "/api/v1/vms/dr/status", token=tok)
    dv_st = h.req("GET", "/api/v1/vms/dv", token=tok)[0]
    ok("etcd-start-parked-vm-deleted", held and p0_st == 202 and gone[0] in (200, 202, 204) and
       got["dv"][0] == 404 and dv_st == 404 and not starts(h, tok, "dv") and
       launches("h") - n0 == 1 and up,
       "held %s; p0 %s; delete %s; dv's start %s; GET dv %s; launched %d, VMMs %d"
       % (held, p0_st, gone[0], got["dv"], dv_st, launches("h") - n0, vmms("h")))
    ok("etcd-start-parked-vm-recreated", held and gone[1] in (200, 202, 204) and made == 201 and
       got["dr"][0] == 404 and dr.get("state") == "stopped" and not starts(h, tok, "dr") and
       launches("h") - n0 == 1,
       "held %s; delete %s, made again %s; dr's start %s; the new dr %s; launched %d"
       % (held, gone[1], made, got["dr"], dr, launches("h") - n0))
    h.req("POST", "/api/v1/vms/p0/off", {}, token=tok)
    wait_for(lambda: vmms("h") == 0, 20)

    # --- a parked start whose client goes away: not done, the ones behind it still start -----
    # p1's request is parked first in the start lock's queue (p0's commit held) and its client
    # closes the connection; p2 (over TCP) and p3 (over the Unix socket) wait behind it. Once
    # the hold ends, p1's turn finds its client gone: its start is not done (nobody would
    # learn of it; no VMM, no event, p1 stopped) and the lock goes on to p2, then p3, both
    # started; the server still answers. (Parked starts are woken only in their turn: a lock
    # not passed on by the gone one would leave p2 and p3 waiting for ever.)
    for vm in pvms[:4]:
        wait_for(lambda: h.req("GET", "/api/v1/vms/%s/status" % vm,
                               token=tok)[1].get("state") in ("stopped", "crashed"), 20)
    n0, e1 = launches("h"), len(starts(h, tok, "p1"))
    proxy.arm(b64("/vsrv/vms/p0/placement"), "hold")
    t0, out0 = in_background(lambda: h.req("POST", "/api/v1/vms/p0/start", {"host": "h"},
                                           token=tok))
    held = proxy.hit.wait(20)
    k0 = {vm: parks(h, "POST", "/api/v1/vms/%s/start" % vm) for vm in ("p1", "p2", "p3")}
    gone = send_start(h, tok, "p1")
    held = held and parked(h, "p1", k0["p1"])      # p1 first in the queue
    gone.sock.shutdown(socket.SHUT_RDWR)
    gone.close()
    behind = {}
    for vm, unix in (("p2", False), ("p3", True)):
        behind[vm] = send_start(h, tok, vm, unix=unix)
        held = held and parked(h, vm, k0[vm])
    proxy.release()
    t0.join(60)
    codes = {}
    for vm, c in behind.items():
        try:
            codes[vm] = c.getresponse().status
        except OSError as e:
            codes[vm] = str(e)
        c.close()
    st, _ = h.req("GET", "/api/v1/health")
    rec = {vm: h.req("GET", "/api/v1/vms/%s/status" % vm, token=tok)[1].get("state")
           for vm in ("p1", "p2", "p3")}
    p1_ev = len(starts(h, tok, "p1")) - e1
    ok("etcd-start-parked-client-gone", held and codes == {"p2": 202, "p3": 202} and
       st == 200 and all(rec[vm] in ("starting", "running") for vm in ("p2", "p3")) and
       rec["p1"] == "stopped" and not p1_ev and wait_for(lambda: launches("h") - n0 == 3, 10),
       "held %s; answers behind the gone client %s; health %s; states %s; p1's vm-starting "
       "events %d; launched %d (p0, p2, p3)" % (held, codes, st, rec, p1_ev, launches("h") - n0))
    for vm in pvms[:4]:
        h.req("POST", "/api/v1/vms/%s/off" % vm, {}, token=tok)
    wait_for(lambda: vmms("h") == 0, 20)

    # --- a revert with memory whose start is parked while its client goes away ------------
    # sv is saved (laid out: its status row "saved", a plain file as its saved state) and
    # snapshotted with memory; its revert to that snapshot is made, then its start (that
    # restores the snapshot's state) parks behind p0's held commit, and its client closes
    # the connection. The revert is done whatever the client does: the start is made too
    # once the lock is sv's (its VMM launched), not skipped with "nothing was done" (that
    # left the VM saved, and one reverted while it ran off)
    wait_for(lambda: h.req("GET", "/api/v1/vms/p0/status",
                           token=tok)[1].get("state") in ("stopped", "crashed"), 20)
    st, js = h.req("POST", "/api/v1/vms", {"name": "sv", "kernel": "k.elf", "memory_mib": 64},
                   token=tok)
    sid = js.get("id") if st == 201 else None
    if sid is None:
        sid = int(etcd.get("/estart/u/vms.name/sv")[0])
    skey = "/estart/t/vm_status/%020d" % sid
    row = json.loads(etcd.get(skey)[0])
    row.update(state="saved", monitor_pid=0)
    etcd.put(skey, json.dumps(row))
    svdir = os.path.join(h.data, "vms", str(sid))
    os.makedirs(os.path.join(svdir, "save"), exist_ok=True)
    open(os.path.join(svdir, "save", "saved.vsav"), "wb").write(b"sv, laid out\n" * 9)
    st, js = h.req("POST", "/api/v1/vms/sv/snapshots", {"name": "m", "memory": True}, token=tok)
    n0, path = launches("h"), "/api/v1/vms/sv/snapshots/m/revert"
    proxy.arm(b64("/vsrv/vms/p0/placement"), "hold")
    t0, out0 = in_background(lambda: h.req("POST", "/api/v1/vms/p0/start", {"host": "h"},
                                           token=tok))
    held = proxy.hit.wait(20)
    k0 = parks(h, "POST", path)
    c = h.conn(timeout=60)
    c.request("POST", path, headers={"Authorization": "Bearer " + tok})
    waited = bool(wait_for(lambda: parks(h, "POST", path) > k0, 20))
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    proxy.release()
    t0.join(60)
    # (p0's VMM and sv's: a launch of the sleep logs the host alone)
    started = wait_for(lambda: launches("h") - n0 == 2, 20)
    _, now = h.req("GET", "/api/v1/vms/sv/status", token=tok)
    ok("etcd-start-parked-revert-client-gone", st == 201 and held and waited and started and
       now.get("state") == "starting",
       "snapshot %s %s; held %s, revert parked %s; VMMs launched since %d (p0's, sv's); sv's "
       "status %s" % (st, js if st != 201 else "", held, waited, launches("h") - n0, now))
    for vm in ("p0", "sv"):
        h.req("POST", "/api/v1/vms/%s/off" % vm, {}, token=tok)
    wait_for(lambda: vmms("h") == 0, 20)

    # --- the server stops with starts parked (TCP and Unix socket): each answers 503 or its
    # connection ends, and the server exits cleanly (libmicrohttpd aborts when it is stopped
    # with a connection still suspended; a parked request freed while queued crashes it)
    for vm in pvms[:4]:
        wait_for(lambda: h.req("GET", "/api/v1/vms/%s/status" % vm,
                               token=tok)[1].get("state") in ("stopped", "crashed"), 20)
    proxy.arm(b64("/vsrv/vms/p0/placement"), "hold")
    t0, out0 = in_background(lambda: h.req("POST", "/api/v1/vms/p0/start", {"host": "h"},
                                           token=tok))
    held = proxy.hit.wait(20)
    waiting = {}
    for vm, unix in (("p1", False), ("p2", True)):
        k0 = parks(h, "POST", "/api/v1/vms/%s/start" % vm)
        waiting[vm] = send_start(h, tok, vm, unix=unix)
        held = held and parked(h, vm, k0)
    proc = h.proc
    proc.send_signal(15)
    time.sleep(1)
    proxy.release()
    got = {}
    for vm, c in waiting.items():
        try:
            got[vm] = c.getresponse().status
        except Exception as e:
            got[vm] = type(e).__name__
        c.close()
    t0.join(60)
    try:
        rc = proc.wait(30)
    except Exception as e:
        rc = type(e).__name__
    h.proc = None
    ok("etcd-start-parked-shutdown", held and rc == 0 and
       all(v == 503 or isinstance(v, str) for v in got.values()),
       "held %s; parked starts' answers %s; exit %s" % (held, got, rc))

finally:
    for x in daemons:
        x.stop()
    etcd.stop()
    shutil.rmtree(tmp, ignore_errors=True)
