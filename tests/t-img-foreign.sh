#!/usr/bin/env bash
# vsrv img on the disks people bring: qcow2 (libqcow), VMDK (libvmdk) and VHDX (libvhdi),
# made here by qemu-img with patterns written by qemu-io.
#  1. every variant (qcow2 v3/v2/compressed/with a backing chain, VMDK monolithicSparse/
#     streamOptimized/monolithicFlat/twoGbMaxExtentSparse/with a parent, VHDX dynamic/fixed)
#     has qemu-img's virtual size and backing file in `vsrv img info`, converts with
#     `vsrv img convert -O vpc` and `-O raw` to images qemu-img compare finds identical to
#     the source, and `vsrv img compare` finds it identical to qemu-img's own conversion
#     (and finds a one-byte difference);
#  2. what the libraries cannot read or vsrv does not write is refused with a reason and
#     qemu-img's exit codes, and nothing is written: encryption, unknown qcow2 features, a
#     missing or non-qcow2 backing file, writes of any kind;
#  3. truncated and corrupted files of each format: a message and a non-zero exit where the
#     data is gone, never a crash, under valgrind (and the ASan build when `make asan` made it).
. "$(dirname "$0")/lib.sh"
cd "$TMP"
V=$VSRV

for t in qemu-img qemu-io python3; do
	command -v $t >/dev/null || { skip img-foreign "$t not installed (make test-deps)"; exit 0; }
done

# jget FILE EXPR...: fields of a JSON document, on one line separated by spaces
jget() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(*(eval(e) for e in sys.argv[2:]))' "$@"; }
# w FMT IMG PATTERN OFFSET LENGTH: write a pattern with qemu-io
w() { qemu-io -f "$1" -c "write -P $3 $4 $5" "$2" >/dev/null; }
# w4 FMT IMG: the four patterns of the images below, in one qemu-io: data in several
# clusters, some partial, one at the end of the 64 MiB
w4() {
	qemu-io -f "$1" -c "write -P 0x11 0 64k" -c "write -P 0x22 100k 3k" -c "write -P 0x33 5M 2M" \
		-c "write -P 0x44 $((64 * 1024 * 1024 - 4096)) 4k" "$2" >/dev/null
}

# ---- the images --------------------------------------------------------------------------
mk_qcow2() {  # a 64 MiB qcow2 with data in several clusters, some partial, one at the end
	qemu-img create -q -f qcow2 "$@" && local img=${@: -2:1}
	w4 qcow2 "$img"
}
mk_qcow2 q3.qcow2 64M
mk_qcow2 -o compat=0.10 q2.qcow2 64M
mk_qcow2 -o cluster_size=2M qbig.qcow2 64M
qemu-img convert -c -O qcow2 q3.qcow2 qc.qcow2            # compressed clusters
# a chain in two directories: base (64k clusters) <- mid (512-byte clusters) <- top,
# each overwriting part of what is below, the backing names relative
mkdir -p base
mk_qcow2 base/b.qcow2 64M
qemu-img create -q -f qcow2 -o cluster_size=512 -b base/b.qcow2 -F qcow2 mid.qcow2
w qcow2 mid.qcow2 0x55 32k 64k; w qcow2 mid.qcow2 0x66 5M 512
qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2
w qcow2 top.qcow2 0x77 60k 8k; w qcow2 top.qcow2 0x88 6M 1M

mk_vmdk() {
	qemu-img create -q -f vmdk "$@" && local img=${@: -2:1}
	w4 vmdk "$img"
}
mk_vmdk vsparse.vmdk 64M                                   # monolithicSparse (the default)
mk_vmdk -o subformat=monolithicFlat vflat.vmdk 64M         # a descriptor + its extent file
mk_vmdk -o subformat=twoGbMaxExtentSparse vsplit.vmdk 64M
qemu-img convert -O vmdk -o subformat=streamOptimized vsparse.vmdk vstream.vmdk
qemu-img create -q -f vmdk -b vsparse.vmdk -F vmdk vtop.vmdk
w vmdk vtop.vmdk 0x99 60k 8k; w vmdk vtop.vmdk 0xaa 6M 1M

mk_vhdx() {
	qemu-img create -q -f vhdx "$@" && local img=${@: -2:1}
	w4 vhdx "$img"
}
mk_vhdx xdyn.vhdx 64M
mk_vhdx -o subformat=fixed xfixed.vhdx 64M
mk_vhdx -o block_size=1M xodd.vhdx $((48 * 1024 * 1024 + 512 * 7))

