# libvhd's test helpers: the crash-test writer/verifier (tests/t-vhd-crash.sh).
all: $(BUILD)/tests/vhd-crash-helper
$(BUILD)/tests/vhd-crash-helper: tests/vhd_crash_helper.c $(LIBVHD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBVHD) $(LDLIBS)
