#!/usr/bin/env bash
# Make the Linux test guest's initramfs: an uncompressed newc cpio (a compressed one costs ~20 s of
# emulated inflate on the development hosts) with Debian's busybox-static, /init, the DHCP lease script
# and disktest. Usage: mkinitramfs.sh OUT.cpio DISKTEST [--agent]
# --agent adds Debian's qemu-ga (package qemu-guest-agent) with the shared libraries ldd names, a
# /sbin/shutdown for its guest-shutdown (busybox poweroff/reboot), an /sbin/hwclock for its guest-set-time
# (busybox's when there is an RTC) and
# an /etc/os-release: /init starts it when the command line says vsrv_agent=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: mkinitramfs.sh OUT.cpio DISKTEST [--agent]}
disktest=${2:?usage: mkinitramfs.sh OUT.cpio DISKTEST [--agent]}
agent=${3:-}
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
if [ "$agent" = --agent ]; then
  qga=$(command -v qemu-ga || echo /usr/bin/qemu-ga)
  [ -x "$qga" ] || { echo "mkinitramfs: qemu-ga not found (Debian package qemu-guest-agent)" >&2; exit 1; }
  mkdir -p "$stage/sbin"
  install -m 755 "$qga" "$stage/bin/qemu-ga"
  # The loader and every library at the path ldd gives (the loader's is what the binary names).
  for lib in $(ldd "$qga" | grep -o '/[^ ]*'); do
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"
  done
  # guest-set-time ends with `hwclock -w`; this kernel has no RTC driver: nothing to write then.
  grep -qx hwclock <<<"$applets" || { echo "mkinitramfs: busybox lacks hwclock" >&2; exit 1; }
  printf '%s\n' '#!/bin/sh' '[ -e /dev/rtc0 ] && exec /bin/busybox hwclock "$@"' 'exit 0' > "$stage/sbin/hwclock"
  chmod 755 "$stage/sbin/hwclock"
  printf '%s\n' '#!/bin/sh' '# qemu-ga guest-shutdown: shutdown -P|-H|-r +0 MESSAGE' \
    'case " $* " in *" -r "*) exec reboot -f ;; *) exec poweroff -f ;; esac' > "$stage/sbin/shutdown"
  chmod 755 "$stage/sbin/shutdown"
  printf '%s\n' 'NAME="vsrv test guest"' 'ID=vsrv' 'VERSION_ID=1' \
    'PRETTY_NAME="vsrv test guest 1"' > "$stage/etc/os-release"
fi
# One `mount -a` in /init instead of three mounts: each fork+exec costs 0.3-0.5 s in the guest here.
printf '%s\n' 'proc /proc proc defaults 0 0' 'sys /sys sysfs defaults 0 0' \
  'dev /dev devtmpfs defaults 0 0' 'tmp /tmp tmpfs defaults 0 0' > "$stage/etc/fstab"
# The kernel opens /dev/console for init before anything could mount devtmpfs.
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || {
  echo "mkinitramfs: cannot create /dev/console (needs root: mknod)" >&2; exit 1; }
mknod -m 666 "$stage/dev/null" c 1 3
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) > "$out.tmp"
mv -f "$out.tmp" "$out"
