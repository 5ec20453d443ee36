#!/usr/bin/env python3
"""Writes the seeds of the kernel image corpus (fuzz/boot_image.c describes the input: an
8-byte header with the guest's RAM, initrd and command line, then the image) into the
directory given: python3 fuzz/boot_image_seeds.py fuzz/corpus/boot_image"""
import os, struct, sys

MB_MAGIC = 0x1BADB002


def hdr(mib=14, pages=0, initrd=None, x512=False, cmdlen=16):
    """The target's 8-byte header: RAM 2 MiB + mib MiB + pages pages, an initrd of initrd
    bytes (x512 each with x512), a command line of cmdlen bytes (+64 KiB from 0x10000)."""
    flags = (1 if initrd is not None else 0) | (2 if x512 else 0) | (4 if cmdlen > 0xFFFF else 0)
    return struct.pack("<BBBHHx", flags, mib, pages, initrd or 0, cmdlen & 0xFFFF)


def mb_header(flags=0x3, aout=None):
    """A multiboot header: page-align and memory-info flags; aout: (header_addr, load_addr,
    load_end_addr, bss_end_addr, entry_addr) with the a.out kludge flag."""
    if aout:
        flags |= 1 << 16
    h = struct.pack("<III", MB_MAGIC, flags, (-(MB_MAGIC + flags)) & 0xFFFFFFFF)
    return h + (struct.pack("<5I", *aout) if aout else b"")


def elf32(segs, entry, prefix=b"", ptype=1):
    """An ELF32 i386 executable: segs is a list of (paddr, data, memsz); prefix (the
    multiboot header) right after the program headers."""
    ph_off, n = 52, len(segs)
    off = ph_off + 32 * n + len(prefix)
    phdrs, body = b"", b""
    for paddr, data, memsz in segs:
        phdrs += struct.pack("<8I", ptype, off + len(body), paddr, paddr, len(data), memsz, 7,
                             4096)
        body += data
    eh = (b"\x7fELF\x01\x01\x01" + bytes(9) +
          struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, entry, ph_off, 0, 0, 52, 32, n, 40, 0, 0))
    return eh + phdrs + prefix + body


def elf64(segs, entry, prefix=b"", etype=2):
    """An ELF64 x86-64 executable: segs is a list of (vaddr, paddr, data, memsz)."""
    ph_off, n = 64, len(segs)
    off = ph_off + 56 * n + len(prefix)
    phdrs, body = b"", b""
    for vaddr, paddr, data, memsz in segs:
        phdrs += struct.pack("<IIQQQQQQ", 1, 7, off + len(body), vaddr, paddr, len(data), memsz,
                             0x200000)
        body += data
    eh = (b"\x7fELF\x02\x01\x01" + bytes(9) +
          struct.pack("<HHIQQQIHHHHHH", etype, 62, 1, entry, ph_off, 0, 0, 64, 56, n, 64, 0, 0))
    return eh + phdrs + prefix + body


def bzimage(version=0x20F, setup_sects=4, xload=1, loadflags=1, init_size=0x200000,
            cmdline_size=2048, initrd_max=0x7FFFFFFF, payload=b"\x90" * 4096, hdr_len=0x6A):
    """A bzImage: boot sector and setup (setup_sects + 1 sectors) with the setup header, then
    the protected-mode payload."""
    setup = bytearray(512 * ((setup_sects or 4) + 1))
    setup[0x1F1] = setup_sects
    setup[0x1FE:0x200] = b"\x55\xAA"
    setup[0x201] = hdr_len
    struct.pack_into("<I", setup, 0x202, 0x53726448)
    struct.pack_into("<H", setup, 0x206, version)
    setup[0x211] = loadflags
    struct.pack_into("<I", setup, 0x214, 0x100000)
    struct.pack_into("<I", setup, 0x22C, initrd_max)
    struct.pack_into("<I", setup, 0x230, 0x200000)
    setup[0x234] = 1
    struct.pack_into("<H", setup, 0x236, xload)
    struct.pack_into("<I", setup, 0x238, cmdline_size)
    struct.pack_into("<I", setup, 0x260, init_size)
    return bytes(setup) + payload


code = bytes(range(1, 200)) * 20
mb_elf = elf32([(0x100000, code, 0x8000)], 0x100000, mb_header())
mb_two = elf32([(0x100000, code, len(code)), (0x200000, code[:100], 0x3000)], 0x100000,
               mb_header())
