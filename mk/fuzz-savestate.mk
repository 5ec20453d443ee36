# The saved-VM file parser under libFuzzer (`make fuzz`: build-fuzz/fuzz-savestate; run it as
# build-fuzz/fuzz-savestate -max_len=300000 NEW_DIR fuzz/corpus/savestate) and its ASan/UBSan
# corpus replayer, which `make` builds for tests/t-savestate-fuzz.sh. Both are built with
# FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION: CRCs are not compared, so inputs reach the checks
# behind them (the real parser's CRC refusals are tested by tests/t-savestate.sh).
SAVESTATE_FUZZ_SRC := fuzz/savestate.c src/vmm/savestate_file.c
SAVESTATE_FUZZ_HDR := src/vmm/savestate_file.h src/devices/virtio/devstate.h src/arch/x86/cpu_state.h

# The parser knows the device kinds of this build (src/devices/virtio/kinds.c: their ids
# and state sizes), so it is linked with the VMM's other objects (built by `make all`).
# This file is read before mk/sandbox.mk takes its generator out of VSRV_OBJ.
SAVESTATE_FUZZ_OBJ = $(filter-out $(BUILD)/src/main.o $(BUILD)/src/vmm/sandbox_rules.o \
  $(BUILD)/src/vmm/savestate_file.o,$(VSRV_OBJ)) $(LIBVHD)

fuzz: build-fuzz/fuzz-savestate
build-fuzz/fuzz-savestate: $(SAVESTATE_FUZZ_SRC) $(SAVESTATE_FUZZ_HDR) $(SAVESTATE_FUZZ_OBJ)
	@mkdir -p $(@D)
	clang -g -O1 -std=gnu11 -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -Isrc -Ilib \
	  -fsanitize=fuzzer,address,undefined -o $@ $(SAVESTATE_FUZZ_SRC) $(SAVESTATE_FUZZ_OBJ) $(LDLIBS)

all: $(BUILD)/tests/replay-savestate
$(BUILD)/tests/replay-savestate: $(SAVESTATE_FUZZ_SRC) fuzz/run_corpus.c $(SAVESTATE_FUZZ_HDR) $(SAVESTATE_FUZZ_OBJ)
	@mkdir -p $(@D)
	$(CC) -g -O1 -std=gnu11 -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -Isrc -Ilib \
	  -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	  -fno-omit-frame-pointer -o $@ $(SAVESTATE_FUZZ_SRC) fuzz/run_corpus.c $(SAVESTATE_FUZZ_OBJ) $(LDLIBS)
