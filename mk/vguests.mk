# Virtio test guests (guests/v*.c, evil.c) and their drivers (guests/virtio/): see
# guests/README.md. Built with the kit's flags and runtime plus the driver objects.
VIO_SRC   := guests/virtio/transport.c guests/virtio/virtq.c guests/virtio/pvirtq.c guests/virtio/gate.S
VIO_OBJ   := $(patsubst guests/%,$(GUEST_OBJ)/%.o,$(VIO_SRC))
VIO_PROGS := vblk vrng vbench evil vscsi vnet vnetctl vsaveblk
VIO_ELFS  := $(VIO_PROGS:%=$(GUEST_DIR)/%.elf)

all: $(VIO_ELFS)
guests: $(VIO_ELFS)

$(VIO_PROGS:%=$(GUEST_DIR)/%.elf64): $(GUEST_DIR)/%.elf64: $(GUEST_OBJ)/%.c.o $(VIO_OBJ) $(GUEST_RT_OBJ) $(GUEST_MB_OBJ) guests/rt/link.ld
	$(GUEST_LD) $(GUEST_LDFLAGS) -T guests/rt/link.ld -o $@ $(GUEST_MB_OBJ) $< $(VIO_OBJ) $(GUEST_RT_OBJ)

.SECONDARY: $(VIO_PROGS:%=$(GUEST_DIR)/%.elf64) $(VIO_OBJ) $(VIO_PROGS:%=$(GUEST_OBJ)/%.c.o)
