# Every test guest: `make` (and `make guests`) builds them all, with the system gcc and ld.
#   build/guests/      the test-guest kit (guests/): freestanding multiboot v1 guests in C,
#                      and the virtio guests with the kit's drivers (guests/virtio/)
#   build/vmm-guests/  the VMM's tiny assembly guests (tests/vmm-guests/*.S)
#   build/virtio-guests/blk.elf  the first virtio-blk guest (tests/virtio-guests/)
# The Linux test guest is mk/linux.mk's (built by `make test`, not by `make`).

# ---- the kit (guests/) -------------------------------------------------------------------
# Each guest is linked as x86-64 code at 1 MiB and converted to ELF32, which QEMU's multiboot
# loader accepts (it refuses ELF64); see guests/README.md.
GUEST_DIR   := $(BUILD)/guests
GUEST_OBJ   := $(GUEST_DIR)/obj
GUEST_CC    := $(CC)
GUEST_LD    ?= ld
GUEST_OBJCOPY ?= objcopy
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -MMD -MP -Iguests \
	-ffreestanding -nostdlib -fno-builtin -fno-pic -fno-pie -mno-red-zone -fno-stack-protector \
	-mgeneral-regs-only -march=x86-64 -mtune=generic -fno-asynchronous-unwind-tables \
	-fcf-protection=none -fno-tree-loop-distribute-patterns -fno-omit-frame-pointer --param=min-pagesize=0
GUEST_LDFLAGS := -m elf_x86_64 -nostdlib -z max-page-size=0x1000 -z noexecstack --no-warn-rwx-segments

GUEST_RT_SRC := guests/rt/entry.S guests/rt/rt.c guests/rt/lib.c guests/rt/apic.c
GUEST_RT_OBJ := $(patsubst guests/%,$(GUEST_OBJ)/%.o,$(GUEST_RT_SRC))
GUEST_MB_OBJ := $(GUEST_OBJ)/rt/mbheader.S.o

# Programs: guests/NAME.c becomes build/guests/NAME.elf.
GUEST_PROGS   := hello exceptions costs smp timer console savecount display
# Emulation-assist guests: guests/assist.c built once per case.
GUEST_ASSISTS := int3 fwait clac stac fence ud2 ldmxcsr stmxcsr
GUEST_ELFS    := $(GUEST_PROGS:%=$(GUEST_DIR)/%.elf) $(GUEST_ASSISTS:%=$(GUEST_DIR)/assist-%.elf)

# The Linux boot-protocol guest in its two forms.
GUEST_LINUX   := $(GUEST_DIR)/linuxboot.bzImage $(GUEST_DIR)/linuxboot.vmlinux

all: $(GUEST_ELFS) $(GUEST_LINUX)
guests: $(GUEST_ELFS) $(GUEST_LINUX)
.PHONY: guests

$(GUEST_OBJ)/%.c.o: guests/%.c
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_OBJ)/assist-%.c.o: guests/assist.c
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -DASSIST_CASE='"$*"' -c -o $@ $<

$(GUEST_OBJ)/%.S.o: guests/%.S
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_DIR)/%.elf64: $(GUEST_OBJ)/%.c.o $(GUEST_RT_OBJ) $(GUEST_MB_OBJ) guests/rt/link.ld
	$(GUEST_LD) $(GUEST_LDFLAGS) -T guests/rt/link.ld -o $@ $(GUEST_MB_OBJ) $< $(GUEST_RT_OBJ)

$(GUEST_DIR)/%.vmlinux: $(GUEST_OBJ)/%.c.o $(GUEST_RT_OBJ) guests/rt/vmlinux.ld
	$(GUEST_LD) $(GUEST_LDFLAGS) -T guests/rt/vmlinux.ld -o $@ $< $(GUEST_RT_OBJ)

$(GUEST_DIR)/%.bz.elf: $(GUEST_OBJ)/%.c.o $(GUEST_RT_OBJ) $(GUEST_OBJ)/rt/bzhdr.S.o guests/rt/bzimage.ld
	$(GUEST_LD) $(GUEST_LDFLAGS) -T guests/rt/bzimage.ld -o $@ $(GUEST_OBJ)/rt/bzhdr.S.o $< $(GUEST_RT_OBJ)

$(GUEST_DIR)/%.bzImage: $(GUEST_DIR)/%.bz.elf
	$(GUEST_OBJCOPY) -O binary $< $@

$(GUEST_DIR)/%.elf: $(GUEST_DIR)/%.elf64
	$(GUEST_OBJCOPY) -I elf64-x86-64 -O elf32-i386 $< $@

-include $(shell find $(GUEST_OBJ) -name '*.d' 2>/dev/null)

# ---- the virtio guests (guests/v*.c, evil.c) and their drivers (guests/virtio/) ----------
# Built with the kit's flags and runtime plus the driver objects; see guests/README.md.
VIO_SRC   := guests/virtio/transport.c guests/virtio/virtq.c guests/virtio/pvirtq.c guests/virtio/gate.S
VIO_OBJ   := $(patsubst guests/%,$(GUEST_OBJ)/%.o,$(VIO_SRC))
VIO_PROGS := vblk vrng vbench evil vscsi vnet vnetctl vsaveblk vcdrom vahci vballoon
VIO_ELFS  := $(VIO_PROGS:%=$(GUEST_DIR)/%.elf)

