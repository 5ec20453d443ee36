"""Black-box tests of VM lifecycles under the server (needs /dev/kvm and the test guests):
many VMs, console, pause/resume, a VMM killed with SIGKILL, restart policy, a daemon
restart with VMs running, admission control, cgroup limits."""
import json, os, shutil, signal, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *

if not have_kvm():
    skip("server-vms", "no usable /dev/kvm or build/guests/hello.elf")
    sys.exit(0)

tmp = tempfile.mkdtemp(prefix="vsrv-vms.")
d = Daemon(os.path.join(tmp, "data"), extra=["--shutdown-timeout", "1", "--host-memory", "2048"]).start()
img = os.path.join(d.data, "images")
for g in ("hello.elf", "console.elf"):
    shutil.copy(os.path.join(GUESTS, g), img)
adm = d.login("admin", "adminpass1")



def metrics_grouping_error(text):
    """Prometheus's text format: each metric's TYPE once, then all of its samples together.
    Returns None when the exposition follows that, else a description of the first fault."""
    seen, current, members = set(), None, ()
    for raw in text.decode().splitlines():
        if raw.startswith("# TYPE "):
            name, kind = raw.split()[2], raw.split()[3]
            if name in seen:
                return "TYPE of %s twice" % name
            seen.add(name)
            current = name
            members = (name, name + "_bucket", name + "_sum", name + "_count") \
                if kind in ("histogram", "summary") else (name,)
        elif raw and not raw.startswith("#"):
            name = raw.split("{")[0].split(" ")[0]
            if name not in members:
                return "sample %r outside its group (current group %s)" % (raw, current)
    return None

def console(name):
    st, text = d.req("GET", "/api/v1/vms/%s/console" % name, token=adm)
    return text if st == 200 and isinstance(text, bytes) else b""


def status(name):
    return d.req("GET", "/api/v1/vms/%s/status" % name, token=adm)[1]


