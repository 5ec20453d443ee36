#!/usr/bin/env bash
# vsrv img: the sub-commands, their options, outputs and exit codes (qemu-img's).
# Small images only (tens of MiB). VSRV may point at another build (build-asan/vsrv).
. "$(dirname "$0")/lib.sh"
cd "$TMP"

# json FILE EXPR: evaluate a Python expression on the JSON document in FILE (as j).
json() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# rc CMD...: run CMD, print its exit status (stdout/stderr to rc.out/rc.err).
rc() { "$@" >rc.out 2>rc.err; echo $?; }
# fill FILE OFFSET_KIB LEN_KIB: random bytes into FILE at that place.
fill() { dd if=/dev/urandom of="$1" bs=1K seek="$2" count="$3" conv=notrunc status=none; }

V=$VSRV

# ---- create / info ---------------------------------------------------------------------
$V img create -f raw r.raw 10M >/dev/null && [ "$(stat -c %s r.raw)" = 10485760 ] &&
	pass create-raw || fail create-raw "size $(stat -c %s r.raw 2>&1)"

out=$($V img create -f vhd d.vhd 64M) && [[ "$out" == "Formatting 'd.vhd', fmt=vhd size=67108864"* ]] &&
	pass create-vhd-message || fail create-vhd-message "$out"
$V img info --output=json d.vhd >i.json
if [ "$(json i.json 'j["format"], j["format-specific"]["data"]["subformat"], j["virtual-size"] >= 64<<20, j["cluster-size"]')" = "('vhd', 'dynamic', True, 2097152)" ]; then
	pass info-json-dynamic
else
	fail info-json-dynamic "$(cat i.json)"
fi
[ "$(json i.json 'j["virtual-size"]')" = "$(qemu-img info -f vpc --output=json d.vhd | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')" ] &&
	pass info-size-as-qemu || fail info-size-as-qemu "vsrv $(json i.json 'j["virtual-size"]')"

$V img info d.vhd >i.txt
grep -q '^file format: vhd$' i.txt && grep -q '^virtual size: 64 MiB' i.txt &&
	grep -q 'subformat: dynamic' i.txt && grep -q 'geometry (C/H/S): ' i.txt && grep -q 'creator: ' i.txt &&
	pass info-human || fail info-human "$(cat i.txt)"

$V img create -q -f vhd -o subformat=fixed,force_size=on f.vhd 10M &&
	[ "$($V img info --output=json f.vhd >f.json; json f.json 'j["virtual-size"], j["format-specific"]["data"]["subformat"]')" = "(10485760, 'fixed')" ] &&
	[ "$(stat -c %s f.vhd)" = $((10485760 + 512)) ] &&
	pass create-fixed-force-size || fail create-fixed-force-size "$(cat f.json 2>&1)"

$V img create -q -o block_size=512K b.vhd 20M && $V img info --output=json b.vhd >b.json &&
	[ "$(json b.json 'j["cluster-size"]')" = 524288 ] && pass create-block-size ||
	fail create-block-size "$(cat b.json 2>&1)"

# ---- option errors: exit 1 with a message, no file left behind --------------------------
for args in "-f qcow2 x.img 1M" "-o subformat=sparse x.vhd 1M" "-o block_size=3000 x.vhd 1M" \
	    "-o nosuch=1 x.vhd 1M" "x.vhd 12Q" "x.vhd" "-f vhd x.vhd 3000G" "-f raw -b d.vhd x.img"; do
	r=$(rc $V img create $args)
	if [ "$r" = 1 ] && [ -s rc.err ] && [ ! -e x.vhd ] && [ ! -e x.img ]; then
		pass "create-rejects '$args'"
	else
		fail "create-rejects '$args'" "exit $r, stderr '$(cat rc.err)'"; rm -f x.vhd x.img
	fi
done
[ "$(rc $V img nosuch)" = 1 ] && pass unknown-subcommand || fail unknown-subcommand
[ "$(rc $V img info --output=xml d.vhd)" = 1 ] && pass bad-output-format || fail bad-output-format
[ "$(rc $V img info nosuch.vhd)" = 1 ] && grep -q nosuch.vhd rc.err && pass info-missing-file ||
	fail info-missing-file "$(cat rc.err)"
