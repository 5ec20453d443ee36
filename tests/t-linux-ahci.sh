#!/usr/bin/env bash
# Linux drives vsrv's AHCI controller: the small test kernel (guests/linux, CONFIG_SATA_AHCI)
# boots with a SATA disk and an ATAPI CD/DVD drive on the ICH9 AHCI controller at 00:1f.2
# (--disk ...,bus=ahci, --cdrom ...,bus=ahci; MSI), finds both (libata's IDENTIFY, the ATAPI
# INQUIRY through the shared MMC code), pattern-tests the disk (guests/linux/disktest, with
# NCQ) and powers off. The host checks that the image holds what the guest wrote and the
# guest's checksum. Skips only without /dev/kvm; a kernel make test did not build is a failure.
source "$(dirname "$0")/lib.sh"
SIZE=$((8 * 1024 * 1024))

need_linux_guest linux-ahci bzImage initramfs.cpio disktest

cd "$TMP" || exit 1
truncate -s $SIZE p.raw
mkdir -p iso && echo vsrv > iso/hello.txt
if ! xorriso -as mkisofs -quiet -V VSRV_AHCI -o cd.iso iso 2>/dev/null; then
  fail linux-ahci "cannot make the ISO (xorriso: make test-deps)"; exit 1
fi
cmdline="$(cat "$ROOT/guests/linux/cmdline") vsrv_disks=sda:P"
timeout -k 5 170 "$VSRV" run --kernel "$LG/bzImage" --initrd "$LG/initramfs.cpio" --memory 128M \
  --cmdline "$cmdline" --serial stdio --no-reboot --disk p.raw,format=raw,bus=ahci \
  --cdrom cd.iso,bus=ahci >console.log 2>&1 </dev/null
rc=$?
echo "linux-ahci: vsrv run exited with $rc; console (AHCI, ATA and disk lines):"
grep -a -E 'ahci|ata[0-9]|sda|sr0|scsi|VSRV-RESULT' console.log | sed 's/^/  | /' | tail -n 40

grep -aq 'pci 0000:00:1f.2: \[8086:2922\]' console.log && pass linux-ahci-found ||
  fail linux-ahci-found "no ICH9 AHCI (8086:2922) at 00:1f.2"
grep -aq 'ahci 0000:00:1f.2: AHCI 0001.0300 32 slots 6 ports' console.log && pass linux-ahci-hba ||
  fail linux-ahci-hba "the ahci driver did not take the controller"
grep -aq 'ata1.00: .*NCQ (depth ' console.log && pass linux-ahci-ncq ||
  fail linux-ahci-ncq "the disk runs without NCQ"
grep -aq 'ata2.00: ATAPI: VSRV DVD-ROM' console.log && grep -aq 'CD-ROM' console.log &&
  pass linux-ahci-atapi || fail linux-ahci-atapi "the ATAPI drive was not found"
result=$(grep -a '^VSRV-RESULT ' console.log | tail -n1 | tr -d '\r')
if [ $rc -eq 0 ] && [ "${result#VSRV-RESULT ok}" != "$result" ]; then
  pass linux-ahci-boot
else
  fail linux-ahci-boot "status $rc, result '${result:-none}'"
fi
if "$LG/disktest" gen $SIZE P | cmp -s - p.raw; then
  sum=$("$LG/disktest" sum p.raw)
  if grep -aq "^disk sda ok size=$SIZE fnv=$sum" console.log; then pass linux-ahci-disk
  else fail linux-ahci-disk "the guest's read-back checksum differs from the host's ($sum)"; fi
else
  fail linux-ahci-disk "p.raw does not hold the pattern the guest wrote"
fi
finish
