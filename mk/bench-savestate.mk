# Save/restore benchmark (`make bench`): vsrv save and run --restore versus QEMU's migrate
# to a file and -incoming from it, on a 128 MiB guest (bench/savestate.sh).
bench-savestate: all
	@BUILD=$(BUILD) bash bench/savestate.sh
.PHONY: bench-savestate
bench: bench-savestate
