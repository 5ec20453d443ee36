# Saved-VM files (src/vmm/savestate*.c): CRC32 from zlib (Debian zlib1g-dev).
LDLIBS += -lz
