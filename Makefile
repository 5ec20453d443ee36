# vsrv — top-level build. `make` builds build/vsrv, build/vsrv-server, the test guests, the unit
# tests and the fuzz corpus replayers; see README.md. This file owns build/vsrv and libvhd.a;
# each fragment mk/*.mk owns its own outputs (server.mk build/vsrv-server, guests.mk the test
# guests, fuzz.mk the fuzz targets, tests.mk the unit tests, ...).

# a recipe that fails leaves no half-written target behind (a failed link is not "up to date")
.DELETE_ON_ERROR:
# and no file is deleted as an intermediate (the test guests' objects were, so that every
# `make` built them again): a second `make` has nothing to do
.SECONDARY:

CC      ?= gcc
NPROC   := $(shell nproc 2>/dev/null || echo 2)
BUILD   ?= build
SAN     ?=
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
           -Isrc -Ilib -MMD -MP -fno-strict-aliasing $(SAN)
LDFLAGS += $(SAN) -Wl,--as-needed

# The VHD library: no dependency but libc.
LIBVHD_SRC := $(sort $(wildcard lib/vhd/*.c))
LIBVHD_OBJ := $(LIBVHD_SRC:%.c=$(BUILD)/%.o)
LIBVHD     := $(BUILD)/libvhd.a

# build/vsrv: every source under src/ except src/server/ (the daemon) and src/client/ (its
# API client), the two folders of build/vsrv-server (mk/server.mk), and except
# src/vmm/sandbox_rules.c, the seccomp rules that mk/sandbox.mk compiles into BPF.
VSRV_SRC := $(filter-out src/server/% src/client/% src/vmm/sandbox_rules.c,\
              $(sort $(shell find src -name '*.c')))
VSRV_OBJ := $(VSRV_SRC:%.c=$(BUILD)/%.o)
VSRV     := $(BUILD)/vsrv
# Its libraries (Debian packages in mk/deps.sh's build group): io_uring (virtio-blk), zlib
# (the e1000's frame CRC), jansson (the control socket's JSON lines, `vsrv img --output
# json`), libdl (libraries loaded with dlopen, only by the processes that use them: libslirp
# for --net user, and libqcow, libvmdk, libvhdi, with which the disk layer reads qcow2, VMDK
# and VHDX images, when one is opened: src/disk/yal_load.c; their -dev packages give the
# headers; and LibVNCServer with libgcrypt, which it uses and vnc.c initializes, when a VM
# serves VNC: src/vmm/vnc_load.c), pthread,
# libspng (the control socket's screenshot as a PNG: src/vmm/screenshot.c; it needs only
# zlib), libresolv (glibc's, for its base64 encoder b64_ntop: the screenshot's PNG in
# JSON), and libdeflate (the CRC32 of saved-VM files and migration streams:
# zlib's values, computed with the CPU's carry-less multiply; src/vmm/savestate_file.c), and
# wslay (a VNC WebSocket client's frames, decoded so that LibVNCServer gets whole messages:
# src/vmm/vnc_ws.c; libc only, as the server links it).
# The unit tests and the fuzz targets that link vsrv's objects take the same list.
LDLIBS  += -luring -lz -ljansson -ldl -lpthread -lspng -lresolv -ldeflate -lwslay

.PHONY: all deps test-deps run test test-prep asan asan-test bench fuzz clean
all: $(VSRV)

# Hooks that mk/*.mk extend with prerequisites of their own:
#   test-prep  built by `make test` before the tests run (the ASan builds that the hostile-input
#              tests also run against, the Linux test kernel)
#   bench      each benchmark is one prerequisite (`make bench`)
#   fuzz       each libFuzzer target is one prerequisite (`make fuzz`)
test-prep: all asan-test
bench: all
fuzz:

# Sub-makefiles (each owned by one part of the project) extend these.
include $(sort $(wildcard mk/*.mk))

$(LIBVHD): $(LIBVHD_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(VSRV): $(VSRV_OBJ) $(LIBVHD)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(VSRV_OBJ) $(LIBVHD) $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# Debian packages: installed only when missing (see mk/deps.sh).
deps:
	@bash mk/deps.sh build
test-deps:
	@bash mk/deps.sh build test

run: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@bash mk/run.sh

# (one make for all and test-prep: the ASan build and the guests are made while the last of
# `all` is linked, on every CPU)
test: test-deps
	@$(MAKE) --no-print-directory -j$(NPROC) test-prep
	@bash tests/run $(T)

# AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/.
ASAN_VARS = BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
asan:
	@$(MAKE) --no-print-directory $(ASAN_VARS) all
# Of it, what the tests run (`make test`): build-asan/vsrv (t-run-asan, t-img-bad, t-img-foreign,
# t-virtio-evil, t-virtio-netctl) and the unit tests of t-virtio-state-asan (unit-device_state,
# unit-virtio_*) and t-vnc (unit-vnc, unit-vnc_hostile, unit-vnc_stall, unit-vnc_ws); not the
# server, the guests or the other unit tests, which no test runs from build-asan/.
ASAN_TEST_BINS := vsrv tests/unit-device_state tests/unit-vnc tests/unit-vnc_hostile tests/unit-vnc_stall \
	tests/unit-vnc_ws \
	$(patsubst tests/unit/test_%.c,tests/unit-%,$(wildcard tests/unit/test_virtio_*.c))
asan-test:
	@$(MAKE) --no-print-directory $(ASAN_VARS) $(addprefix build-asan/,$(ASAN_TEST_BINS))

clean:
	rm -rf build build-asan build-fuzz

-include $(VSRV_OBJ:.o=.d) $(LIBVHD_OBJ:.o=.d)
