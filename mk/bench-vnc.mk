# The VNC server's CPU per full raw update, its relay's copies apart (bench/vnc_updates.c, on
# the tests' rig): `make bench-vnc`.
VNC_BENCH := $(BUILD)/bench/vnc_updates
$(VNC_BENCH): bench/vnc_updates.c tests/unit/vncrig.h tests/unit/vncraw.h \
		$(filter-out $(BUILD)/src/main.o,$(VSRV_OBJ)) $(LIBVHD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< \
		$(filter-out $(BUILD)/src/main.o,$(VSRV_OBJ)) $(LIBVHD) $(LDLIBS)
bench-vnc: all $(VNC_BENCH)
	$(VNC_BENCH) 300
.PHONY: bench-vnc

# The memory N idle viewers of one VM cost (bench/vnc_viewers.c): `make bench-vnc-viewers`.
VNC_VIEWERS_BENCH := $(BUILD)/bench/vnc_viewers
$(VNC_VIEWERS_BENCH): bench/vnc_viewers.c tests/unit/vncrig.h tests/unit/vncraw.h \
		$(filter-out $(BUILD)/src/main.o,$(VSRV_OBJ)) $(LIBVHD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< \
		$(filter-out $(BUILD)/src/main.o,$(VSRV_OBJ)) $(LIBVHD) $(LDLIBS)
bench-vnc-viewers: all $(VNC_VIEWERS_BENCH)
	$(VNC_VIEWERS_BENCH) 16
.PHONY: bench-vnc-viewers
