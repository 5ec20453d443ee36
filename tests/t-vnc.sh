#!/usr/bin/env bash
# vsrv run --vnc: the options (refusals with their reasons, without KVM), the hostile-client
# test under AddressSanitizer (build-asan, `make asan`), and with KVM a guest whose VNC server
# answers a client while garbage clients come and go, in the sandbox, and the guest goes on.
# The pixels, keys and pointer are proved by build/tests/unit-vnc, clients that stop reading by
# unit-vnc_stall (the server on a test display); a guest's own framebuffer needs a display
# device (bochs-display).
# tests/run: alone (the unit tests it runs under ASan check deadlines in seconds, as unit-vnc and unit-vnc_hostile)
source "$(dirname "$0")/lib.sh"

# --- options ---
out=$("$VSRV" run --kernel "$GUESTS/hello.elf" --vnc tcp:0.0.0.0:5999 2>&1)
rc=$?
if [ "$rc" -eq 1 ] && grep -q "not a loopback address" <<<"$out" && grep -q "password-file" <<<"$out"; then
	pass vnc-refuse-open-address
else
	fail vnc-refuse-open-address "status $rc: $out"
fi
out=$("$VSRV" run --kernel "$GUESTS/hello.elf" --vnc 5900 2>&1)
rc=$?
[ "$rc" -eq 1 ] && grep -q "expected unix:PATH or tcp:HOST:PORT" <<<"$out" &&
	pass vnc-bad-spec || fail vnc-bad-spec "status $rc: $out"
out=$("$VSRV" run --kernel "$GUESTS/hello.elf" --vnc "tcp:0.0.0.0:5999,password-file=$TMP/none" 2>&1)
rc=$?
[ "$rc" -eq 1 ] && grep -q "password file $TMP/none" <<<"$out" &&
	pass vnc-missing-password-file || fail vnc-missing-password-file "status $rc: $out"
"$VSRV" run --help | grep -q -- "--vnc SPEC" && pass vnc-usage || fail vnc-usage "not in vsrv run --help"

# --- the unit tests of the server under ASan (build/tests/unit-vnc* run by themselves) ---
# (the two at the same time: they mostly wait for what a client gets, or does not)
vnc_hostile_asan() {
	asan=$ROOT/build-asan/tests/unit-vnc_hostile
	if [ -x "$asan" ]; then
		if out=$(VNC_FUZZ_ITERS=${VNC_FUZZ_ITERS:-2000} ASAN_OPTIONS=detect_leaks=1 \
			 UBSAN_OPTIONS=halt_on_error=1 timeout 500 "$asan" 2>&1) && ! grep -q "^FAIL" <<<"$out"; then
			pass "vnc-hostile-asan ($(grep -c '^PASS' <<<"$out") cases, $(grep '^# random' <<<"$out" | sed 's/^# //'))"
		else
			echo "$out" | tail -30
			fail vnc-hostile-asan "a FAIL, a sanitizer report or a crash"
		fi
	else
		skip vnc-hostile-asan "no ASan build ($asan: make asan)"
	fi
}
vnc_asan() {
	asan=$ROOT/build-asan/tests/unit-vnc
	if [ -x "$asan" ]; then
		if out=$(ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 timeout 500 "$asan" 2>&1) &&
		   ! grep -q "^FAIL" <<<"$out"; then
			pass "vnc-asan ($(grep -c '^PASS' <<<"$out") cases)"
		else
			echo "$out" | tail -30
			fail vnc-asan "a FAIL, a sanitizer report or a crash"
		fi
	else
		skip vnc-asan "no ASan build ($asan: make asan)"
	fi
}
par_start hostile vnc_hostile_asan
par_start vnc vnc_asan
par_wait
# a client that stops reading (the loop's answers are timed: after the others, not beside them)
asan=$ROOT/build-asan/tests/unit-vnc_stall
if [ -x "$asan" ]; then
	if out=$(ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 timeout 300 "$asan" 2>&1) &&
	   ! grep -q "^FAIL" <<<"$out"; then
		pass "vnc-stall-asan ($(grep -c '^PASS' <<<"$out") cases)"
	else
		echo "$out" | tail -30
		fail vnc-stall-asan "a FAIL, a sanitizer report or a crash"
	fi
else
	skip vnc-stall-asan "no ASan build ($asan: make asan)"
fi

# WebSocket clients that stop mid-message, cut their messages across frames (timed too)
asan=$ROOT/build-asan/tests/unit-vnc_ws
if [ -x "$asan" ]; then
	if out=$(ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 timeout 300 "$asan" 2>&1) &&
	   ! grep -q "^FAIL" <<<"$out"; then
		pass "vnc-ws-asan ($(grep -c '^PASS' <<<"$out") cases)"
	else
		echo "$out" | tail -30
		fail vnc-ws-asan "a FAIL, a sanitizer report or a crash"
	fi
else
	skip vnc-ws-asan "no ASan build ($asan: make asan)"
fi

# --- a guest ---
if ! have_kvm; then skip vnc-guest "$kvm_reason"; finish; exit; fi
python3 - "$VSRV" "$GUESTS/console.elf" "$TMP" <<'EOF'
import json, os, random, select, socket, stat, struct, subprocess, sys, time
vsrv, guest, tmp = sys.argv[1:4]
fails = 0
def ok(name, cond, why="failed"):
    global fails
    if cond: print("PASS " + name)
    else: print("FAIL %s: %s" % (name, why)); fails += 1

