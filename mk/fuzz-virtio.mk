# The virtqueue walker's libFuzzer target (`make fuzz`) and its ASan corpus replayer, which
# `make` builds for tests/t-virtq-fuzz.sh.
FUZZ_BUILD ?= build-fuzz
VIRTQ_FUZZ_SRC := fuzz/virtq.c src/devices/virtio/virtq.c src/devices/virtio/virtq_packed.c src/util/log.c

# Run: build-fuzz/fuzz-virtq -max_len=30000 NEW_DIR fuzz/corpus/virtq (new inputs go to NEW_DIR).
fuzz: $(FUZZ_BUILD)/fuzz-virtq
$(FUZZ_BUILD)/fuzz-virtq: $(VIRTQ_FUZZ_SRC) src/devices/virtio/virtq.h src/devices/virtio/virtq_priv.h
	@mkdir -p $(@D)
	clang -g -O1 -std=gnu11 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined \
	  -o $@ $(VIRTQ_FUZZ_SRC)

all: $(BUILD)/tests/replay-virtq
$(BUILD)/tests/replay-virtq: $(VIRTQ_FUZZ_SRC) src/devices/virtio/virtq.h src/devices/virtio/virtq_priv.h
	@mkdir -p $(@D)
	$(CC) -g -O1 -std=gnu11 -D_GNU_SOURCE -Isrc -Wall -Wextra -Werror -DFUZZ_REPLAY_MAIN \
	  -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	  -o $@ $(VIRTQ_FUZZ_SRC)
