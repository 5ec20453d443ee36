#!/usr/bin/env bash
# vsrv run: option and file errors (one line, non-zero status, no crash), then boots of the
# VMM's own tiny guests (tests/vmm-guests/): exit statuses, devices, boot protocols, SMP,
# emulation assists.
source "$(dirname "$0")/lib.sh"
G=${VMMG:-$ROOT/build/vmm-guests}

# expect NAME STATUS PATTERN -- ARGS...: run `vsrv run ARGS` (stdin from /dev/null), check
# the exit status and that the output (stdout and stderr) matches the regex PATTERN.
expect() {
	local name=$1 want=$2 pat=$3; shift 4
	local out rc
	out=$(timeout -k 5 60 "$VSRV" run "$@" </dev/null 2>&1); rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$name" "status $rc, expected $want; output: $(echo "$out" | tail -n 3 | tr '\n' '|')"
	elif ! grep -Eq -- "$pat" <<<"$out"; then
		fail "$name" "output does not match /$pat/: $(echo "$out" | tail -n 3 | tr '\n' '|')"
	elif [ "$want" -ne 0 ] && [ "$want" -lt 32 ] && [ "$(grep -c '^vsrv: ' <<<"$out")" -ne 1 ]; then
		fail "$name" "expected exactly one error line: $(echo "$out" | tr '\n' '|')"
	else
		pass "$name"
	fi
}

# --- option errors: no KVM needed ---
expect usage-no-kernel     1 'vsrv: --kernel FILE is required' --
expect usage-unknown       1 "unknown option '--frobnicate'" -- --kernel x --frobnicate
expect usage-missing-value 1 'needs a value' -- --kernel
expect usage-extra-arg     1 "unexpected argument 'extra'" -- --kernel x extra
expect enlight-bad         1 '--enlightenments Hyper-V: expected kvm, hyperv, xen or none' -- --kernel x --enlightenments Hyper-V
# xen is taken: what stops this run is the host (no /dev/kvm, or a KVM without Xen emulation,
# named) or the missing kernel, never the option
expect enlight-xen         1 "cannot open /dev/kvm|--enlightenments xen: this host's KVM|kernel x: No such file" \
  -- --kernel x --enlightenments xen
expect mem-merge-bad       1 '--mem-merge yes: expected on or off' -- --kernel x --mem-merge yes
expect cpus-zero           1 'cpus 0: must be a whole number from 1 to 64' -- --kernel x --cpus 0
expect cpus-too-many       1 'cpus 65: must be' -- --kernel x --cpus 65
expect cpus-garbage        1 'cpus 2x: must be' -- --kernel x --cpus 2x
expect cpus-negative       1 'cpus -1: must be' -- --kernel x --cpus -1
expect memory-small        1 'memory 1M: out of range' -- --kernel x --memory 1M
expect memory-huge         1 'memory 2T: out of range' -- --kernel x --memory 2T
expect memory-overflow     1 'out of range' -- --kernel x --memory 99999999999999999999
expect memory-garbage      1 'memory 12q: not a size' -- --kernel x --memory 12q
expect memory-unaligned    1 'not a multiple of 4 KiB' -- --kernel x --memory 4097K
expect serial-bad          1 'serial tty: expected stdio, none' -- --kernel x --serial tty
expect serial-empty-path   1 'serial file:: expected' -- --kernel x --serial file:
expect help                0 'usage: vsrv run' -- --help
# the kernel is probed before /dev/kvm is opened: a missing or foreign file is named as such
# on any host (without KVM it said "cannot open /dev/kvm")
expect kernel-missing      1 '^vsrv: kernel /nonexistent/k: No such file or directory$' -- --kernel /nonexistent/k
expect kernel-not-a-kernel 1 '^vsrv: kernel .*README.md: not a bzImage' -- --kernel "$ROOT/README.md"
# ... and so is its initrd (without KVM it said "cannot open /dev/kvm")
expect initrd-missing-nokvm 1 '^vsrv: initrd /nonexistent/i: No such file or directory$' -- \
  --kernel "$G/hello.elf" --initrd /nonexistent/i
expect initrd-dir-nokvm     1 "^vsrv: initrd $TMP: not a regular file\$" -- --kernel "$G/hello.elf" --initrd "$TMP"
# CD/DVD drives: the image is checked before /dev/kvm is opened
truncate -s 512 "$TMP/small.iso"
expect cdrom-missing      1 'cdrom /nonexistent/x.iso: No such file or directory' -- --kernel x --cdrom /nonexistent/x.iso
expect cdrom-missing-eq   1 'cdrom /nonexistent/y.iso: No such file or directory' -- --cdrom=/nonexistent/y.iso --kernel x
expect cdrom-disk-missing 1 'cdrom /nonexistent/z.iso: No such file or directory' -- --kernel x --disk /nonexistent/z.iso,media=cdrom
expect cdrom-too-small    1 'small.iso: 512 bytes: a CD/DVD image has at least one 2048-byte block' -- --kernel x --cdrom "$TMP/small.iso"
expect cdrom-directory    1 'not a regular file or block device' -- --kernel x --cdrom "$TMP"
expect cdrom-bad-bus      1 'a CD/DVD drive is on virtio-scsi' -- --kernel x --disk "$TMP/small.iso,media=cdrom,bus=virtio-blk"
expect cdrom-bad-media    1 'bad option' -- --kernel x --disk "$TMP/small.iso,media=tape"
expect net-model-unknown   1 'model=ne2k: expected .*model=e1000' -- --kernel x --net user,model=ne2k
expect net-e1000-queues    1 'the e1000 is a PCI device with one queue' -- --kernel x \
  --net tap=t0,model=e1000,queues=2
