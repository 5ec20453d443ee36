#!/usr/bin/env python3
"""Writes the seeds of the control socket's descriptor-passing fuzz corpus (fuzz/control_fds.c
describes the input format) into the directory given:
python3 fuzz/control_fds_seeds.py fuzz/corpus/control_fds"""
import os, sys

NULL, MEMFD, PIPE_R, PIPE_W, PLAIN, IMAGE = range(6)


def seed(kinds, stream, split=0, two=False):
    """two: the descriptors in two sends, the second half half-way through the stream"""
    return bytes([len(kinds) | (0x80 if two else 0), split]) + bytes(kinds) + stream


def switch(*paths):
    disks = ",".join('{"drive":"disk%d","path":"%s"}' % (i, p) for i, p in enumerate(paths))
    return ('{"cmd":"disk-switch","disks":[%s]}\n' % disks).encode()


PLAINP = "$D/plain"  # the plain file (fuzz/control_fds.c replaces $D): not a VHD
IMAGEP = "$D/base.vhd"  # the disk's own image: no new top over itself
SEEDS = {
    # the server's own use: one descriptor per disk, on the line's first byte
    "switch-one-plain": seed([PLAIN], switch(PLAINP)),
    "switch-one-null": seed([NULL], switch("/dev/null")),
    "switch-one-memfd": seed([MEMFD], switch("/x/top.vhd")),
    "switch-pipe": seed([PIPE_R], switch("/x/top.vhd")),
    "switch-image-ro": seed([IMAGE], switch(IMAGEP)),
    "switch-image-plain-fd": seed([PLAIN], switch(IMAGEP)),
    "switch-plain-64": seed([PLAIN] * 64, switch(*[PLAINP] * 64)),
    "switch-plain-16": seed([PLAIN] * 16, switch(*[PLAINP] * 16)),
    "switch-none": seed([], switch("/x/top.vhd")),
    "switch-two-for-one": seed([PLAIN, NULL], switch("/x/top.vhd")),
    "switch-two-disks": seed([PLAIN, MEMFD], switch(PLAINP, "/x/b.vhd")),
    "switch-same-twice": seed([PLAIN, PLAIN], switch(PLAINP, PLAINP)),
    # as many as a command takes, one more, and more than that (closed at once)
    "switch-64": seed([i % 6 for i in range(64)], switch("/x/top.vhd")),
    "switch-65": seed([i % 6 for i in range(65)], switch("/x/top.vhd")),
    "switch-70": seed([PIPE_W] * 70, switch("/x/top.vhd")),
    # in two sends: more than a command takes across two reads (those beyond closed as they
    # come), and halves that belong to two lines
    "two-sends-70": seed([PLAIN, NULL] * 35, switch(PLAINP), two=True),
    "two-sends-64": seed([MEMFD] * 64, switch(PLAINP), two=True),
    "two-sends-lines": seed([PLAIN, PLAIN], switch(PLAINP) + switch(PLAINP), two=True),
    "two-sends-status": seed([NULL] * 4, b'{"cmd":"status"}\n{"cmd":"stats"}\n', two=True),
    # many lines whose replies fill the socket unless the client reads them as it sends
    "many-replies": seed([PLAIN], b'{"cmd":"stats"}\n' * 120 + switch(PLAINP), split=250),
    # descriptors with another command, with no command, with bad JSON
    "status-with-fds": seed([NULL, PIPE_W], b'{"cmd":"status"}\n'),
    "stats-with-fd": seed([MEMFD], b'{"cmd":"stats","id":7}\n'),
    "junk-with-fds": seed([PLAIN] * 3, b"not json\n"),
    "no-cmd-with-fd": seed([NULL], b'{"disks":[]}\n'),
    "dup-keys": seed([NULL], b'{"cmd":"disk-switch","cmd":"status"}\n'),
    # where they ride: the second line of two, mid-line, on a line that never ends
    "second-line": seed([PLAIN], b'{"cmd":"status"}\n' + switch("/x/top.vhd"), split=17),
    "mid-line": seed([PLAIN], switch("/x/top.vhd"), split=10),
    "no-newline": seed([NULL, MEMFD], b'{"cmd":"disk-switch","disks":[{"drive":"disk0"'),
    "after-lines": seed([NULL], b'{"cmd":"status"}\n{"cmd":"stats"}\n', split=33),
    # a line longer than the socket takes (4 KiB), descriptors with it, then a good one
    "long-line": seed([PLAIN, NULL], b'{"cmd":"' + b"x" * 5000 + b'"}\n' + switch("/x/t.vhd")),
    # media and balloon with descriptors (refused before they act), and without
    "media-fd": seed([IMAGE], b'{"cmd":"media"}\n{"cmd":"media","drive":"disk0"}\n'),
    "balloon": seed([], b'{"cmd":"balloon","target_mib":1}\n{"cmd":"screenshot"}\n'),
    "pause-switch": seed([PLAIN], b'{"cmd":"pause"}\n' + switch(PLAINP) +
                         b'{"cmd":"resume"}\n', split=16),
    "bad-disks": seed([NULL], b'{"cmd":"disk-switch","disks":[{"drive":"disk0","path":"rel"}]}\n'
                      b'{"cmd":"disk-switch","disks":{}}\n{"cmd":"disk-switch","disks":[1]}\n'),
}

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus/control_fds"
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
