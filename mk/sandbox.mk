# The VMM's sandbox (src/vmm/sandbox.c): its seccomp allow-list, src/vmm/sandbox_rules.c, is
# compiled into BPF at build time by libseccomp (Debian libseccomp-dev, in mk/deps.sh's build
# group): build/vsrv loads the generated programs and does not link libseccomp (building
# them at run time cost ~1 ms per VM start).
SANDBOX_GEN := $(BUILD)/gen/sandbox-gen
SANDBOX_BPF := $(BUILD)/gen/sandbox_bpf.h

$(SANDBOX_GEN): src/vmm/sandbox_rules.c
	@mkdir -p $(@D)
	$(CC) -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -DSANDBOX_GEN_MAIN -o $@ $< -lseccomp

$(SANDBOX_BPF): $(SANDBOX_GEN)
	$(SANDBOX_GEN) >$@

$(BUILD)/src/vmm/sandbox.o: $(SANDBOX_BPF)
$(BUILD)/src/vmm/sandbox.o: CFLAGS += -I$(BUILD)/gen
