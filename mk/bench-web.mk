# The web console's benchmark (`make bench`): bench/web-list.mjs, the VM list of 1,000 VMs
# in headless Chromium against the bare-table floor.

.PHONY: bench-web
bench: bench-web
bench-web: all
	@node bench/web-list.mjs
