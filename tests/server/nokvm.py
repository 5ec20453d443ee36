"""A host without a usable /dev/kvm (a newcomer's laptop without virtualization enabled, a VM
without nested virtualization): a start is refused with 503 and a message that names the
device and what to do, nothing is recorded (no crash, no event, no VMM spawned), the host's
and the health's kvm say so, the CLI prints the message and exits 1; the check is made at
each start, so the same start succeeds once the host has KVM; an autostart VM stays stopped.

The daemon's KVM device is VSRV_TEST_KVM (tests/server/lib.py's Daemon kvm=): a path in the
test's directory, missing and then a character device (a link to /dev/null), so that this
runs the same on a host with KVM; where /dev/kvm is not usable, a daemon that checks the
real /dev/kvm too. The VMM is a sleep (no KVM needed once the check lets it start)."""
import json, os, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *

tmp = tempfile.mkdtemp(prefix="vsrv-nokvm.")
KVM = os.path.join(tmp, "kvm")          # not there yet: a host without KVM
SLEEP_ARG = "120.%d" % os.getpid()
SLEEP_VMM = os.path.join(tmp, "vsrv-sleep")
LAUNCHES = os.path.join(tmp, "launches")
with open(SLEEP_VMM, "w") as f:
    f.write('#!/bin/sh\necho "$1" >> %s\n[ "$1" = run ] && exec sleep %s\nexec %s "$@"\n'
            % (LAUNCHES, SLEEP_ARG, VSRV))
os.chmod(SLEEP_VMM, 0o755)


def launches():
    try:
        return open(LAUNCHES).read().split()
    except FileNotFoundError:
        return []


data = os.path.join(tmp, "data")
os.makedirs(os.path.join(data, "images"))
shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(data, "images", "k.elf"))
d = Daemon(data, extra=["--vmm", SLEEP_VMM], kvm=KVM).start()
adm = d.login("admin", "adminpass1")
env = dict(os.environ, VSRV_SERVER="http://127.0.0.1:%d" % d.port, VSRV_TOKEN=adm)


def cli(*args):
    return subprocess.run([VSRV] + list(args), env=env, capture_output=True, text=True, timeout=60)


