#!/bin/sh
# Seeds of fuzz/qcow_zero.c: small qcow2 images qemu-img and qemu-io make (512-byte clusters):
# with zero clusters kept and without a host cluster, data only, compressed clusters,
# empty, version 2. Run from the repository's root: sh fuzz/qcow_zero_seeds.sh
set -e
d=fuzz/corpus/qcow-zero
t=$(mktemp -d)
mkdir -p "$d"
q() { qemu-img create -q -f qcow2 -o cluster_size=512,"$2" "$t/$1" 64K; }
q zero compat=1.1
qemu-io -f qcow2 -c "write -P 0x61 0 16k" -c "write -z 4k 2k" -c "write -z 40k 1k" "$t/zero" >/dev/null
q data compat=1.1
qemu-io -f qcow2 -c "write -P 0x61 0 8k" "$t/data" >/dev/null
q empty compat=1.1
q v2 compat=0.10
qemu-io -f qcow2 -c "write -P 0x62 0 8k" -c "write -z 2k 1k" "$t/v2" >/dev/null
head -c 16384 /dev/urandom > "$t/raw"
qemu-img convert -q -c -f raw -O qcow2 -o cluster_size=512 "$t/raw" "$t/compressed"
for f in zero data empty v2 compressed; do cp "$t/$f" "$d/$f"; done
rm -rf "$t"
