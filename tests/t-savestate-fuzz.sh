#!/usr/bin/env bash
# Replays saved-VM files through the parser's fuzz target under ASan/UBSan
# (build/tests/replay-savestate, from fuzz/savestate.c; CRCs not compared, so every input
# reaches the structural checks): the seed corpus fuzz/corpus/savestate, then (with KVM) a
# file saved by this build and 3,000 mutants of it (truncations, flipped bytes, 32- and
# 64-bit fields set to edge values, in the headers and sections and the memory section),
# and the same for a VM booted with --firmware bios (its FIRMWARE section among them).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-savestate
if [ ! -x "$bin" ]; then
	fail savestate-fuzz-corpus "missing $bin (run make)"
	finish; exit
fi
dirs=("$ROOT/fuzz/corpus/savestate")
[ -d "$ROOT/fuzz/regress/savestate" ] && dirs+=("$ROOT/fuzz/regress/savestate")
replay_corpus "$bin" savestate-fuzz-corpus "${dirs[@]}"
# the RUN section's parser (the VM's configuration in the file) on its own
if [ -x "$ROOT/build/tests/replay-savestate-run" ]; then
	replay_corpus "$ROOT/build/tests/replay-savestate-run" savestate-run-fuzz-corpus \
		"$ROOT/fuzz/corpus/savestate_run"
else
	fail savestate-run-fuzz-corpus "missing build/tests/replay-savestate-run (run make)"
fi

if ! have_kvm; then skip savestate-fuzz-mutants "$kvm_reason"; finish; exit; fi
truncate -s 1M "$TMP/d.raw"
# mutants TAG SECONDS VSRV-RUN-ARGS...: save a VM started with the arguments after SECONDS,
# and write 3,000 mutants of the file into $TMP/TAG.mut ($TMP/TAG.state: the file).
mutants() {
timeout 90 python3 - "$VSRV" "$TMP" "$@" <<'PY'
import json, os, random, socket, struct, subprocess, sys, time
vsrv, tmp, tag, secs = sys.argv[1:5]
ctl = tmp + "/" + tag + ".ctl"; state = tmp + "/" + tag + ".state"
p = subprocess.Popen([vsrv, "run", "--serial", "none", "--control", ctl] + sys.argv[5:],
                     stderr=subprocess.DEVNULL)
while not os.path.exists(ctl) and p.poll() is None: time.sleep(0.01)
time.sleep(float(secs))
c = socket.socket(socket.AF_UNIX); c.connect(ctl); f = c.makefile("rw")
f.write(json.dumps({"cmd": "save", "path": state}) + "\n"); f.flush(); f.readline()
p.wait(timeout=20)
data = open(state, "rb").read()
# the section headers: where the structure is
secs, off = [], 64
while off + 32 <= len(data):
    t, i, n = struct.unpack_from("<IIQ", data, off)
    secs.append((off, t, n)); off += 32 + n
hot = [0, 8, 12, 16, 24, 28, 32, 60]
for so, t, n in secs:
    hot += [so + k for k in (0, 4, 8, 16, 20)]
    hot += [so + 32 + k for k in range(0, min(n, 64), 4)]     # the start of each payload
    if t in (5, 8): hot += [so + 32 + k for k in range(0, min(n, 2048), 4)]
os.makedirs(tmp + "/" + tag + ".mut")
rnd = random.Random(1234)
edge32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x1000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe]
def out(i, b): open("%s/%s.mut/%05d" % (tmp, tag, i), "wb").write(b)
i = 0
for cut in sorted(set([0, 1, 63, 64, 65, 95, 96] + [so + d for so, _, _ in secs for d in (0, 1, 31, 32, 33)] +
                      [rnd.randrange(len(data)) for _ in range(200)])):
    out(i, data[:cut]); i += 1
for _ in range(1400):
    b = bytearray(data); o = rnd.choice(hot) if rnd.random() < 0.7 else rnd.randrange(len(data) - 8)
    kind = rnd.randrange(3)
    if kind == 0: b[o] ^= 1 << rnd.randrange(8)
    elif kind == 1: struct.pack_into("<I", b, o, rnd.choice(edge32))
    else: struct.pack_into("<Q", b, o, rnd.choice([0, 1 << 63, (1 << 64) - 1, len(data), 1 << 40]))
    out(i, bytes(b)); i += 1
while i < 3000:
    b = bytearray(data)
    for _ in range(rnd.randrange(2, 8)):
        b[rnd.choice(hot) + rnd.randrange(4)] = rnd.randrange(256)
    if rnd.random() < 0.3: b = b[:rnd.randrange(len(b))]
    out(i, bytes(b)); i += 1
PY
}
mutants good 0.2 --kernel "$GUESTS/console.elf" --memory 4M --cpus 2 \
	--disk "$TMP/d.raw,transport=pci" --device rng
if [ -d "$TMP/good.mut" ]; then
	replay_corpus "$bin" savestate-fuzz-mutants "$TMP/good.state" "$TMP/good.mut"
else
	fail savestate-fuzz-mutants "no saved file to mutate"
fi
# a VM booted by SeaBIOS (no bootable disk: it retries), its FIRMWARE section mutated too
if [ -r /usr/share/seabios/bios.bin ]; then
	mutants fw 1.0 --firmware bios --memory 8M --disk "$TMP/d.raw,format=raw"
	if [ -d "$TMP/fw.mut" ]; then
		replay_corpus "$bin" savestate-fuzz-firmware-mutants "$TMP/fw.state" "$TMP/fw.mut"
	else
		fail savestate-fuzz-firmware-mutants "no saved file to mutate"
	fi
else
	skip savestate-fuzz-firmware-mutants "Debian's seabios is not installed"
fi
finish
