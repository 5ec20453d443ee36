#!/usr/bin/env bash
# `make test-distro`: Debian's stock kernel (linux-image-amd64) under `vsrv run` with the documented
# command line (guests/linux/cmdline) and the test initramfs: how far it gets, how long it takes.
# Not part of `make test`: on hosts whose KVM emulates guest kernel mode a distribution kernel takes
# many minutes, and its init dies at the first system call there (the SYSCALL quirk,
# guests/linux/syscall-quirk.patch; the stock kernel is unpatched).
# Env: DISTRO_TIMEOUT (seconds, default 900), DISTRO_MEMORY (default 256M), DISTRO_IMAGE: vmlinux (default:
# the ELF extracted from the package's vmlinuz on the host with the kernel's scripts/extract-vmlinux, because
# the bzImage's own XZ decompressor runs for more than 10 minutes in this host's emulated kernel mode) or
# vmlinuz (the package's bzImage as it is).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VSRV=$ROOT/build/vsrv
LG=$ROOT/build/guests/linux
cache=${VSRV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vsrv}/distro
to=${DISTRO_TIMEOUT:-900}
mem=${DISTRO_MEMORY:-256M}
image=${DISTRO_IMAGE:-vmlinux}

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
[ -n "$pkg" ] || { echo "test-distro: cannot resolve linux-image-amd64 (apt-get update?)"; exit 1; }
mkdir -p "$cache"
vmlinuz=$(ls "$cache/$pkg"/boot/vmlinuz-* 2>/dev/null | head -n1)
if [ -z "$vmlinuz" ]; then
  echo "test-distro: downloading $pkg"
  (cd "$cache" && rm -f "$pkg"_*.deb && apt-get download -q "$pkg") || { echo "test-distro: apt-get download $pkg failed"; exit 1; }
  rm -rf "$cache/$pkg"; dpkg-deb -x "$cache/$pkg"_*.deb "$cache/$pkg" || exit 1
  rm -f "$cache/$pkg"_*.deb
  vmlinuz=$(ls "$cache/$pkg"/boot/vmlinuz-* | head -n1)
fi
kernel=$vmlinuz
if [ "$image" = vmlinux ]; then
  kernel=$cache/$pkg/vmlinux
  if [ ! -s "$kernel" ]; then
    ex=$cache/extract-vmlinux
    [ -s "$ex" ] || tar -xJOf /usr/src/linux-source-6.1.tar.xz linux-source-6.1/scripts/extract-vmlinux >"$ex" ||
      { echo "test-distro: cannot get scripts/extract-vmlinux from linux-source-6.1"; exit 1; }
    bash "$ex" "$vmlinuz" >"$kernel.tmp" && mv "$kernel.tmp" "$kernel" ||
      { echo "test-distro: extract-vmlinux failed on $vmlinuz"; exit 1; }
  fi
fi
initrd=$LG/initramfs.cpio
[ -s "$initrd" ] || { echo "test-distro: $initrd missing (make linux-guest)"; exit 1; }
"$VSRV" run --help 2>&1 | grep -q -- --initrd || { echo "test-distro: vsrv run lacks --initrd"; exit 1; }

log=$ROOT/build/test-logs/distro-console.log
mkdir -p "$(dirname "$log")"
echo "test-distro: booting $kernel ($mem, timeout ${to}s); console with time stamps: $log"
res=$(python3 "$ROOT/guests/linux/timeboot.py" --timeout "$to" --log "$log" -- \
  "$VSRV" run --kernel "$kernel" --initrd "$initrd" --memory "$mem" --serial stdio --no-reboot \
  --cmdline "$(cat "$ROOT/guests/linux/cmdline")")
echo "test-distro: $res"
echo "test-distro: milestones (seconds from start):"
grep -aE 'Linux version|Memory:|Calibrating|clocksource: Switched|Unpacking initramfs|Freeing unused kernel|Run /init|vsrv-init|Kernel panic|VSRV-RESULT|segfault|KVM|internal error' "$log" |
  head -n 30 | sed 's/^/  /'
echo "test-distro: last console lines:"; tail -n 8 "$log" | sed 's/^/  /'
