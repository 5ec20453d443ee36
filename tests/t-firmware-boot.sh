#!/usr/bin/env bash
# The boot-sector guest (guests/fwboot/, build/guests/fwboot.img and fwboot.iso) booted by
# Debian's SeaBIOS from every drive type: under QEMU -M q35 with TCG (no KVM needed), and
# the same images under `vsrv run --firmware bios` (skipped without KVM). The guest checks
# the e820 map against the memory size, the CPU count in the MADT and SMBIOS, the SMBIOS
# type 1 UUID and the boot drive's sector size; each check prints PASS/FAIL fwboot-NAME.
# IDE: the images boot from QEMU -M pc's PIIX IDE (disk and CD) and from vsrv's (bus=ide).
. "$(dirname "$0")/lib.sh"

IMG=$GUESTS/fwboot.img
ISO=$GUESTS/fwboot.iso
BIOS=/usr/share/seabios/bios.bin
UUID=5f1c2d3e-4b5a-4978-8a9b-0c1d2e3f4a5b
CHECKS="medium e820-size e820-hole e820-1m cpus-madt smbios cpus-smbios uuid"

for f in "$IMG" "$ISO"; do
	if [ ! -s "$f" ]; then fail fwboot-images "$f is missing (make guests)"; exit 1; fi
done

# params SRC DST TEXT: a copy of SRC with TEXT as the guest's command line (the parameter
# block after the marker VSRVFWBOOT:, in the boot block of the disk or of the CD's boot file).
params() {
	python3 - "$1" "$2" "$3" <<'PY'
import sys
src, dst, text = sys.argv[1:]
data = bytearray(open(src, 'rb').read())
mark = b'VSRVFWBOOT:'
at = data.find(mark)
if at < 0 or data.find(mark, at + 1) >= 0:
    sys.exit('marker not found exactly once in ' + src)
t = text.encode() + b'\0'
assert len(t) <= 245
data[at + len(mark):at + len(mark) + len(t)] = t
open(dst, 'wb').write(data)
PY
}

# judge TEST OUT STATUS: exit status 33 (the runtime's PASS) and every check's PASS line.
judge() {
	local t=$1 out=$2 st=$3 c
	local tail_
	tail_=$(tr '\n' '|' <"$out" | tail -c 400)
	if [ "$st" -ne 33 ]; then fail "$t" "exit status $st, expected 33; output: $tail_"; return; fi
	for c in $CHECKS; do
		if ! grep -q "^PASS fwboot-$c\b" "$out"; then fail "$t" "no PASS fwboot-$c: $tail_"; return; fi
	done
	pass "$t"
}

# ---- QEMU -M q35, TCG ----------------------------------------------------------------------
QEMU=$(command -v qemu-system-x86_64 || true)
if [ -z "$QEMU" ] || [ ! -r "$BIOS" ]; then
	skip fwboot-qemu "qemu-system-x86_64 or $BIOS is not installed (make test-deps)"
