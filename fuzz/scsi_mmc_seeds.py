#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/scsi_mmc.c into fuzz/corpus/scsi_mmc: one file per command
the drive knows (and some it refuses), in a few drive states, and media changes between
commands. Format: see fuzz/scsi_mmc.c."""
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "scsi_mmc")
os.makedirs(out, exist_ok=True)

MEDIUM, TRAY, LOCK, DVD, UA = 1, 2, 4, 8, 16
cmds = {
    "tur": [0x00, 0, 0, 0, 0, 0],
    "inquiry": [0x12, 0, 0, 0, 96, 0],
    "inquiry-vpd83": [0x12, 1, 0x83, 0, 255, 0],
    "request-sense": [0x03, 0, 0, 0, 18, 0],
    "read-capacity": [0x25] + [0] * 9,
    "read10-pvd": [0x28, 0, 0, 0, 0, 16, 0, 0, 1, 0],
    "read10-end": [0x28, 0, 0, 0, 0, 63, 0, 0, 2, 0],
    "read12-big": [0xa8, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0],
    "read12": [0xa8, 0, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0],
    "readcd": [0xbe, 0x08, 0, 0, 0, 16, 0, 0, 1, 0x10, 0, 0],
    "seek": [0x2b, 0, 0, 0, 0, 10, 0, 0, 0, 0],
    "toc-lba": [0x43, 0, 0, 0, 0, 0, 0, 0x03, 0x24, 0],
    "toc-msf": [0x43, 2, 0, 0, 0, 0, 0, 0x03, 0x24, 0],
    "toc-session": [0x43, 0, 1, 0, 0, 0, 0, 0, 12, 0],
    "toc-leadout": [0x43, 0, 0, 0, 0, 0, 0xaa, 0, 12, 0],
    "toc-byte9": [0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0x40],
    "getconf": [0x46, 0, 0, 0, 0, 0, 0, 1, 0, 0],
    "getconf-rt1": [0x46, 1, 0, 0x10, 0, 0, 0, 1, 0, 0],
    "getconf-rt2": [0x46, 2, 0, 0x1f, 0, 0, 0, 0, 64, 0],
    "gesn": [0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0],
    "gesn-async": [0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8, 0],
    "mode6-all": [0x1a, 0, 0x3f, 0, 255, 0],
    "mode10-2a": [0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 255, 0],
    "mode10-changeable": [0x5a, 0, 0x7f, 0, 0, 0, 0, 1, 0, 0],
    "disc-info": [0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0],
    "track-info": [0x52, 1, 0, 0, 0, 1, 0, 0, 36, 0],
    "track-info-lba": [0x52, 0, 0, 0, 0, 40, 0, 0, 36, 0],
    "mech-status": [0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0],
    "prevent": [0x1e, 0, 0, 0, 1, 0],
    "eject": [0x1b, 0, 0, 0, 2, 0],
    "load": [0x1b, 0, 0, 0, 3, 0],
    "set-speed": [0xbb, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0],
    "dvd-structure": [0xad, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x04, 0, 0],
    "dvd-copyright": [0xad, 0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 0],
    "write10": [0x2a, 0, 0, 0, 0, 16, 0, 0, 1, 0],
    "report-luns": [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0],
    "sync-cache": [0x35] + [0] * 9,
    "unknown": [0xff] + [0] * 5,
}


def seq(*cs):
    b = b""
    for c in cs:
        if isinstance(c, int):
            b += bytes([c])
        else:
            b += bytes([len(c)]) + bytes(c)
    return b


for name, cdb in cmds.items():
    for tag, state in (("", MEDIUM), ("-dvd", MEDIUM | DVD), ("-empty", 0), ("-ua", MEDIUM | UA)):
        with open(os.path.join(out, name + tag), "wb") as f:
            f.write(bytes([state, 16]) + seq(cdb))
# media changes and the guest's lock between commands
with open(os.path.join(out, "change-media"), "wb") as f:
    f.write(bytes([MEDIUM, 9]) + seq(cmds["gesn"], 0xfe, cmds["tur"], cmds["gesn"], 0xfd,
                                     cmds["tur"], cmds["read10-pvd"], cmds["gesn"]))
with open(os.path.join(out, "locked-eject"), "wb") as f:
    f.write(bytes([MEDIUM | LOCK, 8]) + seq(cmds["eject"], 0xfe, cmds["gesn"], 0xff,
                                            cmds["tur"], cmds["load"], cmds["mech-status"]))
with open(os.path.join(out, "tray-open"), "wb") as f:
    f.write(bytes([MEDIUM | TRAY | (2 << 5), 3]) + seq(cmds["request-sense"], cmds["load"],
                                                        cmds["read12"], cmds["toc-msf"]))
with open(os.path.join(out, "short-cdbs"), "wb") as f:
    f.write(bytes([MEDIUM, 1]) + seq([0xa8, 0, 0], [0x43], [], [0x46, 2]))
