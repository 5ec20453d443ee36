# Live-migration benchmark (`make bench`): vsrv migrate to run --incoming versus QEMU's
# migrate to -incoming, on a 128 MiB guest over a Unix socket (bench/migrate.sh).
bench-migrate: all
	@BUILD=$(BUILD) bash bench/migrate.sh
.PHONY: bench-migrate
bench: bench-migrate