all: $(VIO_ELFS)
guests: $(VIO_ELFS)

$(VIO_PROGS:%=$(GUEST_DIR)/%.elf64): $(GUEST_DIR)/%.elf64: $(GUEST_OBJ)/%.c.o $(VIO_OBJ) $(GUEST_RT_OBJ) $(GUEST_MB_OBJ) guests/rt/link.ld
	$(GUEST_LD) $(GUEST_LDFLAGS) -T guests/rt/link.ld -o $@ $(GUEST_MB_OBJ) $< $(VIO_OBJ) $(GUEST_RT_OBJ)

# ---- the VMM's tiny assembly guests (tests/vmm-guests/*.S) -------------------------------
# Multiboot ELF32 images, and one 64-bit image in bzImage and ELF64-vmlinux form, that
# exercise the boot protocols, the devices and the emulation assists.
VMMG_DIR  := $(BUILD)/vmm-guests
VMMG_SRC  := $(sort $(wildcard tests/vmm-guests/*.S))
VMMG_MB   := $(patsubst tests/vmm-guests/%.S,$(VMMG_DIR)/%.elf,$(filter-out tests/vmm-guests/linux64.S,$(VMMG_SRC)))
VMMG_LD   ?= ld

all: $(VMMG_MB) $(VMMG_DIR)/linux64.vmlinux $(VMMG_DIR)/linux64.bzImage
guests: $(VMMG_MB) $(VMMG_DIR)/linux64.vmlinux $(VMMG_DIR)/linux64.bzImage

$(VMMG_DIR)/%.o: tests/vmm-guests/%.S tests/vmm-guests/mb.h
	@mkdir -p $(@D)
	$(CC) -m32 -c -Itests/vmm-guests -o $@ $<

$(VMMG_DIR)/%.elf: $(VMMG_DIR)/%.o
	$(VMMG_LD) -m elf_i386 -n -Ttext=0x100000 --build-id=none -o $@ $<

$(VMMG_DIR)/linux64.o: tests/vmm-guests/linux64.S
	@mkdir -p $(@D)
	$(CC) -c -o $@ $<

# vmlinux: an ELF64 executable at 16 MiB, like Linux's.
$(VMMG_DIR)/linux64.vmlinux: $(VMMG_DIR)/linux64.o
	$(VMMG_LD) -m elf_x86_64 -n -Ttext=0x1000000 -e startup_64 --build-id=none -o $@ $<

# bzImage: a setup header in front of the same code linked for 1 MiB (the 64-bit entry at
# +0x200 from the protected-mode code), made by tests/vmm-guests/mkbzimage.sh.
$(VMMG_DIR)/linux64.bzImage: $(VMMG_DIR)/linux64.o tests/vmm-guests/mkbzimage.sh
	$(VMMG_LD) -m elf_x86_64 -n -Ttext=0x100000 -e startup_64 --build-id=none -o $@.elf $<
	objcopy -O binary $@.elf $@.bin
	bash tests/vmm-guests/mkbzimage.sh $@.bin $@

# ---- the first virtio-blk guest (tests/virtio-guests/, for tests/t-virtio-run.sh) --------
VGUEST_CFLAGS := -m32 -ffreestanding -fno-pic -fno-stack-protector -nostdlib -static -O2 \
  -Wall -Wextra -Werror -Wl,-Ttext=0x100000 -Wl,--build-id=none -Wl,-z,noexecstack
all: $(BUILD)/virtio-guests/blk.elf
guests: $(BUILD)/virtio-guests/blk.elf
$(BUILD)/virtio-guests/%.elf: tests/virtio-guests/start.S tests/virtio-guests/%.c
	@mkdir -p $(@D)
	$(CC) $(VGUEST_CFLAGS) -o $@ $^

# ---- the firmware boot image (guests/fwboot/boot.S, guests/fwboot.c) --------------------
# One flat image: a boot sector that loads the kit's runtime and fwboot.c through int 13h
# (guests/fwboot/boot.ld lays it out), as a 1 MiB raw disk and an El Torito ISO
# (no emulation, with the boot information table the boot sector reads on a CD).
FWBOOT := $(GUEST_DIR)/fwboot
all: $(FWBOOT).img $(FWBOOT).iso
guests: $(FWBOOT).img $(FWBOOT).iso

$(FWBOOT).elf64: $(GUEST_OBJ)/fwboot/boot.S.o $(GUEST_OBJ)/fwboot.c.o $(GUEST_RT_OBJ) guests/fwboot/boot.ld
	$(GUEST_LD) $(GUEST_LDFLAGS) -T guests/fwboot/boot.ld -o $@ $(GUEST_OBJ)/fwboot/boot.S.o $(GUEST_OBJ)/fwboot.c.o $(GUEST_RT_OBJ)

$(FWBOOT).img: $(FWBOOT).elf64
	$(GUEST_OBJCOPY) -O binary $< $@.tmp
	truncate -s 1M $@.tmp
	mv $@.tmp $@

$(FWBOOT).iso: $(FWBOOT).img
	rm -rf $@.d && mkdir -p $@.d && cp $< $@.d/fwboot.img
	xorriso -as mkisofs -quiet -V FWBOOT -b fwboot.img -no-emul-boot -boot-load-size 4 \
		-boot-info-table -o $@.tmp $@.d
	rm -rf $@.d && mv $@.tmp $@