# NAME FORMAT BACKING(-: none)
cases=(
	"q3.qcow2 qcow2 -" "q2.qcow2 qcow2 -" "qbig.qcow2 qcow2 -" "qc.qcow2 qcow2 -"
	"top.qcow2 qcow2 mid.qcow2" "mid.qcow2 qcow2 base/b.qcow2"
	"vsparse.vmdk vmdk -" "vflat.vmdk vmdk -" "vsplit.vmdk vmdk -" "vstream.vmdk vmdk -"
	"vtop.vmdk vmdk vsparse.vmdk"
	"xdyn.vhdx vhdx -" "xfixed.vhdx vhdx -" "xodd.vhdx vhdx -"
)

# ---- 3. truncated and corrupted files ----------------------------------------------------
# Small images (4 MiB) so that valgrind runs stay short. Under valgrind (and ASan), errors
# in vsrv or in the libraries get exit status 99: they cannot pass for a normal failure.
export ASAN_OPTIONS="exitcode=99:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:exitcode=99${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
runners=()
if command -v valgrind >/dev/null; then
	runners+=("valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite $V")
else
	skip foreign-bad-valgrind "valgrind not installed (make test-deps)"
fi
[ -x "$ROOT/build-asan/vsrv" ] && runners+=("$ROOT/build-asan/vsrv")
[ ${#runners[@]} = 0 ] && runners+=("$V")

qemu-img create -q -f qcow2 s.qcow2 4M && w qcow2 s.qcow2 0x5a 0 4M
qemu-img convert -c -O qcow2 s.qcow2 sc.qcow2
qemu-img convert -O qcow2 -o cluster_size=2M s.qcow2 sbig.qcow2
qemu-img convert -O vmdk s.qcow2 s.vmdk
qemu-img convert -O vmdk -o subformat=streamOptimized s.qcow2 ss.vmdk
qemu-img convert -O vhdx s.qcow2 s.vhdx
qemu-img convert -O raw s.qcow2 s.raw
# mutate SRC DST KIND: a damaged copy. trunc-N: the first N bytes; trunc-half: half the
# file (its data is gone); garbage-OFF: 4 KiB of random bytes at OFF (past the magic)
mutate() {
	case $3 in
	trunc-half) head -c $(( $(stat -c %s "$1") / 2 )) "$1" >"$2" ;;
	trunc-*) head -c "${3#trunc-}" "$1" >"$2" ;;
	garbage-*) cp "$1" "$2"; head -c 4096 /dev/urandom | dd of="$2" bs=1 seek="${3#garbage-}" conv=notrunc status=none ;;
	esac
}
# the good images too: no memory error nor leak in a whole info and convert of a chain
# (the 4 MiB images of each library, and a chain's info: valgrind is slow on 64 MiB)
vg_good() {
	local vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" img
	for img in s.qcow2 sc.qcow2 s.vmdk ss.vmdk s.vhdx; do
		rm -f out.vhd
		$vg $V img info "$TMP/$img" >/dev/null 2>e.txt && $vg $V img convert -O vpc "$TMP/$img" out.vhd 2>>e.txt &&
			qemu-img compare -q "$TMP/$img" out.vhd && pass "vg-good-${img/./-}" || fail "vg-good-${img/./-}" "$(head -c 600 e.txt)"
	done
	for img in top.qcow2 vtop.vmdk; do
		$vg $V img info --backing-chain "$TMP/$img" >/dev/null 2>e.txt && pass "vg-good-chain-${img/./-}" ||
			fail "vg-good-chain-${img/./-}" "$(head -c 600 e.txt)"
	done
}

