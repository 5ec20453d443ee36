#!/usr/bin/env bash
# End to end: `vsrv run` with virtio devices and a polling test guest that drives
# virtio-blk over virtio-mmio and virtio-pci (build/virtio-guests/blk.elf).
. "$(dirname "$0")/lib.sh"
G=$ROOT/build/virtio-guests/blk.elf

run() { timeout -k 5 60 "$VSRV" run --kernel "$G" --memory 64M --serial "file:$TMP/serial" "$@" \
          >"$TMP/out" 2>&1; }
pattern_ok() { [ "$(od -A n -t x4 -j 512 -N 8 "$1" | tr -s ' ')" = " 5a000000 5a000004" ]; }

if ! have_kvm; then
  for t in blk_mmio blk_pci blk_nocache blk_readonly blk_vhd; do skip $t "$kvm_reason"; done
else
  for t in mmio pci; do
    img=$TMP/$t.img; truncate -s 4M "$img"; : >"$TMP/serial"
    run --disk "$img,format=raw,transport=$t" --device rng; rc=$?
    if [ $rc -eq 33 ] && grep -q "virtio-blk on $t" "$TMP/serial" && grep -q "virtio-blk ok" "$TMP/serial" \
       && pattern_ok "$img"; then pass blk_$t
    else fail blk_$t "rc=$rc serial: $(tr '\n' ' ' <"$TMP/serial") $(head -c 300 "$TMP/out")"; fi
  done
  img=$TMP/nc.img; truncate -s 4M "$img"; : >"$TMP/serial"
  run --disk "$img,format=raw,cache=none,queues=2"; rc=$?
  if [ $rc -eq 33 ] && pattern_ok "$img"; then pass blk_nocache; else fail blk_nocache "rc=$rc"; fi
  img=$TMP/ro.img; truncate -s 4M "$img"; : >"$TMP/serial"
  run --disk "$img,format=raw,readonly=on"; rc=$?
  # the guest's write fails with an I/O error: it exits with code 3, status 7
  if [ $rc -eq 7 ] && cmp -s -n 4194304 "$img" /dev/zero; then pass blk_readonly
  else fail blk_readonly "rc=$rc"; fi
  # a dynamic VHD through the block layer (synchronous path): content and a clean check
  img=$TMP/d.vhd; "$VSRV" img create -f vhd "$img" 8M >/dev/null; : >"$TMP/serial"
  run --disk "$img"; rc=$?
  if [ $rc -eq 33 ] && "$VSRV" img check "$img" >/dev/null && "$VSRV" img convert -O raw "$img" "$TMP/d.raw" \
     && pattern_ok "$TMP/d.raw"; then pass blk_vhd
  else fail blk_vhd "rc=$rc $(head -c 300 "$TMP/out")"; fi
fi

# option errors: one clear line, status 1, no guest run
if "$VSRV" run --kernel "$G" --disk "$TMP/missing.img" >"$TMP/out" 2>&1; then fail disk_missing "succeeded"
elif [ "$(wc -l <"$TMP/out")" -le 2 ] && grep -q "missing.img" "$TMP/out"; then pass disk_missing
else fail disk_missing "$(cat "$TMP/out")"; fi
if "$VSRV" run --kernel "$G" --disk "$TMP/x,bogus=1" >"$TMP/out" 2>&1; then fail disk_badopt "succeeded"
elif grep -q "bad option" "$TMP/out"; then pass disk_badopt; else fail disk_badopt "$(cat "$TMP/out")"; fi
if "$VSRV" run --kernel "$G" --device gpu >"$TMP/out" 2>&1; then fail device_bad "succeeded"
elif grep -q -- "--device gpu" "$TMP/out"; then pass device_bad; else fail device_bad "$(cat "$TMP/out")"; fi
# the balloon's spec: a bad value is one line naming it, before /dev/kvm is even opened
if "$VSRV" run --kernel "$G" --device balloon,deflate-on-oom=maybe >"$TMP/out" 2>&1; then
  fail balloon_badopt "succeeded"
elif [ "$(wc -l <"$TMP/out")" -le 2 ] && grep -q -- "--device balloon,deflate-on-oom=maybe" "$TMP/out" &&
     ! grep -q "/dev/kvm" "$TMP/out"; then pass balloon_badopt
else fail balloon_badopt "$(cat "$TMP/out")"; fi
finish
