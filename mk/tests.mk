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
