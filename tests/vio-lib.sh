# Helpers for the virtio guest tests (tests/t-virtio-*.sh): source after lib.sh.
QEMU=$(command -v qemu-system-x86_64 || true)

# vrun OUT ARGS...: boot under `vsrv run` (guest ELF and devices in ARGS); sets $st.
vrun() {
	local out=$1; shift
	timeout -k 5 60 "${VSRV_BIN:-$VSRV}" run --memory 64M --serial "file:$out" "$@" >"$out.err" 2>&1 </dev/null
	st=$?
}

# qrun OUT ELF CMDLINE ARGS...: boot under QEMU microvm with modern virtio-mmio; sets $st.
qrun() {
	local out=$1 elf=$2 cmd=$3; shift 3
	timeout -k 5 60 "$QEMU" -M microvm -enable-kvm -m 64 -nodefaults -nographic -serial stdio \
		-no-reboot -device isa-debug-exit,iobase=0xf4 -global virtio-mmio.force-legacy=false \
		-kernel "$elf" -append "$cmd" "$@" >"$out" 2>"$out.err" </dev/null
	st=$?
}

# expect T OUT STATUS PATTERN: the run ended with STATUS and printed PATTERN (else FAIL with output).
expect() {
	local t=$1 out=$2 want=$3 pat=$4
	if [ "$st" -ne "$want" ]; then
		fail "$t" "exit status $st, expected $want; output: $(tr '\n' '|' <"$out" | tail -c 400) $(tail -c 300 "$out.err" 2>/dev/null)"
		return 1
	elif ! grep -q -- "$pat" "$out"; then
		fail "$t" "no '$pat' in the output: $(tr '\n' '|' <"$out" | tail -c 400)"
		return 1
	fi
	return 0
}

# vblk_verify RAWFILE OUT: the image holds vblk's pattern, with the write-zeroes range zero and
# the discard range zero when the guest saw zeros there (ranges from the guest's output).
vblk_verify() {
	python3 - "$1" "$2" <<'PY'
import re, struct, sys
img, out = sys.argv[1], open(sys.argv[2], errors="replace").read()
m = re.search(r"vblk: zeroes (\d+)\+(\d+) discard (\d+)\+(\d+) \(([a-z ]+)\)", out)
if not m:
    sys.exit("no ranges line in the guest output")
zs, zn, ds, dn = map(int, m.groups()[:4]); dz = m.group(5) == "reads zeros"
data = open(img, "rb").read()
for s in range(len(data) // 512):
    sec = data[s * 512:(s + 1) * 512]
    if zs <= s < zs + zn or (dz and ds <= s < ds + dn):
        if sec != bytes(512):
            sys.exit("sector %d: not zero" % s)
    elif ds <= s < ds + dn:
        continue
    else:
        want = b"".join(struct.pack("<Q", 0x5653000000000000 | s << 16 | w) for w in range(64))
        if sec != want:
            sys.exit("sector %d: pattern mismatch" % s)
PY
}

# vscsi_verify RAWFILE OUT: the blocks vscsi wrote hold its pattern (see guests/vscsi.c); the
# unmapped range is zero when the guest read zeros there.
vscsi_verify() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
img, out = sys.argv[1], open(sys.argv[2], errors="replace").read()
data = open(img, "rb").read()
def pat(b):
    return b"".join(struct.pack("<Q", 0x5653000000000000 | b << 16 | w) for w in range(64))
def blk(b):
    return data[b * 512:(b + 1) * 512]
for b in [1] + list(range(100, 108)) + list(range(1000, 1008)):
    if blk(b) != pat(b):
        sys.exit("block %d: not the pattern" % b)
for first, n in ((2000, 16), (2100, 8)):
    for b in range(first, first + n):
        if blk(b) != pat(first):
            sys.exit("block %d: not WRITE SAME's block" % b)
if "blocks read as zeros" in out and any(blk(b) != bytes(512) for b in range(3000, 3008)):
    sys.exit("unmapped blocks are not zero in the image")
for b in (0, 2, 99, 108, 999, 1008, 1999, 2016, 2099, 2108):
    if blk(b) != bytes(512):
        sys.exit("block %d: written but should not have been" % b)
PY
}
