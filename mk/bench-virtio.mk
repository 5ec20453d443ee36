# virtio benchmarks (`make bench`): bench/virtio-blk.py boots build/guests/vbench.elf under
# vsrv run and QEMU microvm on one raw image (O_DIRECT), with fio on the file as the floor.
# bench/virtio-net.sh: two VMs on a bridge, and one VM echoed over its TAP by bench/tap_echo.c.
.PHONY: bench-virtio
bench: bench-virtio
bench-virtio: all
	@BUILD=$(BUILD) python3 bench/virtio-blk.py
bench-virtio: bench-virtio-net
.PHONY: bench-virtio-net
bench-virtio-net: all $(BUILD)/bench/tap_echo
	@BUILD=$(BUILD) bash bench/virtio-net.sh