expect net-e1000-transport 1 'the e1000 is a PCI device with one queue' -- --kernel x \
  --net model=e1000,user,transport=mmio
# AHCI drives: the same checks, before /dev/kvm
expect ahci-disk-missing  1 'disk /nonexistent/a.img: No such file or directory' -- --kernel x --disk /nonexistent/a.img,bus=ahci
expect ahci-cdrom-missing 1 'cdrom /nonexistent/b.iso: No such file or directory' -- --kernel x --cdrom /nonexistent/b.iso,bus=ahci
expect ahci-cdrom-small   1 'small.iso: 512 bytes: a CD/DVD image has at least one 2048-byte block' -- --kernel x --disk "$TMP/small.iso,media=cdrom,bus=ahci"
expect ahci-transport     1 "transport= and queues= are virtio's" -- --kernel x --disk "$TMP/small.iso,bus=ahci,transport=pci"

# no /dev/kvm: what to do about it, on the error's one line (it said "is KVM available on this
# host?"); a host with KVM checks it below with /dev/kvm hidden (no-dev-kvm)
if [ ! -e /dev/kvm ]; then
	expect no-kvm-hint 1 'cannot open /dev/kvm: No such file or directory: .*virtualization.*modprobe kvm_intel' \
		-- --kernel "$G/hello.elf" --serial none
fi

if ! have_kvm; then
	skip kvm-boots "$kvm_reason"
	finish; exit
fi

# --- file errors ---
head -c 4096 /dev/urandom >"$TMP/garbage"
: >"$TMP/empty"
head -c $((12 << 20)) /dev/zero >"$TMP/big-initrd"
expect kernel-missing   1 "kernel $TMP/nope: No such file or directory" -- --kernel "$TMP/nope"
expect kernel-directory 1 "kernel $TMP: not a regular file" -- --kernel "$TMP"
expect kernel-garbage   1 'not a bzImage, ELF64 vmlinux or multiboot image' -- --kernel "$TMP/garbage"
expect kernel-empty     1 'not a bzImage, ELF64 vmlinux or multiboot image' -- --kernel "$TMP/empty"
expect kernel-too-big   1 'does not fit in 8 MiB of memory' -- --kernel "$G/linux64.vmlinux" --memory 8M
expect initrd-missing   1 "initrd $TMP/nope: No such file" -- --kernel "$G/linux64.vmlinux" --initrd "$TMP/nope"
expect initrd-too-big   1 'initrd .*: does not fit in memory' -- --kernel "$G/linux64.bzImage" --initrd "$TMP/big-initrd" --memory 8M
expect cmdline-too-long 1 'command line too long for this kernel' -- --kernel "$G/linux64.bzImage" --cmdline "$(head -c 3000 /dev/zero | tr '\0' x)"
expect serial-file-bad  1 'serial: cannot open /nonexistent/dir/log' -- --kernel "$G/hello.elf" --serial file:/nonexistent/dir/log
expect disk-missing     1 'd.img: No such file or directory' -- --kernel "$G/hello.elf" --disk "$TMP/d.img"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	out=$(unshare -m sh -c "mount -t tmpfs none /dev && '$VSRV' run --kernel '$G/hello.elf'" 2>&1); rc=$?
	# ... and what to do about it (it said "is KVM available on this host?")
	if [ $rc -eq 1 ] && grep -q 'cannot open /dev/kvm: No such file or directory: .*virtualization.*modprobe kvm_intel' <<<"$out"; then
		pass no-dev-kvm
	else
		fail no-dev-kvm "status $rc: $out"
	fi
else
	skip no-dev-kvm "needs root and unshare to hide /dev/kvm"
fi