# libfault FILE: the library whose code made the first bad access in a valgrind or ASan
# report (its first frame outside the checker's own and libc's), or nothing when that frame
# is vsrv's.
libfault() {
	grep -E '(at|by) 0x[0-9A-F]+: |#[0-9]+ 0x[0-9a-f]+ in ' "$1" | grep -vE 'vgpreload|interceptor|libc\.so|asan|ubsan' |
		head -n1 | grep -oE 'lib(qcow|vmdk|vhdi)\.so' | sed 's/\.so//'
}
# Every damage with the plain binary (a crash is an exit status of 128 or more); under the
# checkers (valgrind, ASan: slow) the two damages that reach the most code, info and convert.
all_kinds="trunc-8 trunc-600 trunc-half garbage-8 garbage-65536 garbage-1048576"
all_cmds='info|convert -O vpc bad.FMT out.vhd|compare bad.FMT s.raw'
# bad_runs R: every damage the runner R (the plain binary, valgrind or the ASan build) is
# given, on copies of the 4 MiB images in the current directory
bad_runs() {
	local r=$1 tag kinds cmds src fmt kind name ok why known cmd rc lib
	case $r in
	valgrind*) tag=vg kinds="trunc-half garbage-65536" cmds='info|convert -O vpc bad.FMT out.vhd' ;;
	"$V") tag=plain kinds=$all_kinds cmds=$all_cmds ;;
	*) tag=asan kinds="trunc-half garbage-65536" cmds='info|convert -O vpc bad.FMT out.vhd' ;;
	esac
	cp "$TMP"/{s.qcow2,sc.qcow2,sbig.qcow2,s.vmdk,ss.vmdk,s.vhdx,s.raw} .
	for src in s.qcow2 sc.qcow2 sbig.qcow2 s.vmdk ss.vmdk s.vhdx; do
		fmt=${src##*.}
		for kind in $kinds; do
			name="$tag-bad-${src/./-}-$kind"
			mutate "$src" bad.$fmt $kind
			ok=1 why= known=
			IFS='|' read -ra cmdlist <<<"${cmds//FMT/$fmt}"
			for cmd in "${cmdlist[@]}"; do
				[ "$cmd" = info ] && cmd="info bad.$fmt"
				rm -f out.vhd
				timeout 120 $r img $cmd >o.txt 2>e.txt; rc=$?
				set -- $cmd
				# a crash of the plain binary: valgrind says whose code it was
				if [ $tag = plain ] && [ $rc -ge 124 ] && command -v valgrind >/dev/null; then
					timeout 300 valgrind -q --error-exitcode=99 $V img $cmd >o.txt 2>e.txt; rc=$((rc > 99 ? rc : 99))
				fi
				if [ $rc -ge 99 ]; then
					lib=$(libfault e.txt)
					if [ -n "$lib" ]; then
						known="$known; '$cmd': a bad memory access inside $lib (exit $rc), a bug of Debian's $lib"
					else
						ok=0 why="$why; '$cmd' crashed or a memory error (exit $rc): $(grep -m4 -E '==|ERROR|Invalid|#[0-3] ' e.txt | tr '\n' ' ')"
					fi
				elif [ $1 = compare ] && [ $rc = 1 ]; then :  # readable, and different: fine
				elif [ $rc != 0 ] && ! grep -q "bad.$fmt" e.txt; then ok=0 why="$why; '$cmd' exit $rc without naming the file: $(cat e.txt)"
				elif [ $rc != 0 ] && [ $rc != $([ $1 = compare ] && echo 2 || echo 1) ]; then ok=0 why="$why; '$cmd' exit $rc"
				fi
				# where the data is cut off, reading it must fail (or differ), never pass as
				# the original; libvmdk 20200926 returns the last grain it read instead
				if [[ $kind == trunc-* ]] && [ $1 != info ] && [ $rc = 0 ]; then
					if [ $fmt = vmdk ]; then known="$known; '$cmd' succeeded: libvmdk reads grains cut off by the truncation without an error"
					else ok=0 why="$why; '$cmd' succeeded on a file whose data is cut off"; fi
				fi
			done
			if [ $ok = 0 ]; then fail "$name" "${why#; }"
			elif [ -n "$known" ]; then skip "$name" "known library limitation: ${known#; }"
			else pass "$name"; fi
		done
	done
}
# the runs, at the same time (each its own directory), and with parts 1 and 2
command -v valgrind >/dev/null && par_start vg-good vg_good
i=0
for r in "$V" "${runners[@]}"; do
	[ "$r" = "$V" ] && [ "${runners[0]}" = "$V" ] && continue  # no checker: the plain run is the one below
	par_start bad-$((i++)) bad_runs "$r"
done

