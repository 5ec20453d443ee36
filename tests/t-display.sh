#!/usr/bin/env bash
# The bochs-display end to end with guests/display.c, which finds the device on PCI, programs
# 640x480x32 through DISPI, draws a known pattern and holds:
#   - under QEMU (q35, TCG: no KVM needed) with QEMU's own bochs-display, QEMU's screendump
#     (QMP, PNG) must show the pattern pixel for pixel: this proves the guest;
#   - under `vsrv run --display bochs` (needs KVM), the control socket's screenshot must show
#     the same pattern, and a VM without a display answers a clear error.
source "$(dirname "$0")/lib.sh"

GUEST=$GUESTS/display.elf
if [ ! -f "$GUEST" ]; then fail display-guest "missing $GUEST (run make)"; finish; exit; fi

# check.py PNG|PPM FILE: compare with the pattern; exit 0 when every pixel matches.
cat >"$TMP/check.py" <<'EOF'
import struct, sys, zlib

def pattern(x, y):
    return (x & 0xff, y & 0xff, 0xc0 if (x // 32 + y // 32) & 1 else 0x30)

def png_rgb(data):
    """Decode an 8-bit RGB or RGBA PNG (any filter) into (w, h, rows of (r, g, b))."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if zlib.crc32(typ + body) != struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]:
            raise ValueError("bad CRC in " + typ.decode())
        if typ == b"IHDR": ihdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT": idat += body
        elif typ == b"IEND": break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("unsupported PNG: depth %d colour type %d interlace %d" % (depth, ctype, interlace))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 0xff
            elif f == 2: line[i] = (line[i] + b) & 0xff
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 0xff
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return w, h, rows

def main():
    data = open(sys.argv[1], "rb").read()
    w, h, rows = png_rgb(data)
    if (w, h) != (640, 480):
        print("the picture is %dx%d, not 640x480" % (w, h)); return 1
    bad = [(x, y) for y in range(h) for x in range(w) if rows[y][x] != pattern(x, y)]
    if bad:
        x, y = bad[0]
        print("%d pixels differ; first (%d,%d) is %s, expected %s" % (len(bad), x, y, rows[y][x], pattern(x, y)))
        return 1
    return 0
sys.exit(main())
EOF

# text.py PNG: exit 0 when the picture shows text (light glyph pixels on a dark screen:
# 0.05% to 20% of the pixels lit), for firmware's text screens.
cat >"$TMP/text.py" <<'EOF'
import os, sys
exec(open(os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "check.py")).read().split("def main")[0])
w, h, rows = png_rgb(open(sys.argv[1], "rb").read())
lit = sum(1 for r in rows for p in r if sum(p) > 300)
frac = lit / float(w * h)
print("%dx%d, %.3f%% lit" % (w, h, 100 * frac))
sys.exit(0 if 0.0005 <= frac <= 0.2 else 1)
EOF

# --- QEMU: the guest against QEMU's bochs-display ------------------------------------------
QEMU=$(command -v qemu-system-x86_64 || true)
if [ -z "$QEMU" ]; then
	skip display-qemu "qemu-system-x86_64 is not installed (make test-deps)"
else
	python3 - "$QEMU" "$GUEST" "$TMP" <<'EOF'
import json, os, socket, subprocess, sys, time
qemu, guest, tmp = sys.argv[1:4]
qmp_path = os.path.join(tmp, "qmp.sock"); ser = os.path.join(tmp, "qemu.ser")
png = os.path.join(tmp, "qemu.png")
p = subprocess.Popen([qemu, "-M", "q35", "-accel", "tcg", "-m", "64", "-nodefaults", "-display", "none",
                      "-serial", "file:" + ser, "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4",
                      "-device", "bochs-display", "-kernel", guest, "-append", "hold",
                      "-qmp", "unix:%s,server=on,wait=off" % qmp_path],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
def out():
    try: return open(ser, errors="replace").read()
    except OSError: return ""
end = time.time() + 120
while time.time() < end and "rt: holding" not in out() and p.poll() is None:
    time.sleep(0.2)
text = out()
if "rt: holding with status 0x10" not in text:
    p.kill(); p.wait()
    print("FAIL display-qemu-guest: the guest did not pass: %s" % text.replace("\n", "|")[-400:]); sys.exit(0)
print("PASS display-qemu-guest")
s = socket.socket(socket.AF_UNIX); s.connect(qmp_path); s.settimeout(60); f = s.makefile("rw")
def qmp(cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r: return r
json.loads(f.readline())  # greeting
qmp("qmp_capabilities")
r = qmp("screendump", filename=png, format="png")
qmp("quit"); p.wait(timeout=30)
if "error" in r:
    print("FAIL display-qemu-screendump: %s" % r["error"]); sys.exit(0)
c = subprocess.run([sys.executable, os.path.join(tmp, "check.py"), png], capture_output=True, text=True)
if c.returncode == 0: print("PASS display-qemu-screendump-pattern")
else: print("FAIL display-qemu-screendump-pattern: %s" % (c.stdout + c.stderr).strip()[-300:])
EOF
	# the checker itself refuses a picture that is not the pattern (one pixel changed)
	if [ -f "$TMP/qemu.png" ]; then
		python3 - "$TMP/qemu.png" "$TMP/wrong.png" <<'EOF'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
# re-encode with one pixel changed, as an unfiltered RGB PNG
sys.path.insert(0, __import__("os").path.dirname(sys.argv[2]))
exec(open(__import__("os").path.join(__import__("os").path.dirname(sys.argv[2]), "check.py")).read().split("def main")[0])
w, h, rows = png_rgb(d)
rows[100][200] = (0, 0, 0)
raw = b"".join(b"\0" + bytes(v for px in r for v in px) for r in rows)
def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
open(sys.argv[2], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                              chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
EOF
		if python3 "$TMP/check.py" "$TMP/wrong.png" >/dev/null; then
			fail display-check-refuses-wrong "the checker accepted a changed pixel"
		else
			pass display-check-refuses-wrong
		fi
	fi
fi

# --- QEMU: Debian's SeaBIOS and its vgabios-bochs-display (the ROM vsrv's ROM BAR carries)
# print on a bochs-display: "No bootable device." must show as text in a screendump ----------
if [ -n "$QEMU" ] && [ -f /usr/share/seabios/vgabios-bochs-display.bin ]; then
	python3 - "$QEMU" "$TMP" <<'EOF'
import json, os, socket, subprocess, sys, time
qemu, tmp = sys.argv[1:3]
qmp_path = os.path.join(tmp, "qmp-bios.sock"); png = os.path.join(tmp, "bios.png")
p = subprocess.Popen([qemu, "-M", "q35", "-accel", "tcg", "-m", "64", "-nodefaults", "-display", "none",
                      "-serial", "none", "-device", "bochs-display",
                      "-qmp", "unix:%s,server=on,wait=off" % qmp_path],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
for _ in range(100):
    if os.path.exists(qmp_path): break
    time.sleep(0.1)
s = socket.socket(socket.AF_UNIX); s.connect(qmp_path); s.settimeout(60); f = s.makefile("rw")
def qmp(cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r: return r
json.loads(f.readline()); qmp("qmp_capabilities")
ok, out, end = False, "", time.time() + 90
while not ok and time.time() < end:
    time.sleep(1)
    qmp("screendump", filename=png, format="png")
    c = subprocess.run([sys.executable, os.path.join(tmp, "text.py"), png], capture_output=True, text=True)
    ok, out = c.returncode == 0, (c.stdout + c.stderr).strip()[-200:]
qmp("quit"); p.wait(timeout=30)
print("PASS display-qemu-seabios-text (%s)" % out if ok else "FAIL display-qemu-seabios-text: no text on the screen: %s" % out)
EOF
fi

# --- vsrv: --display mistakes are one line before /dev/kvm is opened ------------------------
opt_err() { # NAME SPEC EXPECTED-TEXT
	local out rc
	out=$("$VSRV" run --kernel "$GUEST" --display "$2" 2>&1); rc=$?
	if [ "$rc" -eq 1 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && grep -qF -- "$3" <<<"$out"; then
		pass "$1"
	else
		fail "$1" "status $rc: $out"
	fi
}
opt_err display-opt-unknown-kind vga "--display vga: expected bochs[,vram=MiB][,rom=PATH]"
opt_err display-opt-vram-not-pow2 bochs,vram=3 "vram= takes a power of two of MiB"
opt_err display-opt-vram-garbage bochs,vram=x "vram= takes a power of two of MiB"
opt_err display-opt-unknown-item bochs,depth=8 "unknown item depth=8"
opt_err display-opt-missing-rom bochs,rom=/nonexistent/vga.bin "video BIOS /nonexistent/vga.bin"

# --- vsrv: the same guest on vsrv's bochs-display, the control socket's screenshot ---------
if ! have_kvm; then skip display-vsrv "$kvm_reason"; finish; exit; fi
python3 - "$VSRV" "$GUEST" "$GUESTS/console.elf" "$TMP" <<'EOF'
import base64, json, os, socket, subprocess, sys, time
vsrv, guest, console, tmp = sys.argv[1:5]
def boot(tag, kernel, extra):
    ctl = os.path.join(tmp, tag + ".ctl"); ser = os.path.join(tmp, tag + ".ser")
    p = subprocess.Popen([vsrv, "run", "--kernel", kernel, "--serial", "file:" + ser, "--control", ctl] + extra,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for _ in range(500):
        if os.path.exists(ctl): break
        time.sleep(0.02)
    c = socket.socket(socket.AF_UNIX); c.connect(ctl); c.settimeout(30)
    return p, ser, c.makefile("rw")
def q(f, msg):
    f.write(json.dumps(msg) + "\n"); f.flush(); return json.loads(f.readline())
def out(ser):
    try: return open(ser, errors="replace").read()
    except OSError: return ""

p, ser, f = boot("disp", guest, ["--cmdline", "hold", "--display", "bochs"])
end = time.time() + 60
while time.time() < end and "rt: holding" not in out(ser) and p.poll() is None:
    time.sleep(0.1)
if "rt: holding with status 0x10" not in out(ser):
    print("FAIL display-vsrv-guest: %s" % out(ser).replace("\n", "|")[-400:])
else:
    print("PASS display-vsrv-guest")
    r = q(f, {"cmd": "screenshot"})
    if not r.get("ok"):
        print("FAIL display-vsrv-screenshot: %s" % r)
    else:
        png = os.path.join(tmp, "vsrv.png")
        open(png, "wb").write(base64.b64decode(r["png"]))
        c = subprocess.run([sys.executable, os.path.join(tmp, "check.py"), png], capture_output=True, text=True)
        if c.returncode == 0 and r["width"] == 640 and r["height"] == 480:
            print("PASS display-vsrv-screenshot-pattern")
        else:
            print("FAIL display-vsrv-screenshot-pattern: %s %s" % (r.get("width"), (c.stdout + c.stderr).strip()[-300:]))
# saved (registers and VRAM) and restored: the same picture, with no guest drawing again
state = os.path.join(tmp, "disp.state")
r = q(f, {"cmd": "save", "path": state})
p.wait(timeout=60)
if not r.get("ok"):
    print("FAIL display-vsrv-save: %s" % r)
else:
    ctl = os.path.join(tmp, "restored.ctl")
    p = subprocess.Popen([vsrv, "run", "--restore", state, "--serial", "none", "--display", "bochs",
                          "--control", ctl], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for _ in range(500):
        if os.path.exists(ctl) or p.poll() is not None: break
        time.sleep(0.02)
    try:
        c = socket.socket(socket.AF_UNIX); c.connect(ctl); c.settimeout(30); f = c.makefile("rw")
        r = q(f, {"cmd": "screenshot"})
        png = os.path.join(tmp, "restored.png")
        if r.get("ok"):
            open(png, "wb").write(base64.b64decode(r["png"]))
        t = subprocess.run([sys.executable, os.path.join(tmp, "check.py"), png], capture_output=True, text=True)
        if r.get("ok") and t.returncode == 0:
            print("PASS display-vsrv-restored-picture")
        else:
            print("FAIL display-vsrv-restored-picture: %s %s" % (r.get("error"), (t.stdout + t.stderr).strip()[-300:]))
        q(f, {"cmd": "quit"})
    except OSError as e:
        print("FAIL display-vsrv-restored-picture: %s: %s" % (e, p.stdout.read()[-300:] if p.poll() is not None else ""))
    p.wait(timeout=30)
    # another VRAM size: one clear line, status 1
    rr = subprocess.run([vsrv, "run", "--restore", state, "--serial", "none", "--display", "bochs,vram=32"],
                        capture_output=True, text=True, timeout=60)
    if rr.returncode == 1 and "vram" in rr.stderr:
        print("PASS display-vsrv-restore-other-vram-refused")
    else:
        print("FAIL display-vsrv-restore-other-vram-refused: status %d: %s" % (rr.returncode, rr.stderr[-300:]))

p, ser, f = boot("nodisp", console, [])
r = q(f, {"cmd": "screenshot"})
if not r.get("ok") and "no display" in r.get("error", ""): print("PASS display-vsrv-no-display-error")
else: print("FAIL display-vsrv-no-display-error: %s" % r)
q(f, {"cmd": "quit"}); p.wait(timeout=30)

# SeaBIOS with its video BIOS through the ROM BAR: its text on the screen (no disk: "No
# bootable device."); the screen is blank until the video BIOS sets its mode
ctl = os.path.join(tmp, "bios.ctl")
p = subprocess.Popen([vsrv, "run", "--firmware", "bios", "--memory", "64M", "--serial", "none",
                      "--display", "bochs", "--control", ctl],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
for _ in range(500):
    if os.path.exists(ctl): break
    time.sleep(0.02)
c = socket.socket(socket.AF_UNIX); c.connect(ctl); c.settimeout(30); f = c.makefile("rw")
ok, out, end = False, "", time.time() + 30
while not ok and time.time() < end:
    time.sleep(0.5)
    r = q(f, {"cmd": "screenshot"})
    if not r.get("ok"):
        out = r.get("error", ""); continue
    png = os.path.join(tmp, "vsrv-bios.png")
    open(png, "wb").write(base64.b64decode(r["png"]))
    t = subprocess.run([sys.executable, os.path.join(tmp, "text.py"), png], capture_output=True, text=True)
    ok, out = t.returncode == 0, (t.stdout + t.stderr).strip()[-200:]
print("PASS display-vsrv-seabios-text (%s)" % out if ok else "FAIL display-vsrv-seabios-text: %s" % out)
q(f, {"cmd": "quit"}); p.wait(timeout=30)
EOF
finish