# --- boots ---
expect hello          33 '^hello from the vmm test guest' -- --kernel "$G/hello.elf" --memory 8M
expect hello-4g       33 '^hello from the vmm test guest' -- --kernel "$G/hello.elf" --memory 4G
expect hello-serial-none 33 '^$' -- --kernel "$G/hello.elf" --serial none
expect triple-fault    2 'vsrv: guest triple fault \(shutdown\) on vCPU 0 at RIP 0x' -- --kernel "$G/triple.elf"
expect reset-no-reboot 0 '^boot$' -- --kernel "$G/reset.elf" --no-reboot
expect acpi-poweroff   0 '^powering off$' -- --kernel "$G/poweroff.elf"
# Without --no-reboot a reset restarts the VM: wait for the second boot, then SIGTERM.
"$VSRV" run --kernel "$G/reset.elf" --memory 8M --serial "file:$TMP/reset.log" </dev/null 2>"$TMP/reset.err" &
pid=$!
for _ in $(seq 200); do
	[ "$(grep -c '^boot' "$TMP/reset.log" 2>/dev/null)" -ge 2 ] && break
	sleep 0.05
done
kill -TERM $pid; wait $pid; rc=$?
n=$(grep -c '^boot' "$TMP/reset.log")
if [ "$n" -ge 2 ] && [ $rc -eq 143 ] && grep -q 'stopped by signal 15' "$TMP/reset.err"; then
	pass reset-restarts
else
	fail reset-restarts "booted $n times, status $rc"
fi
today=$(date -u +%Y-%m-%d)
out=$(timeout 20 "$VSRV" run --kernel "$G/rtc.elf" </dev/null 2>&1); rc=$?
if [ $rc -eq 65 ] && { grep -q "rtc: $today" <<<"$out" || [ "$(date -u +%Y-%m-%d)" != "$today" ]; }; then
	pass rtc-host-time
else
	fail rtc-host-time "status $rc, '$out', host $today"
fi

# Linux 64-bit boot protocol: zero page, command line and initrd, both image forms.
printf 'first initrd line\nsecond\n' >"$TMP/initrd"
for f in vmlinux bzImage; do
	expect "linux-$f" 65 "initrd: first initrd line" -- --kernel "$G/linux64.$f" \
		--cmdline "console=ttyS0 quiet" --initrd "$TMP/initrd"
	expect "linux-$f-cmdline" 65 "^cmdline: console=ttyS0 quiet$" -- --kernel "$G/linux64.$f" \
		--cmdline "console=ttyS0 quiet"
done

# SMP: every vCPU comes up through INIT/SIPI.
for n in 1 2 4 64; do
	expect "smp-$n" 65 "smp: $(printf %02X "$n") cpus up" -- --kernel "$G/smp.elf" --cpus "$n" --cmdline "$n"
done

# Emulation assists: int3, fwait, clac/stac, fences, ud2 complete; anything else stops.
expect assists 65 'assist: all done' -- --kernel "$G/assist.elf"
out=$(timeout 20 "$VSRV" run --kernel "$G/assist_bad.elf" </dev/null 2>&1); rc=$?
if [ $rc -eq 67 ]; then
	skip assist-unknown "this host's KVM emulates popcnt itself"
elif [ $rc -eq 2 ] && grep -Eq '^vsrv: KVM cannot emulate the instruction at RIP 0x[0-9a-f]+ on vCPU 0 \(bytes: f3 0f b8 c1' <<<"$out"; then
	pass assist-unknown
else
	fail assist-unknown "status $rc: $out"
fi

# Serial: receive interrupts, transmit-empty interrupts, flow control over a pipe.
head -c 3000 /dev/urandom | base64 -w0 | tr -d q >"$TMP/input"
out=$( { cat "$TMP/input"; printf q; } | timeout 20 "$VSRV" run --kernel "$G/echo.elf" 2>&1); rc=$?
if [ $rc -eq 65 ] && grep -qF "$(cat "$TMP/input")q" <<<"$out" && grep -q '^bye' <<<"$out"; then
	pass serial-echo
else
	fail serial-echo "status $rc, $(wc -c <<<"$out") bytes of output"
fi
expect serial-file 33 '^$' -- --kernel "$G/hello.elf" --serial "file:$TMP/console.log"
if grep -q '^hello from the vmm test guest' "$TMP/console.log"; then pass serial-file-content
else fail serial-file-content "console.log: $(cat "$TMP/console.log")"; fi
if command -v python3 >/dev/null; then
	# A Unix-socket console: a client connects, types, and reads the echo.
	"$VSRV" run --kernel "$G/echo.elf" --serial "unix:$TMP/con.sock" </dev/null >"$TMP/unix.out" 2>&1 &
	pid=$!
	out=$(timeout 20 python3 - "$TMP/con.sock" <<'EOF'
import socket, sys, time
for _ in range(200):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.05)
s.sendall(b"unix-hello q")
buf = b""
while b"bye" not in buf:
    d = s.recv(4096)
    if not d: break
    buf += d
print(buf.decode(errors="replace"))
EOF
)
	wait $pid; rc=$?
	if [ $rc -eq 65 ] && grep -q 'unix-hello q' <<<"$out" && [ ! -e "$TMP/con.sock" ]; then
		pass serial-unix
	else
		fail serial-unix "status $rc, client saw '$out', $(cat "$TMP/unix.out")"
	fi
else
	skip serial-unix "python3 is not installed"
fi

finish
