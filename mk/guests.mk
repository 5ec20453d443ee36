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

# Programs: guests/NAME.c becomes build/guests/NAME.elf.
GUEST_PROGS   := hello exceptions costs smp timer console
GUEST_ELFS    := $(GUEST_PROGS:%=$(GUEST_DIR)/%.elf)

all: $(GUEST_ELFS)
guests: $(GUEST_ELFS)
.PHONY: guests

$(GUEST_OBJ)/%.c.o: guests/%.c
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_OBJ)/%.S.o: guests/%.S
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_DIR)/%.elf64: $(GUEST_OBJ)/%.c.o $(GUEST_RT_OBJ) guests/rt/link.ld
	$(GUEST_LD) $(GUEST_LDFLAGS) -T guests/rt/link.ld -o $@ $< $(GUEST_RT_OBJ)

$(GUEST_DIR)/%.elf: $(GUEST_DIR)/%.elf64
	$(GUEST_OBJCOPY) -I elf64-x86-64 -O elf32-i386 $< $@

.SECONDARY:
-include $(shell find $(GUEST_OBJ) -name '*.d' 2>/dev/null)
