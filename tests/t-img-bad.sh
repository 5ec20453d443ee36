#!/usr/bin/env bash
# vsrv img on bad input: truncated files, wrong cookies, bad checksums, bad BAT entries,
# overlapping blocks, bad block sizes, absurd sizes, parent loops, missing parents.
# For each: `check` exits 2 with a message, `info` fails with a message naming the file,
# no command crashes (no signal, no sanitizer report) or hangs, and read-only commands
# leave the file byte-for-byte unchanged.
# Runs against $VSRV, and also against build-asan/vsrv when `make asan` built it (unless
# VSRV was set explicitly: then only that one).
explicit_vsrv=${VSRV:-}
. "$(dirname "$0")/lib.sh"
cd "$TMP"

bins=("$VSRV")
[ -z "$explicit_vsrv" ] && [ -x "$ROOT/build-asan/vsrv" ] && bins+=("$ROOT/build-asan/vsrv")
# Sanitizer reports get their own exit status, so they cannot pass for a normal failure.
export ASAN_OPTIONS="exitcode=99:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:exitcode=99:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# corrupt.py FILE ACTION: edit a VHD in place, keeping checksums valid unless the action
# is about checksums.
cat >corrupt.py <<'EOF'
import struct, sys
path, act = sys.argv[1], sys.argv[2]
f = open(path, "r+b")
data = bytearray(f.read())
end = len(data) - 512

def csum(b, at):
    b[at:at + 4] = b"\0\0\0\0"
    b[at:at + 4] = struct.pack(">I", (~sum(b)) & 0xffffffff)

def footers():
    return [o for o in (0, end) if data[o:o + 8] == b"conectix"]

def edit_footer(fn, fix=True):
    for o in footers():
        b = bytearray(data[o:o + 512]); fn(b)
        if fix: csum(b, 64)
        data[o:o + 512] = b

hdr = struct.unpack(">Q", data[16:24])[0]
def edit_header(fn, fix=True):
    b = bytearray(data[hdr:hdr + 1024]); fn(b)
    if fix: csum(b, 36)
    data[hdr:hdr + 1024] = b

bat = struct.unpack(">Q", data[hdr + 16:hdr + 24])[0]
nent = struct.unpack(">I", data[hdr + 28:hdr + 32])[0]
def entry(i): return struct.unpack(">I", data[bat + 4 * i:bat + 4 * i + 4])[0]
def set_entry(i, v): data[bat + 4 * i:bat + 4 * i + 4] = struct.pack(">I", v)
used = [i for i in range(nent) if entry(i) != 0xffffffff]