try:
    # --- a guest that prints its banner and ends ---------------------------------------
    d.req("POST", "/api/v1/vms", {"name": "hello", "kernel": "hello.elf", "memory_mib": 32}, token=adm)
    st, js = d.req("POST", "/api/v1/vms/hello/start", token=adm)
    js = d.wait_state(adm, "hello", ("stopped", "crashed"))
    ok("hello-runs-to-the-end", st == 202 and js and js["state"] == "stopped" and
       js["last_exit"]["exit"] == "exited 33" and b"Hello from the vsrv test guest" in console("hello"), str(js))
    # last_exit says it for people: the guest ended by itself, not a failure to start (even
    # when it ended before the server saw its VMM up).
    ok("hello-exit-reason", js and js["last_exit"]["reason"] == "the guest ended itself (debug-exit value 16, "
       "exit status 33)" and js["last_exit"]["at_start"] is False and js["last_exit"]["status"] == 33, str(js))

    # --- many VMs: start all, console works, stop all ------------------------------------
    N = 12
    for i in range(N):
        st, js = d.req("POST", "/api/v1/vms", {"name": "c%d" % i, "kernel": "console.elf", "memory_mib": 32},
                       token=adm)
    t0 = time.time()
    codes = [d.req("POST", "/api/v1/vms/c%d/start" % i, token=adm)[0] for i in range(N)]
    up = wait_for(lambda: all(b"console: ready" in console("c%d" % i) for i in range(N)), 20)
    ok("start-%d-vms" % N, codes == [202] * N and up, "codes %s, took %.1fs" % (codes, time.time() - t0))
    st, js = d.req("POST", "/api/v1/vms/c0/start", token=adm)
    ok("start-running-409", st == 409, str(st))
    st, js = d.req("PATCH", "/api/v1/vms/c0", {"cpus": 2}, token=adm)
    ok("edit-hardware-while-running-409", st == 409, str(st))
    st, js = d.req("PATCH", "/api/v1/vms/c0", {"description": "still running"}, token=adm)
    ok("edit-description-while-running", st == 200, str(st))
    st, js = d.req("DELETE", "/api/v1/vms/c0", token=adm)
    ok("delete-running-409", st == 409, str(st))
    st, _ = d.req("POST", "/api/v1/vms/c1/console", {"input": "ping-from-api\r"}, token=adm)
    ok("console-input", st == 204 and wait_for(lambda: b"echo: ping-from-api" in console("c1"), 5),
       console("c1")[-200:])
    # The live console: a parked stream that wakes when the guest prints.
    c = d.conn(timeout=10)
    c.request("GET", "/api/v1/vms/c1/console?follow=1", headers={"Authorization": "Bearer " + adm})
    resp = c.getresponse()
    d.req("POST", "/api/v1/vms/c1/console", {"input": "live-one\r"}, token=adm)
    buf = b""
    t0 = time.time()
    while b"echo: live-one" not in buf and time.time() - t0 < 5:
        chunk = resp.read1(4096)
        if not chunk:
            break
        buf += chunk
    c.close()
    ok("console-follow-stream", resp.status == 200 and b"echo: live-one" in buf, repr(buf[-200:]))
    s1 = status("c2")
    st, _ = d.req("POST", "/api/v1/vms/c2/pause", token=adm)
    s2 = status("c2")
    d.req("POST", "/api/v1/vms/c2/console", {"input": "while-paused\r"}, token=adm)
    time.sleep(0.3)
    paused_quiet = b"echo: while-paused" not in console("c2")
    st2, _ = d.req("POST", "/api/v1/vms/c2/resume", token=adm)
    resumed = wait_for(lambda: b"echo: while-paused" in console("c2"), 5)
    ok("pause-resume", st == 202 and s2["state"] == "paused" and paused_quiet and st2 == 202 and resumed and
       status("c2")["pid"] == s1["pid"], str((s1, s2)))
    # Paused through the VMM's control socket: its vCPUs park, the process itself runs.
    ok("pause-through-control-socket", s1.get("vmm_state") == "running" and s2.get("vmm_state") == "paused" and
       status("c2").get("vmm_state") == "running" and s1["vcpu_exits"] > 0 and len(s1["vcpus"]) == 1,
       str((s1, s2)))
    st, text = d.req("GET", "/metrics", token=adm)
    ok("metrics-per-vm", b'vsrv_vm_memory_bytes{vm="c3"}' in text and b'vsrv_vm_cpu_seconds_total{vm="c3"}' in text
       and b'vsrv_vm_vcpu_exits_total{vm="c3"}' in text and b'vsrv_vm_vcpu_seconds_total{vm="c3"}' in text,
       text[-300:])
    ok("metrics-grouped", metrics_grouping_error(text) is None, str(metrics_grouping_error(text)))

    # --- a VMM killed with SIGKILL: crashed, with exit status and console lines ------------
    pid = status("c3")["pid"]
    os.kill(pid, signal.SIGKILL)
    js = d.wait_state(adm, "c3", ("crashed",))
    st, ev = d.req("GET", "/api/v1/events?limit=1000", token=adm)
    crash = [e for e in ev["events"] if e["type"] == "vm-crashed" and e["object"] == "c3"]
    ok("vmm-sigkill-crashed-reason", js and js["last_exit"]["reason"] == "the VMM was killed by signal 9" and
       crash and crash[-1]["data"]["last_exit"]["reason"] == js["last_exit"]["reason"], str((js, crash)))
    ok("vmm-sigkill-crashed", js and js["last_exit"]["exit"] == "signal 9" and crash and
       crash[-1]["data"]["signal"] == 9 and "console: ready" in crash[-1]["data"]["console"], str((js, crash)))

    # --- restart policy ----------------------------------------------------------------
    d.req("PATCH", "/api/v1/vms/c4", {"restart_policy": "on-failure"}, token=adm)
    pid = status("c4")["pid"]
    os.kill(pid, signal.SIGKILL)
    js = wait_for(lambda: (lambda s: s if s["state"] == "running" and s["restarts"] == 1 and s["pid"]
                           and s["pid"] != pid else None)(status("c4")), 10)
    ok("restart-policy-on-failure", js, str(status("c4")))

    # --- off, shutdown (times out into off), reset ----------------------------------------
    st, _ = d.req("POST", "/api/v1/vms/c5/off", token=adm)
    js = d.wait_state(adm, "c5", ("stopped",))
    ok("off", st == 202 and js and js["last_exit"]["exit"] == "signal 9", str(js))
    ok("off-exit-reason", js and js["last_exit"]["reason"] == "turned off on request", str(js))
    # shutdown presses the ACPI power button: the console guest powers off by itself (exit
    # status 0, well before the 1 s timeout); a paused guest cannot, so the timeout turns it off.
    t0 = time.time()
    st, _ = d.req("POST", "/api/v1/vms/c6/shutdown", token=adm)
    js = d.wait_state(adm, "c6", ("stopped",), 10)
    ok("shutdown-power-button", st == 202 and js and js["last_exit"]["exit"] == "exited 0" and
       b"console: power button" in console("c6"), "%s after %.2fs" % (status("c6"), time.time() - t0))
    d.req("POST", "/api/v1/vms/c1/pause", token=adm)
    st, _ = d.req("POST", "/api/v1/vms/c1/shutdown", token=adm)
    js = d.wait_state(adm, "c1", ("stopped",), 10)
    ok("shutdown-timeout-turns-off", st == 202 and js and js["last_exit"]["exit"] == "signal 9", str(status("c1")))
    pid = status("c7")["pid"]
    st, _ = d.req("POST", "/api/v1/vms/c7/reset", token=adm)
    js = wait_for(lambda: (lambda s: s if s["state"] == "running" and s["pid"] and s["pid"] != pid else None)(status("c7")), 10)
    ok("reset", st == 202 and js, str(status("c7")))

    # --- the daemon restarts; VMs keep running and are re-attached -------------------------
    before = {("c%d" % i): status("c%d" % i)["pid"] for i in (8, 9, 10, 11)}
    d.stop()
    alive = all(pid_alive(p) for p in before.values())
    d.start()
    adm = d.login("admin", "adminpass1")
    after = {n: status(n) for n in before}
    ok("daemon-restart-vms-survive", alive and all(after[n]["state"] == "running" and after[n]["pid"] == before[n]
                                                   for n in before), str((before, after)))
    st, _ = d.req("POST", "/api/v1/vms/c8/console", {"input": "after-restart\r"}, token=adm)
    ok("console-after-daemon-restart", st == 204 and wait_for(lambda: b"echo: after-restart" in console("c8"), 5),
       str(st))
    os.kill(before["c9"], signal.SIGKILL)
    js = d.wait_state(adm, "c9", ("crashed",))
    ok("reattached-vm-crash-recorded", js and js["last_exit"]["exit"] == "signal 9", str(js))
    st, _ = d.req("POST", "/api/v1/vms/c10/off", token=adm)
    js = d.wait_state(adm, "c10", ("stopped",))
    ok("reattached-vm-off", st == 202 and js, str(status("c10")))
    # A VM that ended while the daemon was down is recorded on start.
    d.stop()
    os.kill(before["c11"], signal.SIGKILL)
    time.sleep(0.3)
    d.start()
    adm = d.login("admin", "adminpass1")
    js = d.wait_state(adm, "c11", ("crashed",), 5)
    ok("ended-while-daemon-down", js and js["last_exit"]["exit"] == "signal 9", str(status("c11")))

    # --- a VM on a VHD disk: `vsrv run --disk PATH,format=vhd,...` opens it ------------------
    d.req("POST", "/api/v1/disks", {"name": "wd", "size": 64 << 20, "format": "vhd"}, token=adm)
    d.req("POST", "/api/v1/vms", {"name": "withdisk", "kernel": "console.elf", "memory_mib": 32,
                                  "disks": [{"disk": "wd"}]}, token=adm)
    st, _ = d.req("POST", "/api/v1/vms/withdisk/start", token=adm)
    pid = wait_for(lambda: status("withdisk")["pid"], 5)
    wd = os.path.join(d.data, "disks", "wd.vhd")
    fds = wait_for(lambda: [f for f in os.listdir("/proc/%d/fd" % pid)
                            if os.path.realpath("/proc/%d/fd/%s" % (pid, f)) == wd] if pid else None, 5)
    ok("vm-vhd-disk-opened", st == 202 and fds, str(status("withdisk")))
    st, _ = d.req("DELETE", "/api/v1/disks/wd", token=adm)
    ok("vm-vhd-disk-in-use-409", st == 409, str(st))
    d.req("POST", "/api/v1/vms/withdisk/off", token=adm)
    d.wait_state(adm, "withdisk", ("stopped",))

    # --- undo disks: keep, commit (a task with progress), discard; raw disks refused ----------
    d.req("POST", "/api/v1/disks", {"name": "ub", "size": 16 << 20, "format": "vhd"}, token=adm)
    ub = os.path.join(d.data, "disks", "ub.vhd")
    size = d.req("GET", "/api/v1/disks/ub", token=adm)[1]["size"]
    base_raw, mod_raw = os.path.join(tmp, "base.raw"), os.path.join(tmp, "mod.raw")
    with open(base_raw, "wb") as f:
        f.truncate(size); f.seek(1 << 20); f.write(b"B" * 65536)
    with open(mod_raw, "wb") as f:
        f.truncate(size); f.seek(1 << 20); f.write(b"B" * 65536); f.seek(5 << 20); f.write(b"M" * 3 * 1048576)
    os.unlink(ub)
    subprocess.run([VSRV, "img", "convert", "-O", "vhd", "-o", "subformat=dynamic", base_raw, ub], check=True)
    d.req("POST", "/api/v1/vms", {"name": "undo", "kernel": "console.elf", "memory_mib": 32, "undo_disks": "keep",
                                  "disks": [{"disk": "ub"}]}, token=adm)
    def undo_file():
        for x in os.listdir(os.path.join(d.data, "vms")):
            p = os.path.join(d.data, "vms", x, "undo-0.vhd")
            if os.path.exists(p): return p
        return None
    before = open(ub, "rb").read()
    st, _ = d.req("POST", "/api/v1/vms/undo/start", token=adm)
    pid = wait_for(lambda: status("undo")["pid"], 5)
    uf = undo_file()
    opened = wait_for(lambda: uf and any(os.path.realpath("/proc/%d/fd/%s" % (pid, f)) == uf
                                         for f in os.listdir("/proc/%d/fd" % pid)), 5)
    ok("undo-start-on-differencing", st == 202 and uf and opened, str((st, uf)))
    d.req("POST", "/api/v1/vms/undo/off", token=adm)
    d.wait_state(adm, "undo", ("stopped",))
    time.sleep(0.2)
    ok("undo-keep", undo_file() == uf and open(ub, "rb").read() == before, str(undo_file()))
    # The guest's writes, made here: a differencing disk over ub holding mod.raw's changes.
    def fake_guest_writes():
        os.unlink(uf)
        subprocess.run([VSRV, "img", "convert", "-O", "vhd", "-B", ub, mod_raw, uf], check=True)
    fake_guest_writes()
    st, js = d.req("POST", "/api/v1/vms/undo/off?undo=commit", token=adm)
    ok("undo-off-needs-running", st == 409, str(st))
    st, js = d.req("POST", "/api/v1/vms/undo/off?undo=merge", token=adm)
    ok("undo-bad-action-400", st == 400, str(st))
    d.req("POST", "/api/v1/vms/undo/start", token=adm)
    wait_for(lambda: status("undo")["pid"], 5)
    st, _ = d.req("POST", "/api/v1/vms/undo/off?undo=commit", token=adm)
    d.wait_state(adm, "undo", ("stopped",))
    def commit_task():
        ts = d.req("GET", "/api/v1/tasks", token=adm)[1]["tasks"]
        t = [t for t in ts if t["kind"] == "undo-commit" and t["object"] == "undo"]
        return t[0] if t and t[0]["state"] != "running" else None
    t = wait_for(commit_task, 20)
    r = subprocess.run([VSRV, "img", "compare", ub, mod_raw], capture_output=True, text=True)
    ev = d.req("GET", "/api/v1/events?limit=1000", token=adm)[1]["events"]
    kinds = [e["type"] for e in ev if e.get("object") == "undo" and e["type"].startswith("task-")]
    ok("undo-commit-task", st == 202 and t and t["state"] == "done" and t["progress"] == 1 and
       r.returncode == 0 and not undo_file() and "task-started" in kinds and "task-done" in kinds,
       str((t, r.stdout, kinds)))
    ok("undo-commit-base-clean", subprocess.run([VSRV, "img", "check", ub]).returncode == 0)
    # discard: a new undo disk, changes thrown away.
    d.req("PATCH", "/api/v1/vms/undo", {"undo_disks": "discard"}, token=adm)
    committed = open(ub, "rb").read()
    d.req("POST", "/api/v1/vms/undo/start", token=adm)
    wait_for(lambda: status("undo")["pid"], 5)
    uf = undo_file()
    d.req("POST", "/api/v1/vms/undo/off", token=adm)
    d.wait_state(adm, "undo", ("stopped",))
    ok("undo-discard", uf and wait_for(lambda: not undo_file(), 5) and open(ub, "rb").read() == committed, str(uf))
    # undo disks need VHD disks: a raw one refuses the start, nothing runs.
    d.req("POST", "/api/v1/disks", {"name": "ur", "size": 1 << 20}, token=adm)
    d.req("POST", "/api/v1/vms", {"name": "undoraw", "kernel": "console.elf", "memory_mib": 32,
                                  "undo_disks": "keep", "disks": [{"disk": "ur"}]}, token=adm)
    st, js = d.req("POST", "/api/v1/vms/undoraw/start", token=adm)
    ok("undo-raw-refused", st == 400 and status("undoraw")["state"] == "stopped", str((st, js)))

    # --- admission control ---------------------------------------------------------------
    st, host = d.req("GET", "/api/v1/host", token=adm)
    d.req("POST", "/api/v1/vms", {"name": "big", "kernel": "console.elf", "memory_mib": 4096}, token=adm)
    st, js = d.req("POST", "/api/v1/vms/big/start", token=adm)
    ok("admission-control", st == 409 and js["error"]["code"] == "insufficient_resources" and
       status("big")["state"] == "stopped", str((st, js)))

    # --- cgroup limits -------------------------------------------------------------------
    d.req("POST", "/api/v1/vms", {"name": "limited", "kernel": "console.elf", "memory_mib": 32,
                                  "cpu_limit": 50, "cpu_weight": 200}, token=adm)
    d.req("POST", "/api/v1/vms/limited/start", token=adm)
    wait_for(lambda: status("limited")["pid"], 5)
    pid = status("limited")["pid"]
    cg = open("/proc/%d/cgroup" % pid).read() if pid else ""
    if host["cgroups"] == "v1" and ":cpu:/" in cg or ":cpu,cpuacct:/" in cg:
        path = [l.split(":", 2)[2] for l in cg.splitlines() if l.split(":")[1] in ("cpu", "cpu,cpuacct")][0]
        base = "/sys/fs/cgroup/cpu" + path
        q = open(base + "/cpu.cfs_quota_us").read().strip() if os.path.exists(base + "/cpu.cfs_quota_us") else ""
        ok("cgroup-cpu-limit", "/vsrv-" in path and q == "50000", "%s quota=%s" % (path, q))
    elif host["cgroups"] == "v2" and "::/" in cg:
        path = cg.strip().split("::", 1)[1]
        q = open("/sys/fs/cgroup" + path + "/cpu.max").read().strip()
        ok("cgroup-cpu-limit", q.startswith("50000 "), q)
    else:
        skip("cgroup-cpu-limit", "cgroups not writable here (%s)" % host["cgroups"])
    d.req("POST", "/api/v1/vms/limited/off", token=adm)

    # --- clean up: everything off, delete ------------------------------------------------
    for i in range(N):
        d.req("POST", "/api/v1/vms/c%d/off" % i, token=adm)
    done = wait_for(lambda: all(status("c%d" % i)["state"] in ("stopped", "crashed") for i in range(N)), 10)
    codes = [d.req("DELETE", "/api/v1/vms/c%d" % i, token=adm)[0] for i in range(N)]
    ok("delete-all", done and codes == [204] * N and not os.path.exists(os.path.join(d.data, "vms", "2")),
       str(codes))
finally:
    # Leave no VM behind: kill the shims' VMMs we know of.
    for dd in (os.path.join(d.data, "vms"),):
        for v in os.listdir(dd) if os.path.isdir(dd) else []:
            try:
                os.kill(int(open(os.path.join(dd, v, "vmm.pid")).read()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
