#!/usr/bin/env bash
# vsrv run --firmware, --boot, --uuid, --name, --serial-number: every bad value is one error
# line and status 1, found before /dev/kvm is opened (no KVM needed: a bad firmware never
# gets as far as KVM). The boots themselves are tests/t-firmware-boot.sh.
source "$(dirname "$0")/lib.sh"

# expect NAME STATUS PATTERN -- ARGS...: as in t-run.sh.
expect() {
	local name=$1 want=$2 pat=$3; shift 4
	local out rc
	out=$(timeout -k 5 60 "$VSRV" run "$@" </dev/null 2>&1); rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$name" "status $rc, expected $want; output: $(echo "$out" | tail -n 3 | tr '\n' '|')"
	elif ! grep -Eq -- "$pat" <<<"$out"; then
		fail "$name" "output does not match /$pat/: $(echo "$out" | tail -n 3 | tr '\n' '|')"
	elif [ "$(grep -c '^vsrv: ' <<<"$out")" -ne 1 ]; then
		fail "$name" "expected exactly one error line: $(echo "$out" | tr '\n' '|')"
	else
		pass "$name"
	fi
}

head -c 4096 /dev/zero >"$TMP/small.rom"
head -c 65537 /dev/zero >"$TMP/odd.rom"
truncate -s 17M "$TMP/big.rom"
truncate -s 128K "$TMP/ok.rom"
truncate -s 15M "$TMP/15m.rom"
truncate -s 2M "$TMP/2m.vars"
mkdir "$TMP/dir.rom"

expect fw-missing       1 'firmware: ROM /nonexistent/bios.bin: No such file' -- --firmware /nonexistent/bios.bin
expect fw-directory     1 "firmware: ROM $TMP/dir.rom: not a regular file" -- --firmware "$TMP/dir.rom"
expect fw-too-small     1 '4096 bytes is not a firmware image' -- --firmware "$TMP/small.rom"
expect fw-unaligned     1 '65537 bytes is not a firmware image' -- --firmware "$TMP/odd.rom"
expect fw-too-big       1 '17825792 bytes is not a firmware image' -- --firmware "$TMP/big.rom"
expect fw-empty         1 'expected bios, uefi,vars=FILE or PATH' -- --firmware ''
expect fw-bad-option    1 'expected bios, uefi,vars=FILE or PATH' -- --firmware bios,frob=1
expect fw-two-options   1 'expected bios, uefi,vars=FILE or PATH' -- --firmware "uefi,vars=$TMP/v,vars=$TMP/w"
expect fw-bios-vars     1 'a BIOS has no variable store' -- --firmware "bios,vars=$TMP/v.fd"
expect fw-uefi-no-vars  1 'firmware uefi needs vars=FILE' -- --firmware uefi
expect fw-vars-dir      1 "vars $TMP/dir.rom: not a regular file" -- --firmware "uefi,vars=$TMP/dir.rom"
expect fw-rom-and-vars-too-big 1 'ROM and vars together pass 16 MiB' -- --firmware "$TMP/15m.rom,vars=$TMP/2m.vars"
expect fw-and-kernel    1 'firmware and --kernel exclude each other' -- --firmware bios --kernel x
expect fw-and-initrd    1 'initrd and --cmdline are for --kernel' -- --firmware bios --initrd x
expect fw-and-cmdline   1 'initrd and --cmdline are for --kernel' -- --firmware bios --cmdline quiet
# --firmware with --restore is accepted (a firmware VM's save file): the file is the next check.
expect fw-and-restore   1 'restore /nonexistent/vm.state: No such file' -- --firmware bios --restore /nonexistent/vm.state
expect boot-unknown     1 'boot floppy: expected cdrom, disk and net' -- --firmware bios --boot floppy
expect boot-twice       1 'boot cdrom,disk,cdrom: expected' -- --firmware bios --boot cdrom,disk,cdrom
expect boot-empty-item  1 'boot cdrom,,disk: expected' -- --firmware bios --boot cdrom,,disk
expect boot-trailing    1 'boot cdrom,: expected' -- --firmware bios --boot cdrom,
expect uuid-bad         1 'uuid 1234: expected a UUID' -- --firmware bios --uuid 1234
expect name-too-long    1 'name: 1 to 64 characters' -- --firmware bios --name "$(printf 'x%.0s' $(seq 65))"
expect serial-number-empty 1 'serial-number: 1 to 64 characters' -- --firmware bios --serial-number ''
expect boot-without-fw  1 'are for --firmware' -- --kernel x --boot disk
expect uuid-without-fw  1 'are for --firmware' -- --kernel x --uuid 5f1c2d3e-4b5a-4978-8a9b-0c1d2e3f4a5b
expect no-kernel-no-fw  1 'kernel FILE is required' --

# Good values get past every check to KVM: without /dev/kvm that is the next (and only) error.
if have_kvm; then
	skip fw-good-reaches-kvm "KVM is here: the good cases boot in t-firmware-boot.sh"
else
	expect fw-bios-reaches-kvm 1 'cannot open /dev/kvm' -- --firmware bios --boot cdrom,disk,net \
		--uuid 5f1c2d3e-4b5a-4978-8a9b-0c1d2e3f4a5b --name vm1 --serial-number S-1 --serial none
	expect fw-path-reaches-kvm 1 'cannot open /dev/kvm' -- --firmware "$TMP/ok.rom" --serial none
	expect fw-uefi-reaches-kvm 1 'cannot open /dev/kvm' -- --firmware "uefi,vars=$TMP/new-vars.fd" --serial none
	# The vars file is made when the VM is built, never by the option check.
	if [ -e "$TMP/new-vars.fd" ]; then fail fw-uefi-vars-not-made-early "vars file created"
	else pass fw-uefi-vars-not-made-early; fi
fi
finish
