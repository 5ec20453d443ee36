#!/usr/bin/env bash
# vsrv run --control: the per-VM control socket (JSON lines). Status, stats, pause (the guest
# stops answering its serial console until resume), bad messages, the ACPI power button
# (guests/console.c powers off: status 0) and quit.
source "$(dirname "$0")/lib.sh"

if ! have_kvm; then skip control "$kvm_reason"; exit 0; fi
"$VSRV" run --kernel "$GUESTS/console.elf" --control /nonexistent-dir/x.sock >/dev/null 2>&1
rc=$?
[ "$rc" -eq 1 ] && pass control-bad-path || fail control-bad-path "status $rc"

python3 - "$VSRV" "$GUESTS/console.elf" "$TMP" <<'EOF'
import json, os, socket, stat, subprocess, sys, time
vsrv, guest, tmp = sys.argv[1:4]
fails = 0
def ok(name, cond, why="failed"):
    global fails
    if cond: print("PASS " + name)
    else: print("FAIL %s: %s" % (name, why)); fails += 1

def boot(tag, cpus=2):
    ctl = os.path.join(tmp, tag + ".ctl"); ser = os.path.join(tmp, tag + ".ser")
    p = subprocess.Popen([vsrv, "run", "--kernel", guest, "--cpus", str(cpus), "--serial", "unix:" + ser,
                          "--control", ctl], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for _ in range(200):
        if os.path.exists(ctl) and os.path.exists(ser): break
        time.sleep(0.02)
    c = socket.socket(socket.AF_UNIX); c.connect(ctl); c.settimeout(10)
    s = socket.socket(socket.AF_UNIX); s.connect(ser); s.settimeout(10)
    return p, ctl, c.makefile("rw"), s

def q(f, msg):
    f.write((msg if isinstance(msg, str) else json.dumps(msg)) + "\n"); f.flush()
    return json.loads(f.readline())

def read_until(s, pat, timeout):
    s.settimeout(timeout); buf = b""; end = time.time() + timeout
    try:
        while pat not in buf and time.time() < end:
            d = s.recv(4096)
            if not d: break
            buf += d
    except socket.timeout: pass
    return buf

def ready(ser):
    # Output before the serial client connected is gone: ping until the guest echoes.
    for _ in range(30):
        ser.sendall(b"ping\n")
        if b"echo: ping" in read_until(ser, b"echo: ping", 0.3): return True
    return False

p, ctl, f, ser = boot("a")
ok("control-socket-mode", stat.S_IMODE(os.stat(ctl).st_mode) == 0o600, oct(os.stat(ctl).st_mode))
ok("control-guest-up", ready(ser))
r = q(f, {"cmd": "status", "id": 42})
ok("control-status", r.get("ok") and r["state"] == "running" and r["vcpus"] == 2 and r["id"] == 42
   and r["memory"] == 128 << 20, r)
r = q(f, {"cmd": "stats"})
ok("control-stats", r.get("ok") and len(r["vcpu"]) == 2 and r["exits"] > 0 and r["rss"] > 0, r)
r = q(f, {"cmd": "pause"})
ok("control-pause", r == {"ok": True, "state": "paused"}, r)
ok("control-pause-twice", q(f, {"cmd": "pause"})["ok"] is False)
ok("control-status-paused", q(f, {"cmd": "status"})["state"] == "paused")
ex0 = q(f, {"cmd": "stats"})["exits"]
ser.sendall(b"hello while paused\n")
got = read_until(ser, b"echo: hello while paused", 0.7)
ok("control-paused-guest-stopped", b"echo:" not in got and q(f, {"cmd": "stats"})["exits"] == ex0, got)
ok("control-resume", q(f, {"cmd": "resume"}) == {"ok": True, "state": "running"})
got = read_until(ser, b"echo: hello while paused", 10)
ok("control-resumed-guest-runs", b"echo: hello while paused" in got, got)
ok("control-resume-twice", q(f, {"cmd": "resume"})["ok"] is False)
# Bad messages: an error each, the connection and the VM stay.
for name, m in (("garbage", "garbage"), ("array", "[1,2]"), ("cmd-type", '{"cmd":5}'),
                ("unknown", '{"cmd":"explode"}'), ("dup", '{"cmd":"status","cmd":"quit"}'),
                ("long", "x" * 10000)):
    r = q(f, m)
    ok("control-bad-" + name, r.get("ok") is False and r.get("error"), r)
ok("control-after-bad", q(f, {"cmd": "status"})["state"] == "running")
# A second client at the same time; then the power button: the guest powers off (status 0).
g = socket.socket(socket.AF_UNIX); g.connect(ctl); g.settimeout(10); g = g.makefile("rw")
ok("control-two-clients", q(g, {"cmd": "status"})["ok"])
t0 = time.time()
ok("control-power-button", q(f, {"cmd": "power-button"}) == {"ok": True})
out = read_until(ser, b"console: power button", 10)
rc = p.wait(10)
ok("control-power-button-guest", b"console: power button" in out, out[-200:])
ok("control-power-button-exit", rc == 0, "status %d" % rc)
ok("control-socket-removed", not os.path.exists(ctl))
print("power button to VMM exit: %.1f ms" % ((time.time() - t0) * 1000))

# quit ends the VM at once with status 0, also while paused.
p, ctl, f, ser = boot("b", cpus=1)
ready(ser)
q(f, {"cmd": "pause"})
ok("control-quit", q(f, {"cmd": "quit"}) == {"ok": True})
rc = p.wait(10)
ok("control-quit-exit", rc == 0, "status %d" % rc)
sys.exit(1 if fails else 0)
EOF
