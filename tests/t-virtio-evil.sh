#!/usr/bin/env bash
# Hostile guest (guests/evil.c): malformed descriptors, loops, wrapping lengths, bad queue
# sizes and addresses, notifications for missing queues, config writes out of range, on
# virtio-mmio and virtio-pci. The VMM must not crash or hang, must log each problem (a few
# lines, not a flood), and the guest checks that the victim reports NEEDS_RESET or an I/O
# error, that the other device keeps working and that the victim recovers after a reset.
# Runs again under build-asan/vsrv (built here with `make asan` when missing, ~40 s on two
# cores; VSRV_NO_ASAN_BUILD=1 skips that): no sanitizer report.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vio-lib.sh"
G=$GUESTS/evil.elf

if ! have_kvm; then skip virtio-evil "$kvm_reason"; exit 0; fi

evil() { # NAME VSRV TRANSPORT
	local n=$1 t=$3 img=$TMP/$1.img
	truncate -s 1M "$img"
	VSRV_BIN=$2 vrun "$TMP/$n.out" --kernel "$G" --cmdline "transport=$t" \
		--disk "$img,format=raw,transport=$t" --device rng,transport=$t
	expect "$n" "$TMP/$n.out" 33 "evil: 18 cases ok" || return
	local lines; lines=$(grep -c . "$TMP/$n.out.err")
	if grep -q "AddressSanitizer\|runtime error\|LeakSanitizer" "$TMP/$n.out.err"; then
		fail "$n" "sanitizer: $(grep -m3 "Sanitizer\|runtime error" "$TMP/$n.out.err")"
	elif [ "$(grep -c "needs reset\|failing it" "$TMP/$n.out.err")" -lt 14 ]; then
		fail "$n" "the device did not log the malformed requests: $(head -c 600 "$TMP/$n.out.err")"
	elif [ "$lines" -gt 30 ]; then
		fail "$n" "$lines log lines for 18 cases"
	elif ! cmp -s "$img" <(head -c 1048576 /dev/zero); then
		fail "$n" "the hostile requests changed the disk"
	else
		pass "$n"
	fi
}

for t in mmio pci; do evil evil-$t "$VSRV" $t; done
if [ ! -x "$ROOT/build-asan/vsrv" ] && [ -z "${VSRV_NO_ASAN_BUILD:-}" ]; then
	make -C "$ROOT" -s -j2 asan >"$TMP/asan-build.log" 2>&1 || echo "note: make asan failed: $(tail -3 "$TMP/asan-build.log")"
fi
if [ -x "$ROOT/build-asan/vsrv" ]; then
	for t in mmio pci; do evil asan-evil-$t "$ROOT/build-asan/vsrv" $t; done
else
	skip asan-evil "build-asan/vsrv not built (make asan)"
fi
finish
