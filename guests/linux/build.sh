#!/usr/bin/env bash
# Build (or reuse) vsrv's small Linux test kernel and copy it into OUTDIR.
#
# Usage: guests/linux/build.sh OUTDIR
#
# Source: Debian's linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz). Config: `make tinyconfig`
# plus guests/linux/config.fragment (scripts/kconfig/merge_config.sh, then olddefconfig). One patch:
# guests/linux/syscall-quirk.patch (see its header). Built with `make -j$(nproc) bzImage`.
#
# Cache: ~/.cache/vsrv/linux-<key>/{bzImage,vmlinux,config}, where <key> hashes the fragment, the
# patch, the source package's version and this script's BUILD_REV, so a fresh clone on the same
# machine reuses the kernel (VSRV_CACHE overrides ~/.cache/vsrv). The source tree is unpacked once
# into the cache (linux-build/) and rebuilt incrementally when the key changes; a lock serialises
# builds from several checkouts.
set -euo pipefail

BUILD_REV=1
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
cache=${VSRV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vsrv}
tarball=/usr/src/linux-source-6.1.tar.xz
frag=$here/config.fragment
patchfile=$here/syscall-quirk.patch
jobs=${LINUX_JOBS:-$(nproc)}

[ -r "$tarball" ] || { echo "linux-guest: $tarball missing (Debian package linux-source-6.1)" >&2; exit 1; }
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || stat -c '%s-%Y' "$tarball")
key=$( { echo "rev $BUILD_REV"; echo "linux-source-6.1 $srcver"; cat "$frag" "$patchfile"; } |
       sha256sum | cut -c1-16)
dest=$cache/linux-$key

install_out() {
  mkdir -p "$out"
  for f in bzImage vmlinux config; do
    # Hard link when on the same file system (cheap), copy otherwise; never a half-written file.
    [ "$out/$f" -ef "$dest/$f" ] && continue
    rm -f "$out/$f.tmp"
    ln -f "$dest/$f" "$out/$f.tmp" 2>/dev/null || cp "$dest/$f" "$out/$f.tmp"
    mv -f "$out/$f.tmp" "$out/$f"
  done
  echo "$key" > "$out/kernel.key"
}

if [ -f "$dest/vmlinux" ] && [ -f "$dest/bzImage" ]; then
  install_out
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/linux-build.lock"
echo "linux-guest: kernel $key not cached; taking the build lock $cache/linux-build.lock" >&2
flock 9
if [ -f "$dest/vmlinux" ]; then install_out; exit 0; fi   # built by someone else meanwhile

work=$cache/linux-build
tree=$work/linux-source-6.1
if [ ! -f "$work/.unpacked-$srcver" ]; then
  echo "linux-guest: unpacking $tarball into $work" >&2
  rm -rf "$work"; mkdir -p "$work"
  tar -C "$work" -xJf "$tarball"
  touch "$work/.unpacked-$srcver"
fi

# Exactly one patch applied: revert the one applied last time if it differs.
if [ -f "$work/applied.patch" ] && ! cmp -s "$work/applied.patch" "$patchfile"; then
  patch -d "$tree" -p1 -R -s < "$work/applied.patch"
  rm -f "$work/applied.patch"
fi
if [ ! -f "$work/applied.patch" ]; then
  patch -d "$tree" -p1 -s --forward < "$patchfile"
  cp "$patchfile" "$work/applied.patch"
fi

echo "linux-guest: configuring (tinyconfig + $(basename "$frag"))" >&2
make -C "$tree" -s tinyconfig >/dev/null
(cd "$tree" && KCONFIG_CONFIG=.config scripts/kconfig/merge_config.sh -m -O . .config "$frag" >/dev/null)
make -C "$tree" -s olddefconfig >/dev/null

# Report options of the fragment that Kconfig did not take (a dependency missing, a typo).
bad=0
while IFS= read -r line; do
  case "$line" in CONFIG_*=*) ;; *) continue ;; esac
  opt=${line%%=*} val=${line#*=}
  if [ "$val" = n ]; then
    grep -q "^$opt=" "$tree/.config" && { echo "linux-guest: $opt wanted n, got $(grep "^$opt=" "$tree/.config")" >&2; bad=1; }
  else
    grep -qx "$opt=$val" "$tree/.config" || { echo "linux-guest: $opt wanted $val, got $(grep "^$opt=\|^# $opt " "$tree/.config" || echo unset)" >&2; bad=1; }
  fi
done < "$frag"
[ "$bad" = 0 ] || echo "linux-guest: (options above not applied; see config.fragment)" >&2

echo "linux-guest: building bzImage with -j$jobs (a few minutes, once per machine)" >&2
t0=$(date +%s)
nice make -C "$tree" -j"$jobs" bzImage KBUILD_BUILD_USER=vsrv KBUILD_BUILD_HOST=vsrv \
     KBUILD_BUILD_TIMESTAMP="vsrv-$key" > "$work/build.log" 2>&1 || {
  tail -n 30 "$work/build.log" >&2; echo "linux-guest: kernel build failed (log: $work/build.log)" >&2; exit 1; }
echo "linux-guest: built in $(( $(date +%s) - t0 ))s" >&2

tmp=$(mktemp -d "$cache/.linux-$key.XXXXXX")
cp "$tree/arch/x86/boot/bzImage" "$tmp/bzImage"
cp "$tree/vmlinux" "$tmp/vmlinux"
cp "$tree/.config" "$tmp/config"
chmod 755 "$tmp"
rm -rf "$dest"; mv "$tmp" "$dest"
install_out
