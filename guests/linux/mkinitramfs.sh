#!/usr/bin/env bash
# Make the Linux test guest's initramfs: an uncompressed newc cpio (a compressed one costs ~20 s of
# emulated inflate on the development hosts) with Debian's busybox-static, /init, the DHCP lease script
# and disktest. Usage: mkinitramfs.sh OUT.cpio DISKTEST
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: mkinitramfs.sh OUT.cpio DISKTEST}
disktest=${2:?usage: mkinitramfs.sh OUT.cpio DISKTEST}
busybox=/bin/busybox
"$busybox" --list >/dev/null 2>&1 && ! readelf -l "$busybox" 2>/dev/null | grep -q INTERP ||
  { echo "mkinitramfs: $busybox is not a static busybox (Debian package busybox-static)" >&2; exit 1; }

stage=$(mktemp -d "${TMPDIR:-/tmp}/vsrv-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,etc}
cp "$busybox" "$stage/bin/busybox"
applets=$("$busybox" --list)
# Only the applets /init, the lease script and a debugging shell use: every file costs the kernel
# time to unpack (all ~400 applet links: 10 s here).
for a in sh mount umount cat echo ls dmesg udhcpc ifconfig route ip wget sha256sum poweroff reboot \
         sleep mkdir grep; do
  grep -qx "$a" <<<"$applets" || { echo "mkinitramfs: busybox lacks $a" >&2; exit 1; }
  ln -s busybox "$stage/bin/$a"
done
install -m 755 "$here/init" "$stage/init"
install -m 755 "$here/lease" "$stage/bin/lease"
install -m 755 "$disktest" "$stage/bin/disktest"
# One `mount -a` in /init instead of three mounts: each fork+exec costs 0.3-0.5 s in the guest here.
printf '%s\n' 'proc /proc proc defaults 0 0' 'sys /sys sysfs defaults 0 0' \
  'dev /dev devtmpfs defaults 0 0' 'tmp /tmp tmpfs defaults 0 0' > "$stage/etc/fstab"
# The kernel opens /dev/console for init before anything could mount devtmpfs.
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || {
  echo "mkinitramfs: cannot create /dev/console (needs root: mknod)" >&2; exit 1; }
mknod -m 666 "$stage/dev/null" c 1 3
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) > "$out.tmp"
mv -f "$out.tmp" "$out"
