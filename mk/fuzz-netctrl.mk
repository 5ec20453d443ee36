# virtio-net's control queue under libFuzzer (`make fuzz`: build-fuzz/fuzz-net-ctrl; run it as
# build-fuzz/fuzz-net-ctrl NEW_DIR fuzz/corpus/net_ctrl) and its ASan/UBSan corpus replayer,
# which `make` builds for tests/t-net-ctrl-fuzz.sh.
NETCTRL_FUZZ_SRC := fuzz/net_ctrl.c src/devices/virtio/net.c src/devices/virtio/net_ctrl.c \
  src/devices/virtio/virtio.c src/devices/virtio/virtio_state.c src/devices/virtio/virtq.c \
  src/util/log.c
NETCTRL_FUZZ_HDR := src/devices/virtio/net.h src/devices/virtio/net_int.h \
  src/devices/virtio/virtio.h src/devices/virtio/virtq.h

fuzz: build-fuzz/fuzz-net-ctrl
build-fuzz/fuzz-net-ctrl: $(NETCTRL_FUZZ_SRC) $(NETCTRL_FUZZ_HDR)
	@mkdir -p $(@D)
	clang -g -O1 -std=gnu11 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined \
	  -o $@ $(NETCTRL_FUZZ_SRC) -lpthread

all: $(BUILD)/tests/replay-net-ctrl
$(BUILD)/tests/replay-net-ctrl: $(NETCTRL_FUZZ_SRC) fuzz/run_corpus.c $(NETCTRL_FUZZ_HDR)
	@mkdir -p $(@D)
	$(CC) -g -O1 -std=gnu11 -D_GNU_SOURCE -Isrc -Wall -Wextra -Werror \
	  -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	  -o $@ $(NETCTRL_FUZZ_SRC) fuzz/run_corpus.c -lpthread
