# vsrv img's benchmark (`make bench`): bench/img-convert.sh, convert and read against qemu-img.

.PHONY: bench-img
bench: bench-img
bench-img: all
	@bash bench/img-convert.sh