$V img create -o help x.vhd >rc.out && grep -q subformat rc.out && pass create-o-help || fail create-o-help

# ---- convert keeps data and sparseness --------------------------------------------------
truncate -s 24M src.raw
fill src.raw 0 4; fill src.raw 3000 1500; fill src.raw 20000 7
dd if=/dev/zero of=src.raw bs=1M seek=10 count=2 conv=notrunc status=none # written zeros
for sub in dynamic fixed; do
	$V img convert -O vhd -o subformat=$sub src.raw c-$sub.vhd && $V img convert -O raw c-$sub.vhd back-$sub.raw &&
		cmp -n $((24 << 20)) src.raw back-$sub.raw && pass "convert-roundtrip-$sub" ||
		fail "convert-roundtrip-$sub" "content differs"
done
$V img info --output=json c-dynamic.vhd >c.json
# Data at 0 (block 0), 2.9-4.4 MiB (blocks 1, 2), ~19.5 MiB (block 9): 4 blocks; the
# written zeros at 10-12 MiB are not stored.
[ "$(json c.json 'j["format-specific"]["data"]["allocated-blocks"]')" = 4 ] && pass convert-sparse ||
	fail convert-sparse "$(json c.json 'j["format-specific"]["data"]["allocated-blocks"]') blocks allocated"
[ "$(stat -c %b back-dynamic.raw)" -lt $((8 * 2048)) ] && pass convert-raw-target-sparse ||
	fail convert-raw-target-sparse "$(stat -c %b back-dynamic.raw) blocks"
$V img convert -O raw c-dynamic.vhd /dev/null && pass convert-to-dev-null || fail convert-to-dev-null
truncate -s 1000000 odd.raw; fill odd.raw 900 76
$V img convert -O vhd odd.raw odd.vhd && $V img compare odd.raw odd.vhd >/dev/null &&
	pass convert-odd-size || fail convert-odd-size
# -p: a progress bar on a terminal only
$V img convert -p -O vhd src.raw p1.vhd 2>p.err && [ ! -s p.err ] && pass progress-not-on-pipe ||
	fail progress-not-on-pipe "$(cat p.err)"
if script -qec "$V img convert -p -O vhd src.raw p2.vhd" /dev/null >p.tty 2>&1 && grep -q '100.0/100%' p.tty; then
	pass progress-on-tty
else
	fail progress-on-tty "$(tr '\r' '\n' <p.tty | tail -3)"
fi

# ---- compare: 0 identical, 1 different (with offset), 2 error; size mismatch -----------
cp src.raw other.raw; printf 'X' | dd of=other.raw bs=1 seek=$((5 << 20)) conv=notrunc status=none
[ "$(rc $V img compare src.raw c-dynamic.vhd)" = 0 ] && grep -q 'Images are identical' rc.out &&
	pass compare-identical || fail compare-identical "$(cat rc.out rc.err)"
[ "$(rc $V img compare other.raw c-dynamic.vhd)" = 1 ] && grep -q "Content mismatch at offset $((5 << 20))!" rc.out &&
	pass compare-different || fail compare-different "$(cat rc.out rc.err)"
[ "$(rc $V img compare src.raw nosuch.vhd)" = 2 ] && pass compare-error || fail compare-error
cp src.raw big.raw; truncate -s 30M big.raw
[ "$(rc $V img compare src.raw big.raw)" = 0 ] && grep -q 'size mismatch' rc.out && pass compare-size-zeros ||
	fail compare-size-zeros "$(cat rc.out)"
[ "$(rc $V img compare -s src.raw big.raw)" = 1 ] && pass compare-strict-size || fail compare-strict-size
fill big.raw 29000 1
[ "$(rc $V img compare src.raw big.raw)" = 1 ] && pass compare-size-data || fail compare-size-data "$(cat rc.out)"

# ---- map --------------------------------------------------------------------------------
$V img map --output=json c-dynamic.vhd >m.json
if python3 - m.json <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
pos = 0
for e in m:
    assert e["start"] == pos, e; pos += e["length"]
    assert e["data"] != e["zero"]
    if e["data"]: assert "offset" in e and e["offset"] % 512 == 0
