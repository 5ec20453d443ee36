#!/usr/bin/env bash
# The Linux test guest itself (guests/linux: kernel config, /init, disktest), checked under QEMU with
# TCG (software CPU: the quirks of this host's KVM do not apply, so this proves the guest, not a VMM),
# on the `pc` machine with virtio-pci blk, scsi and net devices and ACPI power-off. The same /init and
# host-side checks as t-linux.sh, so when t-linux.sh fails and this passes, the VMM is at fault.
source "$(dirname "$0")/lib.sh"
LG=$GUESTS/linux
MB=$((1024 * 1024))
SIZE=$((4 * MB))   # small: kernel-mode I/O is emulated here (see guests/linux/README.md)

command -v qemu-system-x86_64 >/dev/null || { skip linux-qemu "qemu-system-x86_64 not installed"; exit 0; }
command -v qemu-img >/dev/null || { skip linux-qemu "qemu-img not installed"; exit 0; }
for f in bzImage initramfs.cpio disktest; do
  if [ ! -s "$LG/$f" ]; then fail linux-qemu "$LG/$f not built (make linux-guest; make test builds it)"; exit 1; fi
done

cd "$TMP" || exit 1
qemu-img create -q -f vpc -o subformat=dynamic,force_size=on a.vhd $SIZE &&
  truncate -s $SIZE s.raw &&
  "$LG/disktest" gen $SIZE BASE >base.raw &&
  qemu-img convert -O vpc -o force_size=on base.raw base.vhd &&
  qemu-img create -q -f qcow2 -b base.vhd -F vpc d.qcow2 || { fail linux-qemu "could not make the images"; finish; exit; }
base_sum=$(sha256sum <base.vhd)

mkdir www && head -c 300000 /dev/urandom >www/blob
blob_sum=$(sha256sum <www/blob); blob_sum=${blob_sum%% *}
http_serve www
port=$http_port
[ -n "$port" ] || { fail linux-qemu "the test's HTTP server did not start"; finish; exit; }

cmdline="$(cat "$ROOT/guests/linux/cmdline") vsrv_disks=vda:A,vdb:D:BASE,sda:S vsrv_url=http://10.0.2.2:$port/blob vsrv_sha=$blob_sum"
timeout -k 5 120 qemu-system-x86_64 -M pc -accel tcg -m 128 -nodefaults -nographic -serial stdio -no-reboot \
  -kernel "$LG/bzImage" -initrd "$LG/initramfs.cpio" -append "$cmdline" \
  -drive id=a,file=a.vhd,format=vpc,if=none -device virtio-blk-pci,drive=a \
  -drive id=d,file=d.qcow2,format=qcow2,if=none -device virtio-blk-pci,drive=d \
  -device virtio-scsi-pci,id=scsi -drive id=s,file=s.raw,format=raw,if=none -device scsi-hd,drive=s,bus=scsi.0 \
  -netdev user,id=n -device virtio-net-pci,netdev=n >console.log 2>&1 </dev/null
rc=$?
echo "linux-qemu: QEMU exited with $rc; console:"
sed 's/^/  | /' console.log | tail -n 25
result=$(grep -a '^VSRV-RESULT ' console.log | tail -n1 | tr -d '\r')
[ "$rc" -eq 0 ] && pass linux-qemu-poweroff || fail linux-qemu-poweroff "QEMU exited with $rc"
case "$result" in
  "VSRV-RESULT ok"*http=ok*) pass linux-qemu-result ;;
  "") fail linux-qemu-result "no VSRV-RESULT line" ;;
  *) fail linux-qemu-result "$result" ;;
esac

check_image() { # NAME FILE SEED [BASESEED]
  local name=$1 raw=$1.out.raw sum
  qemu-img convert -O raw "$2" "$raw" || { fail "linux-qemu-disk-$name" "qemu-img convert failed"; return; }
  "$LG/disktest" gen $SIZE "${@:3}" | cmp -s - "$raw" ||
    { fail "linux-qemu-disk-$name" "$2 does not hold what the guest wrote"; return; }
  sum=$("$LG/disktest" sum "$raw")
  grep -q "^disk $name ok size=$SIZE fnv=$sum " console.log ||
    { fail "linux-qemu-disk-$name" "guest checksum differs from the host's ($sum)"; return; }
  pass "linux-qemu-disk-$name"
}
check_image vda a.vhd A
check_image sda s.raw S
check_image vdb d.qcow2 D BASE
[ "$(sha256sum <base.vhd)" = "$base_sum" ] && pass linux-qemu-base-unchanged ||
  fail linux-qemu-base-unchanged "the base image changed"
finish
