#!/usr/bin/env bash
# vsrv img against the rest of the world: qemu-img (qemu-utils) and vhdiinfo (libvhdi-utils).
#  1. every image type vsrv creates opens in qemu-img (check, info), reads back identically
#     (qemu-img compare, qemu-img convert -O raw) and is described correctly by vhdiinfo;
#  2. images made by qemu-img (-O vpc: both subformats, with/without force_size, odd sizes)
#     open in vsrv with qemu-img's virtual size and content;
#  3. a 3-deep differencing chain built by vsrv reads correctly, also after being moved,
#     and commit gives a parent identical to what the chain read.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
V=$VSRV

for t in qemu-img qemu-io vhdiinfo; do
	command -v $t >/dev/null || { skip interop "$t not installed (make test-deps)"; exit 0; }
done

json() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
fill() { dd if=/dev/urandom of="$1" bs=512 seek="$2" count="$3" conv=notrunc status=none; }
zero() { dd if=/dev/zero of="$1" bs=512 seek="$2" count="$3" conv=notrunc status=none; }
# vsizes FILE: the virtual size qemu-img gives, then vsrv's (one python3 call for both)
vsizes() {
	python3 -c 'import json,sys; print(*(json.loads(a)["virtual-size"] for a in sys.argv[1:]))' \
		"$(qemu-img info -f vpc --output=json "$1")" "$($V img info --output=json "$1")"
}
# vinfo FILE KEY...: fields of vsrv's format-specific data, separated by spaces
vinfo() { $V img info --output=json "$1" | python3 -c 'import json,sys; d = json.load(sys.stdin)["format-specific"]["data"]; print(*(d[k] for k in sys.argv[1:]))' "${@:2}"; }

# A source with data in several blocks, partial sectors runs, and holes. 20 MiB.
truncate -s 20M src.raw
fill src.raw 0 8; fill src.raw 4000 300; fill src.raw 8191 2; fill src.raw 30000 1000; fill src.raw 40959 1

# qemu_check NAME IMG: qemu-img opens the image for check; vpc has no checker (exit 63 with
# "does not support checks"), anything else is a failure.
qemu_check() {
	local out rc
	out=$(qemu-img check -f vpc "$2" 2>&1); rc=$?
	if [ $rc = 0 ] || { [ $rc = 63 ] && [[ "$out" == *"does not support checks"* ]]; }; then
		pass "$1-qemu-check"
	else
		fail "$1-qemu-check" "exit $rc: $out"
	fi
}

# vhdiinfo_ok NAME IMG TYPE: vhdiinfo's disk type, media size and identifier match vsrv's.
vhdiinfo_ok() {
	local out want_size want_uuid
	out=$(vhdiinfo "$2" 2>&1)
	read -r want_size want_uuid < <(vinfo "$2" current-size uuid)
	if grep -q "Disk type[[:space:]]*: $3" <<<"$out" && grep -q "($want_size bytes)" <<<"$out" &&
	   grep -qi "Identifier[[:space:]]*: $want_uuid" <<<"$out"; then
		pass "$1-vhdiinfo"
	else
		fail "$1-vhdiinfo" "want $3 $want_size $want_uuid; got: $(tr '\n\t' '  ' <<<"$out")"
	fi
}

# ---- 1. images vsrv creates -------------------------------------------------------------
truncate -s 12345678 odd.raw; fill odd.raw 0 10; fill odd.raw 24000 100
declare -A made=(
	[dyn]="-o subformat=dynamic src.raw"
	[dyn512k]="-o block_size=512K src.raw"
	[dynforce]="-o force_size=on src.raw"
	[fixed]="-o subformat=fixed src.raw"
	[fixedforce]="-o subformat=fixed,force_size=on src.raw"
	[dynodd]="odd.raw"
	[fixedodd]="-o subformat=fixed odd.raw"
)
for n in dyn dyn512k dynforce fixed fixedforce dynodd fixedodd; do
	set -- ${made[$n]}
	raw=${!#}
	if ! $V img convert -O vhd "$@" $n.vhd; then fail "$n-create" "vsrv img convert failed"; continue; fi
	qemu_check $n $n.vhd
	read -r qs vs < <(vsizes $n.vhd)
	[ -n "$qs" ] && [ "$qs" = "$vs" ] && pass "$n-qemu-size" || fail "$n-qemu-size" "qemu $qs, vsrv $vs"
	out=$(qemu-img compare -f vpc -F raw $n.vhd $raw 2>&1) && pass "$n-qemu-compare" || fail "$n-qemu-compare" "$out"
	qemu-img convert -f vpc -O raw $n.vhd q-$n.raw && $V img convert -O raw $n.vhd v-$n.raw &&
		cmp q-$n.raw v-$n.raw && pass "$n-qemu-convert" || fail "$n-qemu-convert" "raw copies differ"
	case $n in fixed*) type=Fixed ;; *) type=Dynamic ;; esac
	vhdiinfo_ok $n $n.vhd $type
	[[ $n == *force ]] && { [ "$vs" = $((20 << 20)) ] && pass "$n-exact-size" || fail "$n-exact-size" "$vs"; }
done
# Empty images straight from create, every type, and a differencing one.
$V img create -q e-dyn.vhd 100M && $V img create -q -o subformat=fixed e-fixed.vhd 3M &&
	$V img create -q -b dyn.vhd e-diff.vhd || fail empty-create
for n in e-dyn e-fixed; do
	qemu_check $n $n.vhd
	read -r qs vs < <(vsizes $n.vhd)
	[ -n "$qs" ] && [ "$qs" = "$vs" ] && pass "$n-qemu-size" || fail "$n-qemu-size" "qemu $qs, vsrv $vs"
