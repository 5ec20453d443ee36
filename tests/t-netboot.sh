#!/usr/bin/env bash
# Network boot with no host set-up: the NIC's iPXE option ROM (Debian's ipxe-qemu), DHCP and
# TFTP from the user-mode network (--net user,tftp=DIR,bootfile=NAME). The TFTP directory
# holds an iPXE script that prints a line and boots the test kit's hello guest (multiboot)
# from the same server; the guest prints its command line (which iPXE starts with the
# kernel's URI) and exits through the debug-exit port with the pass status (33).
# First the oracle: QEMU with TCG (no KVM needed) boots the same directory from an e1000
# (-M pc -boot n, as QEMU users do), a virtio-net (-M q35) and, under OVMF, runs the script
# from iPXE's EFI driver. Then the same under `vsrv run --firmware` (skipped without KVM).
. "$(dirname "$0")/lib.sh"

BIOS=/usr/share/seabios/bios.bin
OVMF=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
ROMS="/usr/lib/ipxe/qemu/efi-e1000.rom /usr/lib/ipxe/qemu/efi-virtio.rom"
MARK="vsrv-netboot: iPXE script from TFTP"
GUEST='Hello from the vsrv test guest (multiboot boot, cmdline "tftp://10.0.2.2/hello.elf netboot=1")'

for f in "$GUESTS/hello.elf" "$VSRV"; do
	if [ ! -s "$f" ]; then fail netboot-files "$f is missing (make)"; finish; exit 1; fi
done
for f in $BIOS $ROMS; do
	if [ ! -r "$f" ]; then skip netboot "$f is missing (make test-deps: seabios, ipxe-qemu)"; exit 0; fi
done

D=$TMP/tftp
mkdir -p "$D"
cp "$GUESTS/hello.elf" "$D/"
printf '#!ipxe\necho %s\nkernel hello.elf netboot=1\nboot\n' "$MARK" >"$D/boot.ipxe"
printf '#!ipxe\necho %s under UEFI\nshell\n' "$MARK" >"$D/uefi.ipxe"

# judge TEST OUT STATUS: the pass status, the script's line and the guest's line.
judge() {
	local t=$1 out=$2 st=$3 tail_
	tail_=$(tr -d '\033' <"$out" | tr '\n' '|' | tail -c 400)
	if [ "$st" -ne 33 ]; then fail "$t" "exit status $st, expected 33; output: $tail_"
	elif ! grep -aqF "$MARK" "$out"; then fail "$t" "the iPXE script did not run: $tail_"
	elif ! grep -aqF "$GUEST" "$out"; then fail "$t" "the guest did not come from TFTP: $tail_"
	else pass "$t"; fi
}

# watch TEST OUT SECONDS PATTERN CMD...: run CMD in the background until PATTERN shows in OUT
# (PASS) or SECONDS pass or CMD ends (FAIL); CMD is stopped either way (and by its own
# timeout should this script be killed first).
watch() {
	local t=$1 out=$2 secs=$3 pat=$4 pid; shift 4
	timeout -k 5 $((secs + 30)) "$@" </dev/null >"$out" 2>&1 &
	pid=$!
	for _ in $(seq 1 $((secs * 10))); do
		grep -aqF "$pat" "$out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if grep -aqF "$pat" "$out"; then pass "$t"
	else fail "$t" "no '$pat' in $secs s: $(tr -d '\033' <"$out" | tr '\n' '|' | tail -c 400)"; fi
}

# ---- the oracle: QEMU with TCG ----------------------------------------------------------------
QEMU=$(command -v qemu-system-x86_64 || true)
if [ -z "$QEMU" ]; then
	skip netboot-qemu "qemu-system-x86_64 is not installed (make test-deps)"
