#!/usr/bin/env bash
# Linux finds vsrv's PCI devices: the small test kernel (guests/linux, built by the linux
# branch's `make linux-guest`) boots with one virtio-blk disk on virtio-pci (the ACPI DSDT's
# root bridge \_SB.PCI0, MCFG/ECAM, MSI-X), pattern-tests it (guests/linux/disktest) and powers
# off. The host checks that the image holds what the guest wrote and the guest's checksum.
# Skips only without /dev/kvm; a kernel make test did not build is a failure.
source "$(dirname "$0")/lib.sh"
SIZE=$((8 * 1024 * 1024))

need_linux_guest linux-pci bzImage initramfs.cpio disktest

cd "$TMP" || exit 1
truncate -s $SIZE p.raw
cmdline="$(cat "$ROOT/guests/linux/cmdline") vsrv_disks=vda:P"
timeout -k 5 170 "$VSRV" run --kernel "$LG/bzImage" --initrd "$LG/initramfs.cpio" --memory 128M \
  --cmdline "$cmdline" --serial stdio --no-reboot --disk p.raw,format=raw,transport=pci \
  >console.log 2>&1 </dev/null
rc=$?
echo "linux-pci: vsrv run exited with $rc; console (PCI and disk lines):"
grep -a -E 'PCI|pci|virtio|vda|VSRV-RESULT' console.log | sed 's/^/  | /' | tail -n 30

grep -aq 'ACPI: PCI Root Bridge \[PCI0\]' console.log && pass linux-pci-root-bridge ||
  fail linux-pci-root-bridge "Linux did not find the ACPI PCI root bridge"
grep -aq 'MMCONFIG .* reserved in E820' console.log && pass linux-pci-mmconfig ||
  fail linux-pci-mmconfig "Linux does not use the ECAM window (MCFG)"
grep -aq 'pci 0000:00:01.0: \[1af4:1042\]' console.log && pass linux-pci-virtio-blk-found ||
  fail linux-pci-virtio-blk-found "no virtio-blk (1af4:1042) at 00:01.0"
result=$(grep -a '^VSRV-RESULT ' console.log | tail -n1 | tr -d '\r')
if [ $rc -eq 0 ] && [ "${result#VSRV-RESULT ok}" != "$result" ]; then
  pass linux-pci-boot
else
  fail linux-pci-boot "status $rc, result '${result:-none}'"
fi
case "$result" in
  *" packed=1/1"*) pass linux-pci-packed-ring ;;
  *) fail linux-pci-packed-ring "virtio-blk on virtio-pci does not run on a packed ring: '${result:-none}'" ;;
esac
if "$LG/disktest" gen $SIZE P | cmp -s - p.raw; then
  sum=$("$LG/disktest" sum p.raw)
  if grep -aq "^disk vda ok size=$SIZE fnv=$sum" console.log; then pass linux-pci-disk
  else fail linux-pci-disk "the guest's read-back checksum differs from the host's ($sum)"; fi
else
  fail linux-pci-disk "p.raw does not hold the pattern the guest wrote"
fi
finish
