#!/usr/bin/env bash
# mkbzimage.sh CODE OUT: wrap a flat 64-bit kernel (entry at +0x200) in a minimal bzImage:
# one setup sector after the boot sector, carrying a 2.15 setup header with XLF_KERNEL_64.
set -euo pipefail
code=$1 out=$2
size=$(stat -c %s "$code")
tmp=$out.tmp
head -c 1024 /dev/zero >"$tmp"
# put OFFSET BYTE...: write bytes (hex) at OFFSET
put() { local off=$1; shift; printf "$(printf '\\x%s' "$@")" | dd of="$tmp" bs=1 seek=$((off)) conv=notrunc status=none; }
le32() { printf '%02x %02x %02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
put 0x1f1 01                      # setup_sects
put 0x1fe 55 aa                   # boot_flag
put 0x200 eb 66                   # jump over the header; header ends at 0x268
put 0x202 48 64 72 53             # "HdrS"
put 0x206 0f 02                   # version 2.15
put 0x211 01                      # loadflags: LOADED_HIGH
put 0x214 $(le32 0x100000)        # code32_start
put 0x22c $(le32 0x7fffffff)      # initrd_addr_max
put 0x230 $(le32 0x200000)        # kernel_alignment
put 0x236 01 00                   # xloadflags: XLF_KERNEL_64
put 0x238 $(le32 2047)            # cmdline_size
put 0x260 $(le32 $((size + 0x10000)))  # init_size
cat "$tmp" "$code" >"$out"
rm -f "$tmp"
