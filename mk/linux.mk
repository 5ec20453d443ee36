# The small Linux test guest: kernel from Debian's linux-source-6.1, cached per machine under
# ~/.cache/vsrv/, and an uncompressed busybox initramfs. Built by `make test` (test-prep), not by `make`.
LINUX_OUT := $(BUILD)/guests/linux
LINUX_SRC := guests/linux

.PHONY: linux-guest linux-kernel test-distro bench-linux-boot
test-prep: linux-guest
bench: bench-linux-boot

linux-guest: linux-kernel $(LINUX_OUT)/initramfs.cpio $(LINUX_OUT)/disktest
# With Debian's qemu-ga (tests/t-agent-qemu.sh, the server's agent tests with KVM).
linux-guest: $(if $(wildcard /usr/sbin/qemu-ga /usr/bin/qemu-ga),$(LINUX_OUT)/initramfs-agent.cpio)

# build.sh is cheap when the kernel is cached: it only links the cached files into $(LINUX_OUT).
linux-kernel:
	@bash $(LINUX_SRC)/build.sh $(LINUX_OUT)

# disktest runs in the guest and on the host (tests compare images with what it generates): a small
# static binary, with musl when available (~60 KB instead of ~800 KB of static glibc in the initramfs).
LINUX_STATIC_CC := $(shell command -v musl-gcc >/dev/null 2>&1 && echo musl-gcc || echo $(CC))
$(LINUX_OUT)/disktest: $(LINUX_SRC)/disktest.c
	@mkdir -p $(@D)
	$(LINUX_STATIC_CC) -static -O2 -std=gnu11 -Wall -Wextra -Werror -o $@ $<

$(LINUX_OUT)/initramfs.cpio: $(LINUX_SRC)/init $(LINUX_SRC)/lease $(LINUX_SRC)/mkinitramfs.sh \
                             $(LINUX_OUT)/disktest /bin/busybox
	@mkdir -p $(@D)
	bash $(LINUX_SRC)/mkinitramfs.sh $@ $(LINUX_OUT)/disktest

$(LINUX_OUT)/initramfs-agent.cpio: $(LINUX_SRC)/init $(LINUX_SRC)/lease $(LINUX_SRC)/mkinitramfs.sh \
                                   $(LINUX_OUT)/disktest /bin/busybox
	@mkdir -p $(@D)
	bash $(LINUX_SRC)/mkinitramfs.sh $@ $(LINUX_OUT)/disktest --agent

bench-linux-boot: all linux-guest
	@bash bench/linux-boot.sh

# Debian's stock kernel under vsrv run: how far it gets (not part of `make test`).
test-distro: test-deps all $(LINUX_OUT)/initramfs.cpio
	@bash $(LINUX_SRC)/distro.sh
