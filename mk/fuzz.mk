# libvhd fuzzing (fuzz/):
#   make fuzz          build build-fuzz/fuzz_vhd (clang libFuzzer + ASan/UBSan)
#   make fuzz-run      run it for FUZZ_SECONDS (default 60) over a copy of the seed corpus
#   make fuzz-seeds    regenerate fuzz/corpus/vhd from fuzz/mkseeds.c
# The test suite replays the corpus through $(BUILD)/tests/fuzz-vhd-replay, a gcc
# ASan/UBSan build of the same target (tests/t-vhd-fuzz.sh).
FUZZ_CC      ?= clang
FUZZ_BUILD   := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

.PHONY: fuzz-run fuzz-seeds
fuzz: $(FUZZ_BUILD)/fuzz_vhd

$(FUZZ_BUILD)/fuzz_vhd: fuzz/fuzz_vhd.c $(LIBVHD_SRC) $(wildcard lib/vhd/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Ilib -fsanitize=fuzzer $(FUZZ_SAN) \
	  -o $@ fuzz/fuzz_vhd.c $(LIBVHD_SRC) -lpthread

fuzz-run: $(FUZZ_BUILD)/fuzz_vhd
	@mkdir -p $(FUZZ_BUILD)/corpus && cp -n fuzz/corpus/vhd/* $(FUZZ_BUILD)/corpus/ 2>/dev/null || true
	$(FUZZ_BUILD)/fuzz_vhd -max_total_time=$(FUZZ_SECONDS) -max_len=65536 $(FUZZ_BUILD)/corpus fuzz/corpus/vhd

fuzz-seeds: $(LIBVHD)
	@mkdir -p $(FUZZ_BUILD) fuzz/corpus/vhd
	$(CC) $(CFLAGS) -o $(FUZZ_BUILD)/mkseeds fuzz/mkseeds.c $(LIBVHD) -lpthread
	$(FUZZ_BUILD)/mkseeds fuzz/corpus/vhd

# The replay binary for the test suite (gcc, sanitizers always on).
all: $(BUILD)/tests/fuzz-vhd-replay
$(BUILD)/tests/fuzz-vhd-replay: fuzz/fuzz_vhd.c fuzz/run_corpus.c $(LIBVHD_SRC) $(wildcard lib/vhd/*.h)
	@mkdir -p $(@D)
	$(CC) -g -O1 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Ilib $(FUZZ_SAN) \
	  -o $@ fuzz/fuzz_vhd.c fuzz/run_corpus.c $(LIBVHD_SRC) -lpthread
