#!/usr/bin/env bash
# The AHCI controller under KVM with the kit's guest (guests/vahci.c): an ICH9 AHCI at
# 00:1f.2 with a SATA disk (raw, then a dynamic VHD) and an ATAPI drive holding an ISO made by
# xorriso; the guest resets the HBA, checks the signatures, IDENTIFY, writes a pattern with
# DMA, flushes, reads it back with eight NCQ commands in flight, sees its errors (past the
# end, a PRD outside RAM) and reads the ISO's volume descriptor. The image is checked on the
# host. Skips without /dev/kvm.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vio-lib.sh"
G=$GUESTS/vahci.elf

if ! have_kvm; then skip ahci-guest "$kvm_reason"; exit 0; fi
mkdir -p "$TMP/iso" && echo vsrv >"$TMP/iso/hello.txt"
if ! xorriso -as mkisofs -quiet -V VSRV_AHCI -o "$TMP/cd.iso" "$TMP/iso" 2>/dev/null; then
	fail ahci-guest "cannot make the ISO (xorriso: make test-deps)"; finish; exit
fi

# verify IMAGE: the first MiB holds the guest's pattern (sector s, byte i: (s * 7 + i) & 0xff)
verify() {
	python3 - "$1" <<'PY'
import sys
d = open(sys.argv[1], "rb").read(1 << 20)
bad = [s for s in range(2048) if d[s * 512:(s + 1) * 512] != bytes((s * 7 + i) & 0xff for i in range(512))]
sys.exit("sectors differ: %s" % bad[:8] if bad else 0)
PY
}

img=$TMP/d.img; truncate -s 8M "$img"
vrun "$TMP/raw.out" --kernel "$G" --disk "$img,format=raw,bus=ahci" --cdrom "$TMP/cd.iso,bus=ahci"
if expect ahci-guest-raw "$TMP/raw.out" 33 "vahci: ok" &&
   expect ahci-guest-atapi "$TMP/raw.out" 33 "vahci: volume ID VSRV_AHCI"; then
	pass ahci-guest-atapi
	if err=$(verify "$img" 2>&1); then pass ahci-guest-raw; else fail ahci-guest-raw "image: $err"; fi
fi

vhd=$TMP/d.vhd; "$VSRV" img create -f vhd "$vhd" 8M >/dev/null
vrun "$TMP/vhd.out" --kernel "$G" --disk "$vhd,bus=ahci" --cdrom "$TMP/cd.iso,bus=ahci"
if expect ahci-guest-vhd "$TMP/vhd.out" 33 "vahci: ok"; then
	if ! "$VSRV" img check "$vhd" >"$TMP/check" 2>&1; then fail ahci-guest-vhd "img check: $(cat "$TMP/check")"
	elif ! "$VSRV" img convert -O raw "$vhd" "$TMP/vhd.raw"; then fail ahci-guest-vhd "convert failed"
	elif err=$(verify "$TMP/vhd.raw" 2>&1); then pass ahci-guest-vhd
	else fail ahci-guest-vhd "image: $err"; fi
fi
finish
