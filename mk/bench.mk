# Benchmarks (`make bench`, not part of `make test`). The launch benchmark: vsrv run versus
# QEMU microvm versus the KVM floor, booting the hello guest (bench/launch.sh).
BENCH_DIR := $(BUILD)/bench

$(BENCH_DIR)/%: bench/%.c
	@mkdir -p $(@D)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

bench-launch: all $(BENCH_DIR)/kvm_floor $(BENCH_DIR)/spawn
	@BUILD=$(BUILD) bash bench/launch.sh
.PHONY: bench-launch
bench: bench-launch

# Contended variants (issue 18): every device benchmark runs its rounds quiet and then under
# each load of BENCH_CONTEND (bench/lib/contend.sh): "busy guests" by default, "busy" for the
# busy loops only, "" for quiet figures only (`make bench BENCH_CONTEND=`).
