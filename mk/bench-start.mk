# The start-up benchmark (`make bench`): bench/start.sh, a vsrv command's start and exit
# (--version, img info, the VMM up to its guest) beside qemu-img's and QEMU's.
.PHONY: bench-start
bench: bench-start
bench-start: all $(BUILD)/bench/spawn
	@BUILD=$(BUILD) bash bench/start.sh