done
vhdiinfo_ok e-dyn e-dyn.vhd Dynamic
vhdiinfo_ok e-fixed e-fixed.vhd Fixed
# Differencing: qemu-img opens it (it ignores parents, so content is checked by vsrv);
# vhdiinfo names the parent by its identifier.
qemu_check e-diff e-diff.vhd
vhdiinfo_ok e-diff e-diff.vhd Differential
vhdiinfo e-diff.vhd | grep -qi "Parent identifier[[:space:]]*: $(vinfo dyn.vhd uuid)" && pass e-diff-vhdiinfo-parent ||
	fail e-diff-vhdiinfo-parent "$(vhdiinfo e-diff.vhd | tr '\n\t' '  ')"
$V img compare e-diff.vhd src.raw >/dev/null && pass e-diff-reads-parent || fail e-diff-reads-parent

# ---- 2. images qemu-img makes -----------------------------------------------------------
for size in 20971520 10000384 33555968; do
	truncate -s $size q-src.raw; fill q-src.raw 0 3; fill q-src.raw $((size / 512 - 5)) 5; fill q-src.raw 5000 700
	for sub in dynamic fixed; do
		for force in off on; do
			n=q-$sub-$force-$size
			qemu-img convert -f raw -O vpc -o subformat=$sub,force_size=$force q-src.raw $n.vhd || { fail "$n" "qemu-img convert"; continue; }
			read -r qs vs < <(vsizes $n.vhd)
			[ -n "$qs" ] && [ "$qs" = "$vs" ] && pass "$n-size" || fail "$n-size" "qemu $qs, vsrv $vs"
			qemu-img convert -f vpc -O raw $n.vhd q.raw && $V img convert -O raw $n.vhd v.raw && cmp q.raw v.raw &&
				pass "$n-content" || fail "$n-content" "raw copies differ"
			[ "$($V img check $n.vhd >/dev/null 2>&1; echo $?)" = 0 ] && pass "$n-check" || fail "$n-check" "$($V img check $n.vhd 2>&1)"
		done
	done
done
# qemu-io writes of odd lengths at odd places into a qemu-made dynamic image.
qemu-img create -q -f vpc w.vhd 50M
qemu-io -f vpc -c 'write -P 0x5a 512 1536' -c 'write -P 0xa5 4193792 1024' -c 'write -P 0x11 30M 3M' \
	-c 'write -z 31M 64k' w.vhd >/dev/null
qemu-img convert -f vpc -O raw w.vhd q.raw && $V img convert -O raw w.vhd v.raw && cmp q.raw v.raw &&
	pass qemu-io-writes || fail qemu-io-writes "raw copies differ"
$V img compare w.vhd q.raw >/dev/null && pass qemu-io-compare || fail qemu-io-compare

# ---- 3. a 3-deep differencing chain -----------------------------------------------------
mkdir chain && cd chain
truncate -s 16M r0.raw; fill r0.raw 0 4096; fill r0.raw 10000 5000; fill r0.raw 30000 2768
$V img convert -O vhd r0.raw base.vhd
read -r _ vs < <(vsizes base.vhd); truncate -s $vs r0.raw
cp r0.raw r1.raw; fill r1.raw 1 1; fill r1.raw 4095 2; zero r1.raw 12000 100; fill r1.raw 20000 50
cp r1.raw r2.raw; fill r2.raw 2 1000; zero r2.raw 4095 1; fill r2.raw 28000 4000
cp r2.raw r3.raw; zero r3.raw 0 4096; fill r3.raw 12010 10; fill r3.raw 32000 $(( vs / 512 - 32000 ))
$V img convert -O vhd -B base.vhd r1.raw d1.vhd &&
	$V img convert -O vhd -o block_size=512K -B d1.vhd r2.raw d2.vhd &&
	$V img convert -O vhd -B d2.vhd r3.raw d3.vhd && pass chain-build || fail chain-build
ok=1
for i in 1 2 3; do
	$V img compare d$i.vhd r$i.raw >/dev/null || { ok=0; echo "d$i differs from r$i"; }
	[ "$($V img check d$i.vhd >/dev/null 2>&1; echo $?)" = 0 ] || { ok=0; echo "d$i does not check clean"; }
done
$V img convert -O raw d3.vhd d3.raw && cmp d3.raw r3.raw || ok=0
[ $ok = 1 ] && pass chain-reads || fail chain-reads
$V img info --output=json --backing-chain d3.vhd >c.json && [ "$(json c.json 'len(j)')" = 4 ] && pass chain-info ||
	fail chain-info "$(cat c.json)"
# The parent locators are relative: the chain still opens after the directory moved.
cd .. && mv chain moved && cd moved
$V img compare d3.vhd r3.raw >/dev/null && pass chain-moved || fail chain-moved "$($V img info d3.vhd 2>&1)"
s1=$(sha256sum d1.vhd base.vhd)
$V img commit d3.vhd >/dev/null && $V img compare d2.vhd r3.raw >/dev/null && $V img compare d3.vhd r3.raw >/dev/null &&
	[ "$($V img check d2.vhd >/dev/null 2>&1; echo $?)" = 0 ] && [ "$(sha256sum d1.vhd base.vhd)" = "$s1" ] &&
	pass chain-commit || fail chain-commit
# Commit down to the base: the base becomes what the whole chain read.
$V img commit d2.vhd >/dev/null && $V img commit d1.vhd >/dev/null && $V img compare base.vhd r3.raw >/dev/null &&
	qemu-img compare -f vpc -F raw base.vhd r3.raw >/dev/null && pass chain-commit-to-base || fail chain-commit-to-base

finish
