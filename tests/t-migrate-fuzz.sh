#!/usr/bin/env bash
# Replays migration streams through the receiver's fuzz target under ASan/UBSan
# (build/tests/replay-migrate, from fuzz/migrate.c; CRCs not compared, so every input reaches
# the structural checks): the seed corpus fuzz/corpus/migrate, then (with KVM) a stream
# captured from a live migration of this build (tests/migrate-capture.py stands in for the
# destination) and 2,000 mutants of it (truncations, flipped bytes, fields set to edge
# values in the headers and frames). A few mutants also go to a real `vsrv run --incoming`,
# whose CRC checks must refuse them with a clear message and status 1.
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-migrate
if [ ! -x "$bin" ]; then
	fail migrate-fuzz-corpus "missing $bin (run make)"
	finish; exit
fi
replay_corpus "$bin" migrate-fuzz-corpus "$ROOT/fuzz/corpus/migrate"

if ! have_kvm; then skip migrate-fuzz-mutants "$kvm_reason"; finish; exit; fi
truncate -s 1M "$TMP/d.raw"
timeout 120 python3 - "$VSRV" "$GUESTS/console.elf" "$TMP" "$ROOT/tests/migrate-capture.py" <<'PY'
import json, os, random, socket, struct, subprocess, sys, time
vsrv, guest, tmp, capture = sys.argv[1:5]
ctl = tmp + "/s.ctl"; sock = tmp + "/cap.sock"; good = tmp + "/good.stream"
cap = subprocess.Popen([sys.executable, capture, sock, good])
while not os.path.exists(sock): time.sleep(0.01)
p = subprocess.Popen([vsrv, "run", "--kernel", guest, "--serial", "none", "--control", ctl,
                      "--memory", "4M", "--cpus", "2", "--disk", tmp + "/d.raw,transport=pci",
                      "--device", "rng"], stderr=subprocess.DEVNULL)
while not os.path.exists(ctl) and p.poll() is None: time.sleep(0.01)
time.sleep(0.2)
c = socket.socket(socket.AF_UNIX); c.connect(ctl); f = c.makefile("rw")
f.write(json.dumps({"cmd": "migrate", "to": "unix:" + sock}) + "\n"); f.flush()
print("migrate:", f.readline().strip())
p.wait(timeout=20); cap.wait(timeout=20)
data = open(good, "rb").read()
frames, off = [], 64
while off + 32 <= len(data):
    t, i, n = struct.unpack_from("<IIQ", data, off)
    frames.append((off, t, n)); off += 32 + n
hot = [0, 8, 12, 16, 24, 28, 32, 60]
for fo, t, n in frames:
    hot += [fo + k for k in (0, 4, 8, 16, 20)]
    hot += [fo + 32 + k for k in range(0, min(n, 64), 4)]
    if t == 16: hot += [fo + 32 + k for k in range(0, min(n, 2100), 8)]
os.makedirs(tmp + "/mut")
rnd = random.Random(4321)
edge32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x101, 0x1000, 0x7fffffff, 0x80000000, 0xffffffff]
def out(i, b): open("%s/mut/%05d" % (tmp, i), "wb").write(b)
i = 0
for cut in sorted(set([0, 1, 63, 64, 65, 95, 96] + [fo + d for fo, _, _ in frames[:40] for d in (0, 1, 31, 32, 33)] +
                      [rnd.randrange(len(data)) for _ in range(150)])):
    out(i, data[:cut]); i += 1
for _ in range(1000):
    b = bytearray(data); o = rnd.choice(hot)
    if o + 4 <= len(b): struct.pack_into("<I", b, o, rnd.choice(edge32))
    out(i, bytes(b)); i += 1
for _ in range(600):
    b = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        o = rnd.choice(hot) if rnd.random() < 0.7 else rnd.randrange(len(b))
        b[o] ^= 1 << rnd.randrange(8)
    out(i, bytes(b)); i += 1
open(tmp + "/mut/good", "wb").write(data)
if os.environ.get("MIGRATE_SEEDS"):  # refresh fuzz/corpus/migrate
    sd = os.environ["MIGRATE_SEEDS"]
    open(sd + "/2cpu-4m-blk-rng", "wb").write(data)
    open(sd + "/config-only", "wb").write(data[:frames[1][0]])
    open(sd + "/to-vm-state", "wb").write(data[:[fo for fo, t, _ in frames if t == 2][0]])
print("frames", len(frames), "bytes", len(data), "mutants", i)
# a few corrupt streams to the real receiver: refused, status 1, nothing runs
fails = 0
for k, o in enumerate((40, frames[1][0] + 40, frames[3][0] + 100, len(data) - 60)):
    b = bytearray(data); b[o] ^= 0x10
    s = tmp + "/real%d.sock" % k
    d = subprocess.Popen([vsrv, "run", "--incoming", "unix:" + s, "--serial", "none", "--memory", "4M",
                          "--cpus", "2", "--disk", tmp + "/d.raw,transport=pci", "--device", "rng"],
                         stderr=subprocess.PIPE)
    while not os.path.exists(s) and d.poll() is None: time.sleep(0.01)
    c = socket.socket(socket.AF_UNIX); c.connect(s)
    try:
        c.sendall(bytes(b)); c.shutdown(socket.SHUT_WR)
    except OSError: pass
    try: c.recv(1 << 16)
    except OSError: pass
    rc = d.wait(timeout=30); err = d.stderr.read().decode()
    if rc == 1 and "--incoming unix:" in err and ("corrupt" in err or "CRC" in err or "malformed" in err or "outside" in err):
        print("PASS migrate-real-refuses-%d" % k)
    else:
        print("FAIL migrate-real-refuses-%d: status %s: %s" % (k, rc, err)); fails += 1
sys.exit(fails)
PY
[ $? -eq 0 ] || fail migrate-fuzz-capture "could not capture a stream or a real receiver accepted a corrupt one"
replay_corpus "$bin" migrate-fuzz-mutants "$TMP/mut"
finish
