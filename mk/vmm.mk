# The VMM's own tiny test guests (tests/vmm-guests/*.S): multiboot ELF32 images, and one
# 64-bit image in bzImage and ELF64-vmlinux form, that exercise the boot protocols, the
# devices and the emulation assists. Built into $(BUILD)/vmm-guests/.
VMMG_DIR  := $(BUILD)/vmm-guests
VMMG_SRC  := $(sort $(wildcard tests/vmm-guests/*.S))
VMMG_MB   := $(patsubst tests/vmm-guests/%.S,$(VMMG_DIR)/%.elf,$(filter-out tests/vmm-guests/linux64.S,$(VMMG_SRC)))
VMMG_LD   ?= ld

all: $(VMMG_MB) $(VMMG_DIR)/linux64.vmlinux $(VMMG_DIR)/linux64.bzImage

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
