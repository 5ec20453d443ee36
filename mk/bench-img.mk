# vsrv img: its JSON output uses jansson (Debian libjansson-dev, in mk/deps.sh's build group),
# and `make bench` runs its benchmark (bench/img-convert.sh: convert and read against qemu-img).
LDLIBS += -ljansson

.PHONY: bench-img
bench: bench-img
bench-img: all
	@bash bench/img-convert.sh