data = [(e["start"], e["length"]) for e in m if e["data"]]
cover = lambda a, b: all(any(s <= x < s + l for s, l in data) for x in range(a, b, 512))
assert cover(0, 4096) and cover(3000 << 10, 4500 << 10) and cover(20000 << 10, 20007 << 10), data
assert not any(s < (12 << 20) and s + l > (10 << 20) for s, l in data), data
assert sum(l for s, l in data) <= 4 * (2 << 20)
EOF
then pass map-json; else fail map-json "$(cat m.json)"; fi
$V img map --output=json src.raw >mr.json && [ "$(json mr.json 'j[0]["data"]')" = True ] && pass map-json-raw ||
	fail map-json-raw "$(cat mr.json)"
# The same map as qemu-img's, field for field (JSON and human), where the formats agree: a raw
# file and a fixed VHD, each with holes (zeros with an offset, as qemu-img says), and a
# dynamic VHD's allocated block (data). A dynamic VHD's unallocated blocks differ on
# 'present' only (README: img map).
qemu-img create -q -f raw mh.raw 8M && qemu-img create -q -f vpc -o subformat=fixed mh.vhd 8M &&
	for f in mh.raw mh.vhd; do fill $f 1024 64; fill $f 5000 4; done
for spec in raw:mh.raw vpc:mh.vhd; do
	f=${spec#*:} q=${spec%%:*}
	if diff <(qemu-img map -f $q --output=json $f | tr -d ' ') <($V img map -f $q --output=json $f | tr -d ' ') >md.out &&
	   diff <(qemu-img map -f $q $f) <($V img map -f $q $f) >>md.out; then
		pass map-as-qemu-$q
	else
		fail map-as-qemu-$q "$(cat md.out)"
	fi
done

# ---- check ------------------------------------------------------------------------------
[ "$(rc $V img check c-dynamic.vhd)" = 0 ] && grep -q 'No errors' rc.out && pass check-clean || fail check-clean "$(cat rc.out rc.err)"
$V img check --output=json c-dynamic.vhd >k.json && [ "$(json k.json 'j["check-errors"], j.get("corruptions", 0), j["problems"]')" = "(0, 0, [])" ] &&
	pass check-json || fail check-json "$(cat k.json)"
[ "$(rc $V img check src.raw)" = 63 ] && pass check-raw-unsupported || fail check-raw-unsupported
# A leak: a whole block's worth of bytes after the last block, footer moved after it.
cp c-dynamic.vhd leak.vhd
sz=$(stat -c %s leak.vhd)
dd if=leak.vhd of=foot.bin bs=512 skip=$((sz / 512 - 1)) count=1 status=none
truncate -s $((sz - 512 + 4096)) leak.vhd; cat foot.bin >>leak.vhd
r=$(rc $V img check leak.vhd)
[ "$r" = 3 ] && grep -qi 'leak' rc.out && pass check-leak || fail check-leak "exit $r: $(cat rc.out rc.err)"
r=$(rc $V img check -r leaks leak.vhd)
[ "$r" = 0 ] && [ "$(rc $V img check leak.vhd)" = 0 ] && $V img compare leak.vhd src.raw >/dev/null &&
	pass check-repair-leak || fail check-repair-leak "exit $r: $(cat rc.out rc.err)"

# ---- resize -----------------------------------------------------------------------------
$V img create -q r2.vhd 20M && $V img resize r2.vhd +30M >/dev/null && $V img info --output=json r2.vhd >r.json &&
	[ "$(json r.json 'j["virtual-size"] >= 50 << 20')" = True ] && [ "$($V img check r2.vhd >/dev/null; echo $?)" = 0 ] &&
	pass resize-vhd-grow || fail resize-vhd-grow "$(cat r.json)"
[ "$(rc $V img resize r2.vhd 10M)" = 1 ] && grep -q shrink rc.err && pass resize-shrink-refused || fail resize-shrink-refused
cp src.raw rs.raw && $V img resize rs.raw 32M >/dev/null && [ "$(stat -c %s rs.raw)" = $((32 << 20)) ] &&
	pass resize-raw || fail resize-raw
$V img convert -O vhd -o force_size=on src.raw rf.vhd && $V img resize rf.vhd +8M >/dev/null &&
	$V img info --output=json rf.vhd >rf.json && [ "$(json rf.json 'j["virtual-size"]')" = $((32 << 20)) ] &&
	$V img compare src.raw rf.vhd >/dev/null && pass resize-keeps-data || fail resize-keeps-data "$(cat rf.json)"

# ---- differencing, undo disk, commit ----------------------------------------------------
$V img convert -O vhd src.raw base.vhd
$V img create -b base.vhd undo.vhd >/dev/null && $V img info --output=json undo.vhd >u.json &&
	[ "$(json u.json 'j["format-specific"]["data"]["subformat"], j["backing-filename-format"], j["virtual-size"]')" = "('differencing', 'vhd', $(json c.json 'j["virtual-size"]'))" ] &&
	pass create-undo-disk || fail create-undo-disk "$(cat u.json)"
$V img compare undo.vhd src.raw >/dev/null && pass undo-reads-parent || fail undo-reads-parent
cp src.raw new.raw; fill new.raw 100 3; fill new.raw 12000 600
dd if=/dev/zero of=new.raw bs=1K seek=3100 count=10 conv=notrunc status=none # zeros over parent data
rm undo.vhd; $V img convert -O vhd -B base.vhd new.raw undo.vhd && $V img compare undo.vhd new.raw >/dev/null &&
	$V img compare base.vhd src.raw >/dev/null && pass undo-write-diff || fail undo-write-diff
$V img info --output=json undo.vhd >u.json
# Changed: block 0 (100K), block 1 (zeros at 3100K over parent data), blocks 5 and 6 (12000K-12600K).
[ "$(json u.json 'j["format-specific"]["data"]["allocated-blocks"]')" = 4 ] && pass diff-stores-only-changes ||
	fail diff-stores-only-changes "$(json u.json 'j["format-specific"]["data"]["allocated-blocks"]') blocks"
$V img map --output=json undo.vhd >um.json && [ "$(json um.json 'sorted(set(e["depth"] for e in j if e["data"]))')" = "[0, 1]" ] &&
	pass map-depths || fail map-depths "$(cat um.json)"
$V img commit undo.vhd >rc.out && grep -q 'Image committed' rc.out && $V img compare base.vhd new.raw >/dev/null &&
	[ "$($V img check base.vhd >/dev/null; echo $?)" = 0 ] && pass commit || fail commit "$(cat rc.out)"
[ "$(rc $V img commit base.vhd)" = 1 ] && grep -q 'not a differencing' rc.err && pass commit-needs-parent ||
	fail commit-needs-parent "$(cat rc.err)"

# ---- compact ----------------------------------------------------------------------------
# qemu-io writes real zeros into blocks 1..3: they stay allocated until compact.
$V img convert -O vhd src.raw z.vhd
qemu-io -f vpc -c 'write -P 0 2M 6M' z.vhd >/dev/null
cp src.raw z.raw; dd if=/dev/zero of=z.raw bs=1M seek=2 count=6 conv=notrunc status=none
before=$($V img info --output=json z.vhd | python3 -c 'import json,sys; print(json.load(sys.stdin)["format-specific"]["data"]["allocated-blocks"])')
$V img compact z.vhd >rc.out && $V img info --output=json z.vhd >z.json &&
	[ "$(json z.json 'j["format-specific"]["data"]["allocated-blocks"]')" -lt "$before" ] &&
	$V img compare z.vhd z.raw >/dev/null && [ "$($V img check z.vhd >/dev/null; echo $?)" = 0 ] &&
	pass compact || fail compact "before $before: $(cat rc.out) $(cat z.json)"

# ---- read-only commands never write -----------------------------------------------------
s0=$(sha256sum c-dynamic.vhd)
for cmd in "info c-dynamic.vhd" "info --output=json c-dynamic.vhd" "check c-dynamic.vhd" "map --output=json c-dynamic.vhd" \
	   "compare c-dynamic.vhd src.raw" "convert -O raw c-dynamic.vhd /dev/null"; do
	$V img $cmd >/dev/null 2>&1
done
[ "$(sha256sum c-dynamic.vhd)" = "$s0" ] && pass read-only-unchanged || fail read-only-unchanged

finish
