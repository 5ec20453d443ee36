# Density benchmark (`make bench`): bench/density.py, N idle small Linux guests (10, 100, as
# many as fit) started through the server beside QEMU started by a script, KSM off and on.
# Without /dev/kvm it prints a SKIP line. BENCH_DENSITY_N="10 100 max" trims it.
.PHONY: bench-density
bench: bench-density
bench-density: all linux-guest
	@python3 bench/density.py