else
	# qboot NAME MACHINE QEMU-ARGS...: a BIOS network boot; sets $st. TCG is slow here: a
	# generous limit (about 10 s when the machine is idle), but bounded.
	qboot() {
		local name=$1 machine=$2; shift 2
		timeout -k 5 240 "$QEMU" -M "$machine" -accel tcg -bios "$BIOS" -m 128 -nodefaults \
			-nographic -serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
			-netdev "user,id=n0,tftp=$D,bootfile=boot.ipxe" "$@" \
			>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
		st=$?
	}
	# the three boots at the same time (each a QEMU of its own; lines printed in this order)
	q_e1000() { qboot q-e1000 pc -device e1000,netdev=n0 -boot n; judge netboot-qemu-e1000 "$TMP/q-e1000.out" "$st"; }
	q_virtio() {
		qboot q-virtio q35 -device virtio-net-pci,netdev=n0,bootindex=1
		judge netboot-qemu-virtio "$TMP/q-virtio.out" "$st"
	}
	q_uefi() {
		watch netboot-qemu-uefi "$TMP/q-uefi.out" 240 "$MARK under UEFI" \
			"$QEMU" -M q35 -accel tcg -m 256 -nodefaults -nographic -serial stdio -no-reboot \
			-drive "if=pflash,format=raw,readonly=on,file=$OVMF" \
			-drive "if=pflash,format=raw,file=$TMP/q_VARS.fd" \
			-netdev "user,id=n0,tftp=$D,bootfile=uefi.ipxe" \
			-device virtio-net-pci,netdev=n0,bootindex=1
	}
	par_start q-e1000 q_e1000
	par_start q-virtio q_virtio
	if [ -r "$OVMF" ]; then
		cp "$OVMF_VARS" "$TMP/q_VARS.fd"
		par_start q-uefi q_uefi
	else
		skip netboot-qemu-uefi "Debian's ovmf is not installed"
	fi
	par_wait
fi

# ---- vsrv: refused before the VM is built (no KVM needed) ------------------------------------
# expect_refused TEST PATTERN ARGS...: vsrv run fails at once with PATTERN on stderr.
expect_refused() {
	local t=$1 pat=$2; shift 2
	timeout -k 5 30 "$VSRV" run --firmware bios --serial none "$@" </dev/null \
		>"$TMP/$t.out" 2>"$TMP/$t.err"
	local rc=$?
	if [ "$rc" -eq 0 ] || [ "$rc" -ge 124 ]; then fail "$t" "status $rc, expected a refusal"
	elif ! grep -qF -- "$pat" "$TMP/$t.err"; then fail "$t" "no '$pat' in: $(head -c 300 "$TMP/$t.err")"
	else pass "$t"; fi
}
expect_refused netboot-vsrv-romfile-missing "romfile=$TMP/none.rom: No such file or directory" \
	--net "user,model=e1000,romfile=$TMP/none.rom"
expect_refused netboot-vsrv-tftp-missing "tftp=$TMP/nodir: No such file or directory" \
	--net "user,tftp=$TMP/nodir,bootfile=boot.ipxe"
expect_refused netboot-vsrv-tftp-file "tftp=$D/boot.ipxe: Not a directory" \
	--net "user,tftp=$D/boot.ipxe"
expect_refused netboot-vsrv-tftp-tap "tftp= and bootfile= are the user-mode network's" \
	--net "tap=vsrvnb0,tftp=$D"
expect_refused netboot-vsrv-boot-letter "--boot nx: expected cdrom, disk and net" \
	--net user --boot nx

# ---- vsrv run --firmware (needs KVM) ----------------------------------------------------------
if ! have_kvm; then
	skip netboot-vsrv "$kvm_reason"
	finish
	exit
fi
# vboot NAME FIRMWARE ARGS...: a network boot under vsrv; sets $st.
vboot() {
	local name=$1 fw=$2; shift 2
	timeout -k 5 120 "$VSRV" run --firmware "$fw" --memory 128M --serial stdio --no-reboot "$@" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
	st=$?
}
vboot v-e1000 bios --net "user,model=e1000,tftp=$D,bootfile=boot.ipxe" --boot n
judge netboot-vsrv-e1000 "$TMP/v-e1000.out" "$st"
vboot v-virtio bios --net "user,tftp=$D,bootfile=boot.ipxe" --boot n
judge netboot-vsrv-virtio "$TMP/v-virtio.out" "$st"
# the NIC second in the order, after an empty CD drive: the firmware goes on to the network
vboot v-order bios --cdrom --net "user,model=e1000,tftp=$D,bootfile=boot.ipxe" --boot d,n
judge netboot-vsrv-order "$TMP/v-order.out" "$st"
# Without the ROM there is no network boot: the firmware gives up (and --no-reboot ends the VM).
vboot v-norom bios --net "user,model=e1000,romfile=none,tftp=$D,bootfile=boot.ipxe" --boot n
if [ "$st" -ne 33 ] && ! grep -aqF "$MARK" "$TMP/v-norom.out"; then pass netboot-vsrv-romfile-none
else fail netboot-vsrv-romfile-none "booted from the network without a ROM (status $st)"; fi
if [ -r "$OVMF" ]; then
	watch netboot-vsrv-uefi "$TMP/v-uefi.out" 120 "$MARK under UEFI" \
		"$VSRV" run --firmware "uefi,vars=$TMP/v_VARS.fd" --memory 256M --serial stdio --no-reboot \
		--net "user,tftp=$D,bootfile=uefi.ipxe" --boot n
else
	skip netboot-vsrv-uefi "Debian's ovmf is not installed"
fi
finish