if act == "cookie-footers":   edit_footer(lambda b: b.__setitem__(slice(0, 8), b"notavhd!"), fix=False)
elif act == "cookie-header":  edit_header(lambda b: b.__setitem__(slice(0, 8), b"cxspars3"))
elif act == "csum-footers":   edit_footer(lambda b: b.__setitem__(64, b[64] ^ 0x55), fix=False)
elif act == "csum-header":    edit_header(lambda b: b.__setitem__(36, b[36] ^ 0x55), fix=False)
elif act == "bat-past-end":   set_entry(used[0], (len(data) // 512) + 100000)
elif act == "bat-into-meta":  set_entry(used[0], 1)
elif act == "bat-overlap":    set_entry(used[1], entry(used[0]))
elif act == "bat-overlap-partial": set_entry(used[1], entry(used[0]) + 8)
elif act == "bsize-not-pow2": edit_header(lambda b: b.__setitem__(slice(32, 36), struct.pack(">I", 3 << 20)))
elif act == "bsize-zero":     edit_header(lambda b: b.__setitem__(slice(32, 36), struct.pack(">I", 0)))
# The size fields count only for creators read by current size ("win "): set both.
elif act == "size-absurd":    edit_footer(lambda b: (b.__setitem__(slice(28, 32), b"win "), b.__setitem__(slice(48, 56), struct.pack(">Q", 1 << 62))))
elif act == "size-beyond-bat": edit_footer(lambda b: (b.__setitem__(slice(28, 32), b"win "), b.__setitem__(slice(48, 56), struct.pack(">Q", 1 << 30))))
elif act == "entries-absurd": edit_header(lambda b: b.__setitem__(slice(28, 32), struct.pack(">I", 0x7fffffff)))
elif act == "bat-offset-absurd": edit_header(lambda b: b.__setitem__(slice(16, 24), struct.pack(">Q", 1 << 60)))
elif act == "type-bad":       edit_footer(lambda b: b.__setitem__(slice(60, 64), struct.pack(">I", 7)))
elif act == "set-uuid":       # set-uuid UUIDHEX TS: this image's unique id and timestamp
    u, ts = bytes.fromhex(sys.argv[3]), int(sys.argv[4])
    edit_footer(lambda b: (b.__setitem__(slice(68, 84), u), b.__setitem__(slice(24, 28), struct.pack(">I", ts))))
elif act == "parent-id":      # print the parent uuid (hex) and parent timestamp of the header
    print(data[hdr + 40:hdr + 56].hex(), struct.unpack(">I", data[hdr + 56:hdr + 60])[0]); sys.exit(0)
else: sys.exit("unknown action " + act)
f.seek(0); f.write(data); f.close()
EOF

# A good dynamic image with 3 allocated blocks, and a good chain base <- mid <- top.
truncate -s 16M src.raw
dd if=/dev/urandom of=src.raw bs=64K count=2 conv=notrunc status=none
dd if=/dev/urandom of=src.raw bs=64K seek=40 count=2 conv=notrunc status=none
dd if=/dev/urandom of=src.raw bs=64K seek=200 count=1 conv=notrunc status=none
"$VSRV" img convert -O vhd src.raw good.vhd || { fail setup "convert failed"; exit 1; }

cases=(truncated-1000 truncated-half truncated-empty cookie-footers cookie-header csum-footers csum-header
       bat-past-end bat-into-meta bat-overlap bat-overlap-partial bsize-not-pow2 bsize-zero size-absurd
       size-beyond-bat entries-absurd bat-offset-absurd type-bad)

# make_cases NAME...: bad-NAME.vhd of each, the python3 edits in one python3 (its start is
# slow on a busy machine), each as `python3 corrupt.py FILE NAME` alone would make it
make_cases() {
	local c edits=()
	for c in "$@"; do
		cp good.vhd "bad-$c.vhd"
		case $c in
		truncated-1000) truncate -s 1000 "bad-$c.vhd" ;;
		truncated-half) truncate -s $(( $(stat -c %s good.vhd) / 2 )) "bad-$c.vhd" ;;
		truncated-empty) : >"bad-$c.vhd" ;;
		*) edits+=("bad-$c.vhd" "$c") ;;
		esac
	done
	[ ${#edits[@]} = 0 ] || python3 -c 'import runpy, sys
args = sys.argv[1:]
for path, act in zip(args[0::2], args[1::2]):
    sys.argv = ["corrupt.py", path, act]
    try:
        runpy.run_path("corrupt.py", run_name="__main__")
    except SystemExit as e:
        if e.code not in (None, 0):
            print(e.code, file=sys.stderr)' "${edits[@]}"
}

# sane NAME RC ERRFILE: the command ended by itself, without a signal or sanitizer report.
sane() {
	if [ "$2" = 124 ] || [ "$2" = 137 ]; then echo "$1: hung (killed by timeout)"; return 1; fi
	if [ "$2" -ge 99 ] || grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$3"; then
		echo "$1: crashed or sanitizer report (exit $2): $(head -5 "$3")"; return 1
	fi
	return 0
}

# probe_all NAME FILE: every command on the bad FILE; prints problems, returns 1 on any.
probe_all() {
	local name=$1 img=$2 bad=0 rc sum
	sum=$(sha256sum <"$img")
	timeout 20 "$B" img check "$img" >o.txt 2>e.txt; rc=$?
	sane "$name check" $rc e.txt || bad=1
	if [ $rc != 2 ] || ! grep -qiE 'error|corrupt|invalid|bad|missing|loop' o.txt e.txt; then
		echo "$name: check exit $rc (want 2 and a message): $(cat o.txt e.txt | head -5)"; bad=1
	fi
	timeout 20 "$B" img check --output=json "$img" >o.txt 2>e.txt; rc=$?
	sane "$name check-json" $rc e.txt || bad=1
	if [ $rc != 2 ] || ! python3 -c 'import json,sys; j=json.load(open("o.txt")); assert j["corruptions"] > 0 and j["problems"] and all("offset" in p for p in j["problems"])' 2>/dev/null; then
		echo "$name: check --output=json exit $rc: $(head -c 300 o.txt) $(head -3 e.txt)"; bad=1
	fi
	timeout 20 "$B" img info "$img" >o.txt 2>e.txt; rc=$?
	sane "$name info" $rc e.txt || bad=1
	if [ $rc != 1 ] || ! grep -q "$img" e.txt; then
		echo "$name: info exit $rc (want 1 and a message naming the file): $(head -3 e.txt)"; bad=1
	fi
	for cmd in "info --output=json" "map --output=json" "compare $img src.raw" "convert -O raw $img /dev/null" \
		   "convert -O vhd $img out.vhd"; do
		set -- $cmd
		local sub=$1; shift
		timeout 20 "$B" img $sub "$@" $([ "$sub" = info ] || [ "$sub" = map ] && echo "$img") >o.txt 2>e.txt; rc=$?
		sane "$name $sub" $rc e.txt || bad=1
		[ $rc = 0 ] && { echo "$name: '$sub' succeeded on a corrupt image"; bad=1; }
		rm -f out.vhd
	done
	[ "$(sha256sum <"$img")" = "$sum" ] || { echo "$name: a read-only command changed the file"; bad=1; }
	return $bad
}

# bad_bin BIN FIRST LAST [rest]: the cases FIRST to LAST (indexes in cases) with BIN, and with
# "rest" the recoverable footer, the chains and bad arguments, in the current directory
bad_bin() {
	B=$1
	local tag c i
	tag=$([[ "$B" == *build-asan* ]] && echo asan- || echo)
	cp "$TMP"/{corrupt.py,good.vhd,src.raw} .
	make_cases "${cases[@]:$2:$(($3 - $2 + 1))}"
	for ((i = $2; i <= $3; i++)); do
		c=${cases[i]}
		if out=$(probe_all "$c" bad-$c.vhd); then pass "${tag}bad-$c"; else fail "${tag}bad-$c" "$(tr '\n' ';' <<<"$out")"; fi
	done
	[ "${4:-}" = rest ] || return 0

	# A damaged trailing footer with a good copy at offset 0: recoverable. info works,
	# check reports it (not clean), a read-only command does not repair it behind our back.
	cp good.vhd tail.vhd
	sz=$(stat -c %s tail.vhd); printf 'XXXXXXXX' | dd of=tail.vhd bs=1 seek=$((sz - 512)) conv=notrunc status=none
	sum=$(sha256sum <tail.vhd)
	timeout 20 "$B" img info tail.vhd >o.txt 2>e.txt; rc_i=$?
	timeout 20 "$B" img check tail.vhd >o.txt 2>e.txt; rc_c=$?
	if sane tail $rc_c e.txt >/dev/null && [ $rc_i = 0 ] && [ $rc_c != 0 ] && [ $rc_c != 1 ] &&
	   [ "$(sha256sum <tail.vhd)" = "$sum" ] && "$B" img compare tail.vhd src.raw >/dev/null; then
		pass "${tag}bad-trailing-footer-recoverable"
	else
		fail "${tag}bad-trailing-footer-recoverable" "info $rc_i, check $rc_c: $(cat o.txt e.txt | head -3)"
	fi

	# Chains: missing parent, parent loop.
	rm -f base.vhd mid.vhd top.vhd
	"$B" img convert -O vhd src.raw base.vhd && "$B" img create -q -b base.vhd mid.vhd &&
		"$B" img create -q -b mid.vhd top.vhd || fail "${tag}chain-setup"
	mv base.vhd gone.vhd
	if out=$(probe_all missing-parent mid.vhd) && grep -q base.vhd e.txt; then
		pass "${tag}bad-missing-parent"
	else
		fail "${tag}bad-missing-parent" "$(tr '\n' ';' <<<"$out") $(head -2 e.txt)"
	fi
	timeout 20 "$B" img info top.vhd >o.txt 2>e.txt; rc=$?
	[ $rc = 1 ] && grep -q base.vhd e.txt && pass "${tag}bad-missing-grandparent" ||
		fail "${tag}bad-missing-grandparent" "exit $rc: $(head -2 e.txt)"
	# Loop: base.vhd becomes a copy of top.vhd (whose parent is mid.vhd) that carries the
	# old base's unique id and timestamp, so every link matches but the chain never ends.
	cp top.vhd base.vhd
	python3 corrupt.py base.vhd set-uuid $(python3 corrupt.py mid.vhd parent-id)
	if out=$(probe_all parent-loop mid.vhd) && grep -qiE 'loop|cycle|recurs' e.txt; then
		pass "${tag}bad-parent-loop"
	else
		fail "${tag}bad-parent-loop" "$(tr '\n' ';' <<<"$out") $(head -2 e.txt)"
	fi
	# Wrong parent: base.vhd replaced by another image (unique id differs).
	"$B" img convert -O vhd src.raw base.vhd
	if out=$(probe_all wrong-parent mid.vhd); then pass "${tag}bad-wrong-parent"; else
		fail "${tag}bad-wrong-parent" "$(tr '\n' ';' <<<"$out")"; fi
	# A parent chain through a non-VHD file.
	cp src.raw base.vhd
	if out=$(probe_all raw-parent mid.vhd); then pass "${tag}bad-raw-parent"; else
		fail "${tag}bad-raw-parent" "$(tr '\n' ';' <<<"$out")"; fi

	# Bad command-line input never crashes either.
	ok=1
	for args in "create" "create -f vhd" "create -o block_size= x.vhd 1M" "create x.vhd -1" "create x.vhd 99999999999999999999" \
		    "resize" "resize good.vhd" "resize good.vhd abc" "resize good.vhd -99G" "convert" "convert -O vhd" \
		    "convert -O qcow2 good.vhd x" "convert good.vhd good.vhd" "compare good.vhd" "map" "check -r bogus good.vhd" \
		    "commit" "compact" "info a b" "create -b nosuch.vhd x.vhd"; do
		timeout 20 "$B" img $args >o.txt 2>e.txt; rc=$?
		sane "args '$args'" $rc e.txt >/dev/null || { ok=0; echo "args '$args': exit $rc"; }
		[ $rc = 0 ] && { ok=0; echo "args '$args' succeeded"; }
		[ -s e.txt ] || { ok=0; echo "args '$args': no message"; }
		rm -f x.vhd x
	done >args.txt
	[ $ok = 1 ] && pass "${tag}bad-arguments" || fail "${tag}bad-arguments" "$(tr '\n' ';' <args.txt)"
}

# each binary's cases in two halves, all at the same time (each in its own directory)
half=$(( ${#cases[@]} / 2 ))
for b in "${!bins[@]}"; do
	par_start "bin$b-a" bad_bin "${bins[b]}" 0 $((half - 1))
	par_start "bin$b-b" bad_bin "${bins[b]}" $half $(( ${#cases[@]} - 1 )) rest
done
par_wait

finish
