#!/usr/bin/env bash
# Linux drives vsrv's PIIX3 IDE controller: the small test kernel (guests/linux,
# CONFIG_ATA_PIIX) boots with an ATA disk (primary master) and an ATAPI CD/DVD drive
# (primary slave) on the IDE controller (--disk ...,bus=ide, --cdrom ...,bus=ide; legacy ports,
# IRQ 14, bus-master DMA), finds both (libata's IDENTIFY, the ATAPI INQUIRY through the shared
# MMC code), pattern-tests the disk (guests/linux/disktest) and powers off. The host checks
# that the image holds what the guest wrote and the guest's checksum. Skips only without
# /dev/kvm; a kernel make test did not build is a failure.
source "$(dirname "$0")/lib.sh"
LG=$GUESTS/linux
SIZE=$((8 * 1024 * 1024))

if ! have_kvm; then skip linux-ide "$kvm_reason"; exit 0; fi
for f in bzImage initramfs.cpio disktest; do
  if [ ! -s "$LG/$f" ]; then fail linux-ide "$LG/$f not built (make linux-guest; make test builds it)"; exit 1; fi
done

cd "$TMP" || exit 1
truncate -s $SIZE p.raw
mkdir -p iso && echo vsrv > iso/hello.txt
if ! xorriso -as mkisofs -quiet -V VSRV_IDE -o cd.iso iso 2>/dev/null; then
  fail linux-ide "cannot make the ISO (xorriso: make test-deps)"; exit 1
fi
cmdline="$(cat "$ROOT/guests/linux/cmdline") vsrv_disks=sda:P"
timeout -k 5 170 "$VSRV" run --kernel "$LG/bzImage" --initrd "$LG/initramfs.cpio" --memory 128M \
  --cmdline "$cmdline" --serial stdio --no-reboot --disk p.raw,format=raw,bus=ide \
  --cdrom cd.iso,bus=ide >console.log 2>&1 </dev/null
rc=$?
echo "linux-ide: vsrv run exited with $rc; console (IDE, ATA and disk lines):"
grep -a -E 'ata_piix|ata[0-9]|sda|sr0|scsi|VSRV-RESULT' console.log | sed 's/^/  | /' | tail -n 40

grep -aq '\[8086:7010\]' console.log && pass linux-ide-found ||
  fail linux-ide-found "no PIIX3 IDE (8086:7010) on the PCI bus"
grep -aq 'ata1: PATA max .*cmd 0x1f0 ctl 0x3f6 bmdma 0x[0-9a-f]* irq 14' console.log &&
  pass linux-ide-piix || fail linux-ide-piix "ata_piix did not take the primary channel"
grep -aq 'ata1.00: configured for MWDMA2' console.log && pass linux-ide-dma ||
  fail linux-ide-dma "the disk runs without DMA"
grep -aq 'ata1.01: ATAPI: VSRV DVD-ROM' console.log && grep -aq 'CD-ROM' console.log &&
  pass linux-ide-atapi || fail linux-ide-atapi "the ATAPI drive was not found"
result=$(grep -a '^VSRV-RESULT ' console.log | tail -n1 | tr -d '\r')
if [ $rc -eq 0 ] && [ "${result#VSRV-RESULT ok}" != "$result" ]; then
  pass linux-ide-boot
else
  fail linux-ide-boot "status $rc, result '${result:-none}'"
fi
if "$LG/disktest" gen $SIZE P | cmp -s - p.raw; then
  sum=$("$LG/disktest" sum p.raw)
  if grep -aq "^disk sda ok size=$SIZE fnv=$sum" console.log; then pass linux-ide-disk
  else fail linux-ide-disk "the guest's read-back checksum differs from the host's ($sum)"; fi
else
  fail linux-ide-disk "p.raw does not hold the pattern the guest wrote"
fi
finish
