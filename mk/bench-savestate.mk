# Save/restore benchmark (`make bench`): vsrv save and run --restore versus QEMU's migrate
# to a file and -incoming from it, on a 128 MiB guest (bench/savestate.sh).
bench-savestate: all
	@BUILD=$(BUILD) bash bench/savestate.sh
.PHONY: bench-savestate
bench: bench-savestate

# Where a save's and a restore's time goes without KVM (bench/savestate_file.c):
# savestate_write of a 128 MiB guest memory with a realistic page mix against writing the
# same bytes from one buffer, with and without fsync, the parts (zero scan, CRC); the file
# restored mapped lazily or read. Linked with vsrv's objects.
$(BUILD)/bench/savestate_file: bench/savestate_file.c $(filter-out $(BUILD)/src/main.o,$(VSRV_OBJ)) $(LIBVHD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(filter-out $(BUILD)/src/main.o,$(VSRV_OBJ)) $(LIBVHD) $(LDLIBS)
bench-savestate-file: $(BUILD)/bench/savestate_file
	@$(BUILD)/bench/savestate_file
.PHONY: bench-savestate-file
bench: bench-savestate-file
