#!/usr/bin/env bash
# Replays the disk records of a migration without shared storage through their receiver's
# fuzz target under ASan/UBSan (build/tests/replay-migrate-disk, from fuzz/migrate_disk.c;
# CRCs not compared, so every input reaches the checks behind them): the seed corpus
# fuzz/corpus/migrate_disk (fuzz/migrate_disk_seeds.py: a full copy, dirty rounds, sizes
# and disks that do not match, records past the end, bad lengths, flags, disk numbers), then
# about 1,900 mutants of its seeds (truncations, flipped bytes, record fields set to edge values).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-migrate-disk
if [ ! -x "$bin" ]; then
	fail migrate-disk-fuzz-corpus "missing $bin (run make)"
	finish; exit
fi
replay_corpus "$bin" migrate-disk-fuzz-corpus "$ROOT/fuzz/corpus/migrate_disk"

python3 - "$ROOT/fuzz/corpus/migrate_disk" "$TMP/mut" <<'PY'
import os, random, struct, sys
src, out = sys.argv[1:3]
os.makedirs(out)
rnd = random.Random(2468)
edge64 = [0, 1, 511, 512, 513, 65535, 65536, 1 << 20, (1 << 20) + 512, 200 * 1024,
          (1 << 63), (1 << 64) - 1, (1 << 64) - 512]
i = 0
for name in sorted(os.listdir(src)):
    data = open(os.path.join(src, name), 'rb').read()
    frames, off = [], 0
    while off + 32 <= len(data):
        t, _, n = struct.unpack_from('<IIQ', data, off)
        frames.append((off, t, n)); off += 32 + n
    for cut in sorted(set([0, 31, 32, 33] + [fo + d for fo, _, _ in frames for d in (0, 1, 31, 32, 33, 55, 56)] +
                          [rnd.randrange(len(data) + 1) for _ in range(10)])):
        open('%s/%05d' % (out, i), 'wb').write(data[:cut]); i += 1
    for _ in range(80):
        b = bytearray(data)
        fo, t, n = rnd.choice(frames)
        k = rnd.choice([4, 8, 32, 40, 48, 52]) if t == 20 else rnd.choice([4, 8, 32, 36, 40, 48, 56])
        if fo + k + 8 <= len(b):
            struct.pack_into('<Q', b, fo + k, rnd.choice(edge64))
        open('%s/%05d' % (out, i), 'wb').write(bytes(b)); i += 1
    for _ in range(20):
        b = bytearray(data)
        for _ in range(rnd.randint(1, 4)):
            b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        open('%s/%05d' % (out, i), 'wb').write(bytes(b)); i += 1
print('mutants', i)
PY
replay_corpus "$bin" migrate-disk-fuzz-mutants "$TMP/mut"
finish