else
	# The first of a repeated parameter counts: EXTRA (first) overrides the right values.
	# qboot NAME MACHINE MEM CPUS SECTOR EXTRA IMAGE DRIVE-ARGS...: one boot; sets $st.
	qboot() {
		local name=$1 machine=$2 mem=$3 cpus=$4 sector=$5 extra=$6 src=$7; shift 7
		local img=$TMP/$name.${src##*.}
		params "$src" "$img" "$extra mem=$((mem))M cpus=$cpus uuid=$UUID sector=$sector" || return
		local args=("$@")
		args=("${args[@]//@IMG@/$img}")
		timeout -k 5 60 "$QEMU" -M "$machine" -accel tcg -bios "$BIOS" -m "$mem" -smp "$cpus" \
			-smbios "type=1,uuid=$UUID" -nodefaults -nographic -serial stdio -no-reboot \
			-device isa-debug-exit,iobase=0xf4,iosize=0x04 "${args[@]}" \
			>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
		st=$?
	}
	# qcase NAME MACHINE MEM CPUS SECTOR IMAGE DRIVE-ARGS...: a boot that must pass.
	qcase() {
		local name=$1
		qboot "$1" "$2" "$3" "$4" "$5" "" "${@:6}"
		judge "fwboot-qemu-$name" "$TMP/$name.out" "$st"
	}
	D="file=@IMG@,format=raw,if=none,id=d0"
	qcase virtio-blk q35 256 2 512 "$IMG" -drive "$D" -device virtio-blk-pci,drive=d0,bootindex=0
	qcase virtio-scsi-disk q35 256 2 512 "$IMG" -device virtio-scsi-pci,id=s0 \
		-drive "$D" -device scsi-hd,drive=d0,bus=s0.0,bootindex=0
	qcase virtio-scsi-cd q35 256 2 2048 "$ISO" -device virtio-scsi-pci,id=s0 \
		-drive "$D,media=cdrom,readonly=on" -device scsi-cd,drive=d0,bus=s0.0,bootindex=0
	qcase ahci-disk q35 256 1 512 "$IMG" -drive "$D" -device ide-hd,drive=d0,bus=ide.0,bootindex=0
	qcase ahci-cd q35 256 1 2048 "$ISO" -drive "$D,media=cdrom,readonly=on" \
		-device ide-cd,drive=d0,bus=ide.0,bootindex=0
	# More RAM than fits below q35's PCI hole (2 GiB low, the rest from 4 GiB), 4 CPUs.
	qcase virtio-blk-3g q35 3072 4 512 "$IMG" -drive "$D" -device virtio-blk-pci,drive=d0,bootindex=0
	# An SMBIOS 3.0 (64-bit, _SM3_) entry point, the kind vsrv publishes.
	qcase smbios3 q35,smbios-entry-point-type=64 256 2 512 "$IMG" -drive "$D" \
		-device virtio-blk-pci,drive=d0,bootindex=0
	# Legacy IDE (the i440fx machine: q35 has none).
	qcase pc-ide pc 128 2 512 "$IMG" -drive "file=@IMG@,format=raw,if=ide,index=0"
	# The same CD image as vsrv's IDE CD case below: QEMU's PIIX IDE, the secondary master.
	qcase pc-ide-cd pc 128 1 2048 "$ISO" -drive "file=@IMG@,format=raw,if=ide,index=2,media=cdrom" \
		-boot order=d

	# Boot order: a disk whose parameters would fail and a CD whose would pass; the CD
	# must be the one booted (the test's logic, as the vsrv case below uses it).
	params "$IMG" "$TMP/wrong.img" "mem=1M cpus=99 uuid=$UUID sector=512"
	qcase order-cd-first q35 256 2 2048 "$ISO" \
		-drive "file=$TMP/wrong.img,format=raw,if=none,id=d1" -device virtio-blk-pci,drive=d1,bootindex=1 \
		-device virtio-scsi-pci,id=s0 -drive "$D,media=cdrom,readonly=on" \
		-device scsi-cd,drive=d0,bus=s0.0,bootindex=0

	# The guest must see a wrong expectation as a failure: another UUID, another CPU count.
	qboot bad-uuid q35 256 2 512 "uuid=00000000-1111-2222-3333-444444444444" "$IMG" \
		-drive "$D" -device virtio-blk-pci,drive=d0,bootindex=0
	if [ "$st" -eq 35 ] && grep -q "^FAIL fwboot-uuid: type 1 UUID $UUID, expected 00000000-" "$TMP/bad-uuid.out"
	then pass fwboot-qemu-wrong-uuid-fails
	else fail fwboot-qemu-wrong-uuid-fails "status $st: $(tr '\n' '|' <"$TMP/bad-uuid.out" | tail -c 300)"; fi
	qboot bad-cpus q35 256 2 512 "cpus=3" "$IMG" -drive "$D" -device virtio-blk-pci,drive=d0,bootindex=0
	if [ "$st" -eq 35 ] && grep -q "^FAIL fwboot-cpus-madt" "$TMP/bad-cpus.out" &&
	   grep -q "^FAIL fwboot-cpus-smbios" "$TMP/bad-cpus.out"
	then pass fwboot-qemu-wrong-cpus-fails
	else fail fwboot-qemu-wrong-cpus-fails "status $st: $(tr '\n' '|' <"$TMP/bad-cpus.out" | tail -c 300)"; fi
fi

# ---- vsrv run --firmware bios (needs KVM) --------------------------------------------------
if ! have_kvm; then
	skip fwboot-vsrv "$kvm_reason"
else
	# vcase NAME MEM CPUS SECTOR IMAGE VSRV-ARGS...: one boot that must pass.
	vcase() {
		local name=$1 mem=$2 cpus=$3 sector=$4 src=$5; shift 5
		local img=$TMP/v-$name.${src##*.}
		params "$src" "$img" "mem=$((mem))M cpus=$cpus uuid=$UUID sector=$sector" || return
		local args=("$@")
		args=("${args[@]//@IMG@/$img}")
		timeout -k 5 60 "$VSRV" run --firmware bios --memory "${mem}M" --cpus "$cpus" \
			--uuid "$UUID" --serial stdio --no-reboot "${args[@]}" \
			>"$TMP/v-$name.out" 2>"$TMP/v-$name.err" </dev/null
		judge "fwboot-vsrv-$name" "$TMP/v-$name.out" "$?"
	}
	vcase virtio-blk 256 2 512 "$IMG" --disk "@IMG@,format=raw,transport=pci"
	vcase virtio-scsi-disk 256 2 512 "$IMG" --disk "@IMG@,format=raw,bus=scsi,transport=pci"
	vcase virtio-scsi-cd 256 2 2048 "$ISO" --cdrom "@IMG@" --boot cdrom
	vcase virtio-blk-4g 4096 2 512 "$IMG" --disk "@IMG@,format=raw,transport=pci"
	# The PIIX3 IDE controller (SeaBIOS's ATA and ATAPI by PIO, legacy ports and IRQs).
	vcase ide-disk 256 1 512 "$IMG" --disk "@IMG@,format=raw,bus=ide"
	vcase ide-cd 256 1 2048 "$ISO" --cdrom "@IMG@,bus=ide" --boot cdrom
	params "$IMG" "$TMP/v-wrong-ide.img" "mem=1M cpus=99 uuid=$UUID sector=512"
	vcase ide-cd-slave 256 1 2048 "$ISO" --disk "$TMP/v-wrong-ide.img,format=raw,bus=ide" \
		--cdrom "@IMG@,bus=ide" --boot cdrom,disk
	# --boot: a disk that would fail and a CD that passes, in both command-line orders.
	params "$IMG" "$TMP/v-wrong.img" "mem=1M cpus=99 uuid=$UUID sector=512"
	vcase boot-cdrom-after-disk 256 2 2048 "$ISO" --disk "$TMP/v-wrong.img,format=raw" \
		--cdrom "@IMG@" --boot cdrom,disk
	vcase boot-cdrom-before-disk 256 2 2048 "$ISO" --cdrom "@IMG@" \
		--disk "$TMP/v-wrong.img,format=raw,bus=scsi" --boot cdrom

	# UEFI: OVMF on its flash reaches its boot manager or shell on the serial console (it
	# has no bootable disk here), its vars file made from Debian's template.
	if [ -r /usr/share/OVMF/OVMF_CODE_4M.fd ]; then
		"$VSRV" run --firmware "uefi,vars=$TMP/vm_VARS.fd" --memory 256M --serial stdio \
			--no-reboot </dev/null >"$TMP/uefi.out" 2>&1 &
		upid=$!
		for _ in $(seq 1 600); do
			grep -aq "UEFI Interactive Shell\|Shell>\|BdsDxe" "$TMP/uefi.out" && break
			kill -0 "$upid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$upid" 2>/dev/null
		wait "$upid" 2>/dev/null
		if ! grep -aq "UEFI Interactive Shell\|Shell>\|BdsDxe" "$TMP/uefi.out"; then
			fail fwboot-vsrv-uefi "no OVMF output in 60 s: $(tr '\n' '|' <"$TMP/uefi.out" | tail -c 300)"
		elif [ "$(stat -c %s "$TMP/vm_VARS.fd" 2>/dev/null)" != "$(stat -c %s /usr/share/OVMF/OVMF_VARS_4M.fd)" ]; then
			fail fwboot-vsrv-uefi "the vars file was not made from the template"
		else
			pass fwboot-vsrv-uefi
		fi
	else
		skip fwboot-vsrv-uefi "Debian's ovmf is not installed"
	fi
fi
finish
