# The test-guest kit (guests/): freestanding multiboot v1 guests built with the system gcc.
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
GUEST_PROGS   := hello exceptions costs smp timer console savecount
# Emulation-assist guests (issue 5): guests/assist.c built once per case.
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

.SECONDARY: $(GUEST_PROGS:%=$(GUEST_DIR)/%.elf64) $(GUEST_ASSISTS:%=$(GUEST_DIR)/assist-%.elf64) $(GUEST_DIR)/linuxboot.bz.elf
-include $(shell find $(GUEST_OBJ) -name '*.d' 2>/dev/null)
