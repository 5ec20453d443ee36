#!/usr/bin/env bash
# Hostile guest (guests/evil.c): malformed descriptors, loops, wrapping lengths, indirect
# tables longer than the queue, bad queue sizes and addresses, notifications for missing
# queues, config writes out of range, against each device in turn (blk, net, scsi, rng,
# console: `victim=`), on virtio-mmio and virtio-pci. The VMM must not crash or hang, must log
# each problem in exactly one line, and the guest checks that the victim reports NEEDS_RESET
# or an error status, that another device keeps working and that the victim recovers after a
# reset. For net, garbage on the control queue too: every bad command answered VIRTIO_NET_ERR in
# one log line (at most 32, then one line saying the rest are not logged). Each victim also runs
# with ring=packed: its queue is then a packed ring, attacked with bad buffer ids, chains past
# the queue size or into descriptors not made available, stale wrap-counter bits, indirect misuse
# and buffers outside memory. Runs again under build-asan/vsrv (built here with `make asan` when missing, ~40 s on
# two cores; VSRV_NO_ASAN_BUILD=1 skips that): no sanitizer report.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vio-lib.sh"
G=$GUESTS/evil.elf

if ! have_kvm; then skip virtio-evil "$kvm_reason"; exit 0; fi

evil() { # NAME VSRV TRANSPORT VICTIM [RING]
	local n=$1 t=$3 v=$4 ring=${5:-split} img=$TMP/$1.img devs
	# cases, needs-reset lines: split 14 malformed rings, packed 12 (and one case with no
	# answer); both add queue size 5 and rings outside memory, and two cases with no log line
	local ncases=18 nreset=16
	[ "$ring" = packed ] && ncases=17 nreset=14
	truncate -s 1M "$img"
	case $v in
	blk) devs=(--disk "$img,format=raw,transport=$t" --device "rng,transport=$t") ;;
	rng) devs=(--device "rng,transport=$t" --disk "$img,format=raw,transport=$t") ;;
	scsi) devs=(--disk "$img,format=raw,bus=scsi,transport=$t" --device "rng,transport=$t") ;;
	net) devs=(--net "user,transport=$t" --device "rng,transport=$t") ;;
	console) devs=(--device "console,socket=$TMP/$n.sock,transport=$t" --device "rng,transport=$t") ;;
	esac
	VSRV_BIN=$2 vrun "$TMP/$n.out" --kernel "$G" --cmdline "transport=$t victim=$v ring=$ring" "${devs[@]}"
	expect "$n" "$TMP/$n.out" 33 "evil: $ncases cases ok" || return
	local lines ctl=0; lines=$(grep -c . "$TMP/$n.out.err")
	if [ "$v" = net ]; then
		# 12 bad commands, then 20 of the flood (32 in all), then one line for the rest
		expect "$n" "$TMP/$n.out" 33 "evil: 14 control-queue cases ok" || return
		ctl=$(grep -c "control command" "$TMP/$n.out.err")
		if [ "$ctl" -ne 33 ]; then
			fail "$n" "$ctl control-command log lines, expected 33: $(grep "control command" "$TMP/$n.out.err" | head -c 1500)"
			return
		fi
		lines=$((lines - ctl))
	fi
	if grep -q "AddressSanitizer\|runtime error\|LeakSanitizer" "$TMP/$n.out.err"; then
		fail "$n" "sanitizer: $(grep -m3 "Sanitizer\|runtime error" "$TMP/$n.out.err")"
	elif [ "$(grep -c "needs reset" "$TMP/$n.out.err")" -ne $nreset ]; then
		fail "$n" "expected $nreset needs-reset lines: $(head -c 1500 "$TMP/$n.out.err")"
	elif [ "$(grep -c "queue size 5" "$TMP/$n.out.err")" -ne 1 ]; then
		fail "$n" "queue size 5 was not logged in exactly one line"
	elif [ "$lines" -gt $((ncases + 2)) ]; then
		fail "$n" "$lines log lines for $ncases cases"
	elif ! cmp -s "$img" <(head -c 1048576 /dev/zero); then
		fail "$n" "the hostile requests changed the disk"
	else
		pass "$n"
	fi
}

VICTIMS=${EVIL_VICTIMS:-blk net scsi rng console}
for v in $VICTIMS; do for t in mmio pci; do
	evil evil-$v-$t "$VSRV" $t $v
	evil evil-packed-$v-$t "$VSRV" $t $v packed
done; done
if [ ! -x "$ROOT/build-asan/vsrv" ] && [ -z "${VSRV_NO_ASAN_BUILD:-}" ]; then
	make -C "$ROOT" -s -j2 asan >"$TMP/asan-build.log" 2>&1 || echo "note: make asan failed: $(tail -3 "$TMP/asan-build.log")"
fi
if [ -x "$ROOT/build-asan/vsrv" ]; then
	for v in $VICTIMS; do for t in mmio pci; do
		evil asan-evil-$v-$t "$ROOT/build-asan/vsrv" $t $v
		evil asan-evil-packed-$v-$t "$ROOT/build-asan/vsrv" $t $v packed
	done; done
else
	skip asan-evil "build-asan/vsrv not built (make asan)"
fi
finish