# ---- 1. info, convert, compare against qemu-img ------------------------------------------
for c in "${cases[@]}"; do
	set -- $c; img=$1 fmt=$2 back=$3; n=${img%.*}
	if ! [ -s "$img" ]; then fail "$n-made" "qemu-img did not make $img"; continue; fi
	# info: format, virtual size and backing file as qemu-img sees them
	qemu-img info -f $fmt --output=json "$img" >q.json
	if $V img info --output=json "$img" >v.json 2>e.txt; then
		# both documents in one python3 (its start is a good part of a case's time)
		read -r qsize qback vsize vback vfmt < <(python3 -c 'import json,sys
q, v = (json.load(open(f)) for f in sys.argv[1:])
print(q["virtual-size"], q.get("backing-filename", "-"), v["virtual-size"], v.get("backing-filename", "-"), v["format"])' q.json v.json)
		want="$qsize $qback" got="$vsize $vback"
		[ "$want" = "$got" ] && [ "$vfmt" = $fmt ] && [ "$back" = "$vback" ] &&
			pass "$n-info" || fail "$n-info" "qemu-img: $want, vsrv: $got $vfmt"
	else
		fail "$n-info" "exit $?: $(cat e.txt)"
	fi
	# convert to VHD and raw: qemu-img finds both identical to the source
	for o in vpc raw; do
		rm -f out.$o
		if ! $V img convert -O $o "$img" out.$o 2>e.txt; then fail "$n-convert-$o" "$(cat e.txt)"; continue; fi
		out=$(qemu-img compare -f $fmt -F $o "$img" out.$o 2>&1) && pass "$n-convert-$o" ||
			fail "$n-convert-$o" "qemu-img compare: $out"
	done
	# vsrv img compare: the source against qemu-img's own conversion, then a changed copy
	qemu-img convert -f $fmt -O raw "$img" q.raw
	out=$($V img compare "$img" q.raw 2>&1); rc=$?
	[ $rc = 0 ] && [[ "$out" == *"Images are identical."* ]] && pass "$n-compare" || fail "$n-compare" "exit $rc: $out"
	printf '\xfe' | dd of=q.raw bs=1 seek=$((5 * 1024 * 1024 + 777)) conv=notrunc status=none
	out=$($V img compare -f $fmt -F raw "$img" q.raw 2>&1); rc=$?
	[ $rc = 1 ] && [[ "$out" == *"Content mismatch at offset $((5 * 1024 * 1024 + 777))!"* ]] &&
		pass "$n-compare-differs" || fail "$n-compare-differs" "exit $rc: $out"
done
# --backing-chain: every file of the chain, top first
if $V img info --backing-chain --output=json top.qcow2 >v.json 2>e.txt &&
   [ "$(jget v.json '[(x["filename"].split("/")[-1], x["format"]) for x in j]')" = "[('top.qcow2', 'qcow2'), ('mid.qcow2', 'qcow2'), ('b.qcow2', 'qcow2')]" ]; then
	pass "qcow2-backing-chain-info"
else
	fail "qcow2-backing-chain-info" "$(cat v.json e.txt)"
fi
# the chain read from another directory (backing names relative to each image)
mkdir -p elsewhere && (cd elsewhere && $V img convert -O vpc ../top.qcow2 top.vhd) &&
	qemu-img compare -f qcow2 -F vpc top.qcow2 elsewhere/top.vhd >/dev/null &&
	pass "qcow2-chain-from-another-dir" || fail "qcow2-chain-from-another-dir" "convert or compare failed"
# an image a VM writes (qemu-io holds QEMU's write lock) is refused, -U reads it anyway
qemu-io -f qcow2 -c "sleep 60000" q3.qcow2 >/dev/null 2>&1 &
qpid=$!
held=0  # until qemu-io holds its lock, seen 3 times in a row (QEMU drops and takes its
for _ in $(seq 600); do  # locks again while it opens; up to a minute on a busy machine)
	if $V img info q3.qcow2 >/dev/null 2>&1; then held=0; else held=$((held + 1)); fi
	[ $held -ge 3 ] && break
	sleep 0.1
done
out=$($V img info q3.qcow2 2>&1); rc=$?
out2=$($V img info -U q3.qcow2 2>&1); rc2=$?
kill $qpid 2>/dev/null; wait $qpid 2>/dev/null
[ $rc = 1 ] && [[ "$out" == *q3.qcow2* ]] && [ $rc2 = 0 ] && pass "qcow2-locked-by-writer" ||
	fail "qcow2-locked-by-writer" "locked: exit $rc $out; -U: exit $rc2 $out2"

# ---- 2. refusals -------------------------------------------------------------------------
# refused NAME WANT-EXIT WANT-TEXT ARGS...: vsrv img ARGS exits WANT-EXIT with WANT-TEXT in
# its message and writes no out.vhd
refused() {
	local name=$1 want=$2 text=$3 out rc; shift 3
	rm -f out.vhd
	out=$($V img "$@" 2>&1); rc=$?
	if [ $rc = "$want" ] && [[ "$out" == *"$text"* ]] && ! [ -e out.vhd ]; then pass "$name"
	else fail "$name" "exit $rc (want $want): $out"; fi
}
# LUKS: a short PBKDF2 time (QEMU's default benchmarks for 2 s and, on a loaded machine, can
# fail to measure); any failure of qemu-img is shown, not hidden behind a missing file
luks_err=$(qemu-img create -q -f qcow2 --object secret,id=s0,data=abc123 \
	-o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 luks.qcow2 16M 2>&1) ||
	luks_err=$(qemu-img create -q -f qcow2 --object secret,id=s0,data=abc123 \
		-o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=100 luks.qcow2 16M 2>&1)
qemu-img create -q -f qcow2 --object secret,id=s0,data=abc123 -o encrypt.format=aes,encrypt.key-secret=s0 aes.qcow2 16M
if [ -e luks.qcow2 ]; then
	refused refuse-qcow2-luks 1 "luks.qcow2: libqcow cannot read it: encrypted (LUKS): not supported" convert -O vpc luks.qcow2 out.vhd
else
	skip refuse-qcow2-luks "qemu-img could not make the LUKS image here: $luks_err"
fi
refused refuse-qcow2-aes 1 "encrypted (AES-CBC): not supported" info aes.qcow2
qemu-img create -q -f qcow2 -o compression_type=zstd zstd.qcow2 16M
qemu-img create -q -f qcow2 -o extended_l2=on l2.qcow2 16M
qemu-img create -q -f qcow2 -o data_file=ext.raw ext.qcow2 16M
for f in "zstd:zstd compression" "l2:extended L2 entries" "ext:an external data file"; do
	refused refuse-qcow2-feature-${f%%:*} 1 "${f%%:*}.qcow2: libqcow cannot read it: unsupported incompatible features flags: 0x000000" \
		convert -O vpc ${f%%:*}.qcow2 out.vhd
	refused refuse-qcow2-feature-${f%%:*}-named 1 "(${f#*:})" info ${f%%:*}.qcow2
done
qemu-img create -q -f qcow2 -b gone.qcow2 -F qcow2 -u orphan.qcow2 16M
refused refuse-qcow2-missing-backing 1 "backing file 'gone.qcow2' of orphan.qcow2: No such file or directory" convert -O vpc orphan.qcow2 out.vhd
truncate -s 16M plain.raw
qemu-img create -q -f qcow2 -b plain.raw -F raw overraw.qcow2
refused refuse-qcow2-raw-backing 1 "plain.raw is raw: libqcow follows only qcow2 backing files" info overraw.qcow2
qemu-img create -q -f qcow2 -b loop2.qcow2 -F qcow2 -u loop1.qcow2 16M
qemu-img create -q -f qcow2 -b loop1.qcow2 -F qcow2 -u loop2.qcow2 16M
refused refuse-qcow2-backing-loop 1 "backing chain deeper than" info loop1.qcow2
qemu-img create -q -f vdi x.vdi 16M && refused refuse-vdi 1 "vdi images are not supported" convert -O vpc x.vdi out.vhd
# nothing writes them
refused refuse-convert-to-qcow2 1 "vsrv writes vhd (vpc) and raw images; qcow2 is read only" convert -O qcow2 out.raw x.qcow2
refused refuse-create-vmdk 1 "vsrv creates vhd (vpc) and raw images; vmdk is read-only" create -f vmdk n.vmdk 1M
sum=$(md5sum q3.qcow2 vsparse.vmdk xdyn.vhdx top.qcow2 mid.qcow2)
refused refuse-resize-qcow2 1 "qcow2 images are read-only in vsrv" resize q3.qcow2 +1M
refused refuse-compact-vhdx 1 "vhdx images are read-only in vsrv" compact xdyn.vhdx
refused refuse-resize-vmdk 1 "vmdk images are read-only in vsrv" resize vsparse.vmdk 128M
refused refuse-commit-qcow2 1 "is a qcow2 image: read-only in vsrv" commit top.qcow2
refused check-qcow2-not-checked 63 "vsrv reads qcow2 images but does not check them" check q3.qcow2
refused map-qcow2-unknown 1 "allocation map of qcow2 images is not known" map q3.qcow2
[ "$sum" = "$(md5sum q3.qcow2 vsparse.vmdk xdyn.vhdx top.qcow2 mid.qcow2)" ] && pass "foreign-images-unchanged" ||
	fail "foreign-images-unchanged" "a read-only image was modified"

# ---- 3. truncated and corrupted files: their results ------------------------------------
par_wait

finish
