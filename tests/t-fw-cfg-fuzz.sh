#!/usr/bin/env bash
# Replays the fw_cfg DMA fuzz corpus (fuzz/corpus/fw_cfg_dma) through the real device under
# ASan/UBSan (build/tests/replay-fw_cfg_dma, from fuzz/fw_cfg_dma.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-fw_cfg_dma
if [ ! -x "$bin" ]; then
  fail fw-cfg-fuzz-corpus "missing $bin (run make)"
else
  replay_corpus "$bin" fw-cfg-fuzz-corpus "$ROOT/fuzz/corpus/fw_cfg_dma"
fi
finish
