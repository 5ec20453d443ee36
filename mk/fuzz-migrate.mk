# The live-migration receiver under libFuzzer (`make fuzz`: build-fuzz/fuzz-migrate; run it as
# build-fuzz/fuzz-migrate -max_len=300000 NEW_DIR fuzz/corpus/migrate) and its ASan/UBSan
# corpus replayer, which `make` builds for tests/t-migrate-fuzz.sh. Both are built with
# FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION: CRCs are not compared, so inputs reach the checks
# behind them (the real receiver's CRC refusals are tested by tests/t-migrate-fuzz.sh's
# mutants against build/vsrv).
MIGRATE_FUZZ_SRC := fuzz/migrate.c src/vmm/migrate_stream.c src/vmm/savestate_file.c
MIGRATE_FUZZ_HDR := src/vmm/migrate_stream.h src/vmm/savestate_file.h src/devices/virtio/devstate.h \
                    src/arch/x86/cpu_state.h

# The parser knows the device kinds of this build (src/devices/virtio/kinds.c: their ids
# and state sizes), so it is linked with the VMM's other objects (built by `make all`).
# This file is read before mk/sandbox.mk takes its generator out of VSRV_OBJ.
MIGRATE_FUZZ_OBJ = $(filter-out $(BUILD)/src/main.o $(BUILD)/src/vmm/sandbox_rules.o \
  $(BUILD)/src/vmm/savestate_file.o $(BUILD)/src/vmm/migrate_stream.o,$(VSRV_OBJ)) $(LIBVHD)

fuzz: build-fuzz/fuzz-migrate
build-fuzz/fuzz-migrate: $(MIGRATE_FUZZ_SRC) $(MIGRATE_FUZZ_HDR) $(MIGRATE_FUZZ_OBJ)
	@mkdir -p $(@D)
	clang -g -O1 -std=gnu11 -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -Isrc -Ilib \
	  -fsanitize=fuzzer,address,undefined -o $@ $(MIGRATE_FUZZ_SRC) $(MIGRATE_FUZZ_OBJ) $(LDLIBS)

all: $(BUILD)/tests/replay-migrate
$(BUILD)/tests/replay-migrate: $(MIGRATE_FUZZ_SRC) fuzz/run_corpus.c $(MIGRATE_FUZZ_HDR) $(MIGRATE_FUZZ_OBJ)
	@mkdir -p $(@D)
	$(CC) -g -O1 -std=gnu11 -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -Isrc -Ilib \
	  -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	  -fno-omit-frame-pointer -o $@ $(MIGRATE_FUZZ_SRC) fuzz/run_corpus.c $(MIGRATE_FUZZ_OBJ) $(LDLIBS)
