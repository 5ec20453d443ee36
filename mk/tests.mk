# Unit tests: tests/unit/test_NAME.c becomes build/tests/unit-NAME, linked with every
# object of vsrv but its main() and with libvhd. tests/run runs them.
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/test_%.c,$(BUILD)/tests/unit-%,$(UNIT_SRC))
VSRV_LIBOBJ := $(filter-out $(BUILD)/src/main.o,$(VSRV_OBJ))

all: $(UNIT_BINS)

$(BUILD)/tests/unit-%: tests/unit/test_%.c $(VSRV_LIBOBJ) $(LIBVHD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(VSRV_LIBOBJ) $(LIBVHD) $(LDLIBS)

-include $(UNIT_BINS:=.d)

# The server's media change against the VMM's control socket (tests/unit/vmcd_media.c): one
# binary with the server's objects and the VMM's (they share util/ and disk/: the VMM's set).
VMCD_UNIT := $(BUILD)/tests/unit-server-vmcd-media
all: $(VMCD_UNIT)
$(VMCD_UNIT): tests/unit/vmcd_media.c $(SERVER_LIBOBJ) $(VSRV_LIBOBJ) $(LIBVHD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(SERVER_LIBOBJ) $(VSRV_LIBOBJ) $(LIBVHD) \
		$(SERVER_LDLIBS) $(LDLIBS)
-include $(VMCD_UNIT).d

# Dynamic memory's loop against the VMM's balloon and control socket (tests/unit/dynmem_loop.c):
# the same two sets of objects.
DYNMEM_LOOP_UNIT := $(BUILD)/tests/unit-server-dynmem-loop
all: $(DYNMEM_LOOP_UNIT)
$(DYNMEM_LOOP_UNIT): tests/unit/dynmem_loop.c $(SERVER_LIBOBJ) $(VSRV_LIBOBJ) $(LIBVHD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(SERVER_LIBOBJ) $(VSRV_LIBOBJ) $(LIBVHD) \
		$(SERVER_LDLIBS) $(LDLIBS)
-include $(DYNMEM_LOOP_UNIT).d

# The VNC server's tests connect with LibVNCClient (libvncserver-dev's other half).
$(BUILD)/tests/unit-vnc $(BUILD)/tests/unit-vnc_hostile: LDLIBS += -lvncclient