mb_aout = mb_header(aout=(0x100000, 0x100000, 0x100000 + 32 + len(code), 0x110000, 0x100020)) + code
mb_e64 = elf64([(0x100000, 0x100000, code, 0x5000)], 0x100000, mb_header())
vmlinux = elf64([(0xFFFFFFFF81000000, 0x1000000, code, 0x10000),
                 (0xFFFFFFFF81200000, 0x1200000, code[:64], 0x1000)], 0xFFFFFFFF81000000)

SEEDS = {
    # multiboot
    "mb-elf32": hdr() + mb_elf,
    "mb-elf32-initrd": hdr(initrd=5000, cmdlen=40) + mb_two,
    "mb-aout": hdr(initrd=100) + mb_aout,
    "mb-elf64": hdr(mib=1) + mb_e64,
    "mb-late-header": hdr() + elf32([(0x100000, bytes(7000) + mb_header(), 0x3000)], 0x100000),
    "mb-unknown-flags": hdr() + elf32([(0x100000, code, 0x1000)], 0x100000,
                                      mb_header(flags=0x3 | 1 << 5)),
    "mb-too-big": hdr(mib=0) + elf32([(0x100000, code, 0x300000)], 0x100000, mb_header()),
    "mb-boot-data": hdr() + elf32([(0x10000, code, 0x1000)], 0x10000, mb_header()),
    "mb-acpi-page": hdr() + elf32([(0xE0800, code, 0x1000)], 0xE0800, mb_header()),
    "mb-high-entry": hdr() + elf64([(0x100000, 0x100000, code, 0x1000)], 1 << 32, mb_header()),
    "mb-aout-bad": hdr() + mb_header(aout=(0x100000, 0x100010, 0x100000, 0, 0x100000)) + code,
    # bzImage
    "bz": hdr(initrd=30000, cmdlen=100) + bzimage(),
    "bz-setup0": hdr(initrd=2, x512=True) + bzimage(setup_sects=0),
    "bz-old": hdr() + bzimage(version=0x20A),
    "bz-no64": hdr() + bzimage(xload=0),
    "bz-truncated": hdr() + bzimage(payload=b"")[:0x400],
    "bz-init-size-huge": hdr() + bzimage(init_size=0x7FFFFFF0),
    "bz-cmdline-long": hdr(cmdlen=5000) + bzimage(cmdline_size=255),
    "bz-initrd-low-max": hdr(initrd=60000, x512=True) + bzimage(initrd_max=0x3FFFFF),
    "bz-initrd-too-big": hdr(mib=2, initrd=0xFFFF, x512=True) + bzimage(),
    "bz-hdr-len-max": hdr() + bzimage(hdr_len=0xFF),
    # vmlinux
    "vmlinux": hdr(mib=20, initrd=8000, cmdlen=300) + vmlinux,
    "vmlinux-phys-entry": hdr(mib=20) + elf64([(0x1000000, 0x1000000, code, 0x1000)], 0x1000000),
    "vmlinux-low": hdr(mib=20) + elf64([(0x1000, 0x1000, code, 0x1000)], 0x1000),
    "vmlinux-dyn": hdr(mib=20) + elf64([(0x1000000, 0x1000000, code, 0x1000)], 0x1000000,
                                       etype=3),
    "vmlinux-no-entry": hdr(mib=20) + elf64([(0x1000000, 0x1000000, code, 0x1000)], 0x5000000),
    "vmlinux-wrap": hdr(mib=20) + elf64([(0x1000000, 0xFFFFFFFFFFFFF000, code, 0x2000)],
                                        0x1000000),
    # neither, or command lines at their bound
    "garbage": hdr() + b"MZ" + bytes(600),
    "empty": hdr(),
    "cmdline-max": hdr(mib=20, cmdlen=0xFFFF) + vmlinux,
    "cmdline-over": hdr(cmdlen=0x10000) + vmlinux,
    # what the target found (each failed before its fix)
    "bz-short-header": hdr() + bzimage()[:0x268],
    "mb-module-reserved": hdr(initrd=0x800, x512=True) + elf32([(0x30000, code, 0x1000)], 0x30000,
                                                                mb_header()),
    "mb-vga-hole": hdr() + elf32([(0xA0000, code, 0x1000)], 0xA0000, mb_header()),
    "mb-no-load-initrd": hdr(initrd=0x100, x512=True) + elf32([(0x30000, code, 0x1000)], 0x30000,
                                                               mb_header(), ptype=0x1020),
    "mb-aout-ebda": hdr() + mb_header(aout=(0x9F000, 0x9F000, 0, 0, 0x9F000)) + code,
}

d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
