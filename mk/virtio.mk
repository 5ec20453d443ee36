# virtio devices: io_uring for virtio-blk; libslirp is loaded with dlopen only for --net user.
LDLIBS += -luring -ldl

# End-to-end test guests for the virtio devices (tests/t-virtio-run.sh).
VGUEST_CFLAGS := -m32 -ffreestanding -fno-pic -fno-stack-protector -nostdlib -static -O2 \
  -Wall -Wextra -Werror -Wl,-Ttext=0x100000 -Wl,--build-id=none -Wl,-z,noexecstack
all: $(BUILD)/virtio-guests/blk.elf
$(BUILD)/virtio-guests/%.elf: tests/virtio-guests/start.S tests/virtio-guests/%.c
	@mkdir -p $(@D)
	$(CC) $(VGUEST_CFLAGS) -o $@ $^