vnc = os.path.join(tmp, "vnc.sock"); ser = os.path.join(tmp, "ser.sock"); ctl = os.path.join(tmp, "ctl.sock")
p = subprocess.Popen([vsrv, "run", "--kernel", guest, "--serial", "unix:" + ser, "--vnc", "unix:" + vnc,
                      "--control", ctl], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
for _ in range(250):
    if os.path.exists(vnc) and os.path.exists(ser) and os.path.exists(ctl): break
    time.sleep(0.02)
ok("vnc-socket-mode", os.path.exists(vnc) and stat.S_IMODE(os.stat(vnc).st_mode) == 0o600)

def recvn(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d: raise EOFError
        b += d
    return b

def client():
    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(vnc)
    s.sendall(b"RFB 003.008\n"); recvn(s, 12)
    n = recvn(s, 1)[0]; types = recvn(s, n)
    s.sendall(b"\x01"); assert recvn(s, 4) == b"\0\0\0\0"
    s.sendall(b"\x01"); si = recvn(s, 24)
    w, h = struct.unpack(">HH", si[:4]); recvn(s, struct.unpack(">I", si[20:24])[0])
    return s, w, h

def full_update(s, w, h):
    s.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, w, h))
    t, _, n = struct.unpack(">BBH", recvn(s, 4)); px = bytearray(w * h * 4)
    for _ in range(n):
        x, y, rw, rh, enc = struct.unpack(">HHHHi", recvn(s, 12))
        assert enc == 0
        for yy in range(y, y + rh):
            px[(yy * w + x) * 4:(yy * w + x + rw) * 4] = recvn(s, rw * 4)
    return bytes(px)

try:
    s, w, h = client()
    ok("vnc-guest-blank-size", (w, h) == (640, 480), (w, h))
    px = full_update(s, w, h)
    ok("vnc-guest-blank-black", px == bytes(len(px)))
    s.sendall(struct.pack(">BBHI", 4, 1, 0, ord("a")) + struct.pack(">BBHH", 5, 1, 10, 10))
except Exception as e:
    ok("vnc-guest-client", False, repr(e)); s = None
random.seed(1)
for i in range(50):
    try:
        g = socket.socket(socket.AF_UNIX); g.settimeout(5); g.connect(vnc)
        if i % 2: g.sendall(b"RFB 003.008\n" + bytes(random.getrandbits(8) for _ in range(300)))
        g.close()
    except OSError:
        pass
try:
    s2, w, h = client()
    ok("vnc-guest-after-garbage", full_update(s2, w, h) == bytes(w * h * 4))
except Exception as e:
    ok("vnc-guest-after-garbage", False, repr(e))
sr = socket.socket(socket.AF_UNIX); sr.settimeout(10); sr.connect(ser)
up = False
for _ in range(30):
    sr.sendall(b"ping\n"); buf = b""; end = time.time() + 0.3
    try:
        while b"echo: ping" not in buf and time.time() < end: buf += sr.recv(4096)
    except socket.timeout: pass
    if b"echo: ping" in buf: up = True; break
ok("vnc-guest-goes-on", up and p.poll() is None)

# A client asks for full updates and reads none: the control socket and the serial console
# (the same control loop) still answer within 1.5 s each, and that client is disconnected.
try:
    c = socket.socket(socket.AF_UNIX); c.settimeout(10); c.connect(ctl); cf = c.makefile("rw")
    st, w, h = client()
    st.setblocking(False)
    req = struct.pack(">BBHHHH", 3, 0, 0, 0, w, h)
    worst, gone, t0 = 0.0, None, time.time()
    while time.time() - t0 < 20:
        if gone is None:
            try:
                while True: st.send(req)
            except BlockingIOError: pass
            except OSError: gone = time.time()
            pl = select.poll(); pl.register(st, select.POLLRDHUP)
            hup = select.POLLRDHUP | select.POLLHUP | select.POLLERR
            if gone is None and any(ev & hup for _, ev in pl.poll(0)): gone = time.time()
        a = time.time()
        cf.write(json.dumps({"cmd": "status"}) + "\n"); cf.flush()
        ans = json.loads(cf.readline())
        sr.sendall(b"ping\n"); buf = b""
        while b"echo: ping" not in buf and time.time() - a < 10: buf += sr.recv(4096)
        worst = max(worst, time.time() - a)
        if not ans.get("ok"): worst = 99
        if gone is not None and time.time() - t0 > 3: break
        time.sleep(0.05)
    ok("vnc-guest-stalled-client-loop-answers", worst < 1.5, "slowest answer %.2f s" % worst)
    ok("vnc-guest-stalled-client-dropped", gone is not None)
    st.close(); c.close()
except Exception as e:
    ok("vnc-guest-stalled-client", False, repr(e))
p.terminate(); out = p.communicate(timeout=20)[0].decode(errors="replace")
ok("vnc-guest-no-sandbox-kill", "outside the sandbox" not in out, out[-500:])
sys.exit(1 if fails else 0)
EOF
[ $? -eq 0 ] || _fails=$((_fails + 1))
finish
