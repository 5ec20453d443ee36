#!/usr/bin/env bash
# Replay the kernel image corpus under ASan/UBSan (build/tests/replay-boot-image): the probe
# and the multiboot, bzImage and vmlinux loaders on hostile images, writing into guarded
# guest RAM (fuzz/boot_image.c says what is checked).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-boot-image
if [ ! -x "$bin" ]; then
  skip boot_image_corpus "replayer not built (make)"
else
  out=$(timeout 120 "$bin" "$ROOT/fuzz/corpus/boot_image" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -q "ran [1-9]" <<<"$out"; then pass boot_image_corpus
  else fail boot_image_corpus "rc=$rc: $(grep -v '^vsrv: ' <<<"$out" | tail -n 5 | tr '\n' ' ')"; fi
fi
finish
