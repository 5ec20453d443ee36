#!/usr/bin/env bash
# Install the Debian packages vsrv needs, only those that are missing.
# Usage: mk/deps.sh GROUP...   (groups: build, test)
set -euo pipefail

build_pkgs=(gcc make libc6-dev pkg-config liburing-dev libslirp-dev libsqlite3-dev
            libmicrohttpd-dev libjansson-dev libargon2-dev libseccomp-dev libssl-dev
            libcurl4-openssl-dev zlib1g-dev libqcow-dev libvmdk-dev libvhdi-dev nodejs
            libvncserver-dev libgcrypt20-dev libspng-dev libwslay-dev  # VNC server (and its crypto), PNG screenshots, WebSocket frames
            libdeflate-dev  # CRC32 of the save file (src/vmm/savestate_file.c)
            xorriso)  # build/guests/fwboot.iso (mk/guests.mk)
# npm comes with nodejs from nodesource, as Debian's own package npm otherwise (the web
# console's vendored libraries are installed with it at build time: mk/npm.sh)
command -v npm >/dev/null 2>&1 || build_pkgs+=(npm)
test_pkgs=(qemu-system-x86 qemu-utils qemu-guest-agent libvhdi-utils fio seabios busybox-static cpio
           clang libclang-rt-14-dev curl python3 python3-yaml python3-jsonschema openssl wrk
           linux-source-6.1 flex bison bc libelf-dev xz-utils lz4 musl-tools chromium
           systemd valgrind groff-base man-db dmidecode acpica-tools
           xorriso ovmf ipxe-qemu etcd-server etcd-client  # ipxe-qemu: the NICs' network boot ROMs
           edid-decode)  # the bochs-display's EDID checked for conformity (test_bochs_display)

want=()
for g in "$@"; do
  case "$g" in
    build) want+=("${build_pkgs[@]}") ;;
    test)  want+=("${test_pkgs[@]}") ;;
    *) echo "deps.sh: unknown group '$g'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$s" == "install ok installed" ]] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "deps: not root; install these Debian packages first: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