try:
    st, js = d.req("POST", "/api/v1/vms", {"name": "v1", "kernel": "k.elf", "memory_mib": 32,
                                            "autostart": True}, token=adm)
    ok("create", st in (200, 201), "%s %s" % (st, js))

    # --- the host says it has no KVM ------------------------------------------------------
    st, h = d.req("GET", "/api/v1/health")
    ok("health-kvm-false", st == 200 and h.get("kvm") is False, str(h))
    st, h = d.req("GET", "/api/v1/host", token=adm)
    k = (h or {}).get("kvm") or {}
    ok("host-kvm-unavailable", st == 200 and k.get("available") is False and k.get("device") == KVM
       and KVM in (k.get("message") or "") and "modprobe kvm_intel" in k["message"] and
       "virtualization" in k["message"], str(h))

    st, hs = d.req("GET", "/api/v1/hosts", token=adm)
    r = cli("hosts")
    head, row = (r.stdout.split("\n") + ["", ""])[:2]
    ok("hosts-kvm-no", st == 200 and [x.get("kvm") for x in hs["hosts"] if x.get("this")] == [False] and
       r.returncode == 0 and head.split()[-1] == "KVM" and row.split()[-1] == "no", str(hs) + r.stdout + r.stderr)

    # --- a start: 503 with the reason and what to do; nothing recorded -------------------
    ev0 = d.req("GET", "/api/v1/events?limit=1000", token=adm)[1]["events"]
    st, js = d.req("POST", "/api/v1/vms/v1/start", token=adm)
    msg = err_message(js)
    ok("start-503", st == 503 and js["error"]["code"] == "unavailable" and KVM in msg and
       "virtualization" in msg and "modprobe kvm_intel" in msg and msg.startswith("v1: "),
       "%s %s" % (st, js))
    time.sleep(0.3)     # (a crash, were one recorded, would be by now: the VMM fails at once)
    st, s = d.req("GET", "/api/v1/vms/v1/status", token=adm)
    ok("start-refused-not-crashed", st == 200 and s["state"] == "stopped" and
       not s.get("last_exit"), str(s))
    ev1 = d.req("GET", "/api/v1/events?limit=1000", token=adm)[1]["events"]
    new = [(e["type"], e["object"]) for e in ev1 if e["id"] not in {x["id"] for x in ev0}]
    ok("start-refused-no-event-no-vmm", not [e for e in new if e[0].startswith("vm-")] and
       "run" not in launches() and "monitor" not in launches(), str((new, launches())))

    # --- the CLI prints the server's message, status 1 (a request the server refused) ----
    r = cli("vm", "start", "v1")
    ok("cli-start-message", r.returncode == 1 and KVM in r.stderr and "modprobe" in r.stderr,
       "%d %r %r" % (r.returncode, r.stdout, r.stderr))

    # --- an autostart VM of a daemon started without KVM stays stopped ------------------
    d.stop()
    d.start()
    adm = env["VSRV_TOKEN"] = d.login("admin", "adminpass1")
    time.sleep(0.3)
    st, s = d.req("GET", "/api/v1/vms/v1/status", token=adm)
    ok("autostart-without-kvm-stopped", st == 200 and s["state"] == "stopped" and
       not s.get("last_exit") and "run" not in launches() and
       "not started: this host has no %s" % KVM in log_of(d), str((s, launches())))

    # --- the host gains KVM (its module loaded): checked again at the next start ---------
    os.symlink("/dev/null", KVM)
    st, h = d.req("GET", "/api/v1/health")
    st2, hj = d.req("GET", "/api/v1/host", token=adm)
    hs = d.req("GET", "/api/v1/hosts", token=adm)[1]
    ok("health-kvm-true-later", h.get("kvm") is True and hj["kvm"]["available"] is True and
       hj["kvm"]["message"] is None and [x.get("kvm") for x in hs["hosts"] if x.get("this")] == [True],
       str((h, hj, hs)))
    st, js = d.req("POST", "/api/v1/vms/v1/start", token=adm)
    ok("start-once-kvm-there", st == 202 and wait_for(lambda: "run" in launches(), 10),
       "%s %s %s" % (st, js, launches()))
    d.req("POST", "/api/v1/vms/v1/off", token=adm)
    d.wait_state(adm, "v1", ("stopped",), 20)

    # --- KVM gone while a VM runs: its restart by policy is refused once, said so ---------
    d.req("PATCH", "/api/v1/vms/v1", {"restart_policy": "always"}, token=adm)
    n0 = launches().count("run")
    st, js = d.req("POST", "/api/v1/vms/v1/start", token=adm)
    ok("start-always", st == 202 and wait_for(lambda: launches().count("run") > n0, 10),
       "%s %s" % (st, js))
    os.unlink(KVM)
    for p in os.listdir("/proc"):       # its VMM (the sleep) dies: a crash
        try:
            if p.isdigit() and open("/proc/%s/cmdline" % p, "rb").read() == \
                    b"sleep\0" + SLEEP_ARG.encode() + b"\0":
                os.kill(int(p), 9)
        except OSError:
            pass
    s = d.wait_state(adm, "v1", ("crashed",), 20)
    time.sleep(0.5)     # (a restart, were one made, would be by now)
    lines = [l for l in log_of(d).splitlines() if "vm v1" in l][-4:]
    ok("restart-without-kvm-said", s is not None and launches().count("run") == n0 + 1 and
       s["restarts"] == 0 and any("signal 9; not restarted" in l for l in lines) and
       any("restart failed" in l for l in lines) and not any(l.endswith("; restarted") for l in lines),
       "%s %s" % (s, lines))
    d.req("PATCH", "/api/v1/vms/v1", {"restart_policy": "never"}, token=adm)

    # --- a device that is not a character device (a regular file) is not KVM ------------
    open(KVM, "w").close()
    st, js = d.req("POST", "/api/v1/vms/v1/start", token=adm)
    ok("start-not-a-device-503", st == 503 and "not a character device" in err_message(js),
       "%s %s" % (st, js))
finally:
    d.stop()

# --- the real /dev/kvm, where this host has none usable -------------------------------------
if os.access("/dev/kvm", os.R_OK | os.W_OK):
    skip("real-dev-kvm-503", "this host has a usable /dev/kvm (the refusal is checked above "
         "with a missing device)")
else:
    d2 = Daemon(os.path.join(tmp, "data2"), extra=["--vmm", SLEEP_VMM], kvm="/dev/kvm").start()
    try:
        a2 = d2.login("admin", "adminpass1")
        os.makedirs(os.path.join(d2.data, "images"), exist_ok=True)
        shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(d2.data, "images", "k.elf"))
        d2.req("POST", "/api/v1/vms", {"name": "r1", "kernel": "k.elf", "memory_mib": 32}, token=a2)
        st, js = d2.req("POST", "/api/v1/vms/r1/start", token=a2)
        st2, s = d2.req("GET", "/api/v1/vms/r1/status", token=a2)
        h = d2.req("GET", "/api/v1/health")[1]
        ok("real-dev-kvm-503", st == 503 and "/dev/kvm" in err_message(js) and
           s["state"] == "stopped" and h["kvm"] is False, "%s %s %s" % (st, js, s))
    finally:
        d2.stop()

# a VM whose start was not refused (a server without the check) left its sleep behind: ended
for p in os.listdir("/proc"):
    try:
        if p.isdigit() and open("/proc/%s/cmdline" % p, "rb").read() == b"sleep\0" + SLEEP_ARG.encode() + b"\0":
            os.kill(int(p), 9)
    except OSError:
        pass
shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
