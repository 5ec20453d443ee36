# The virtual server: its own binary, build/vsrv-server, so that the libraries only it needs
# (SQLite, libmicrohttpd + GnuTLS, libargon2, OpenSSL, libcurl) are never loaded by
# `vsrv run`: linking them into build/vsrv measured +3.0 ms per process start (0.9 ms ->
# 3.9 ms, perf stat -r 300), against a 3 ms floor for a whole VM launch.
# `vsrv serve|vm|disk|net|user|events|login|logout` exec build/vsrv-server (src/cli/server_exec.c).
# The per-VM supervisor shim, src/cli/monitor.c (libc only), is in build/vsrv.

SERVER_BIN := $(BUILD)/vsrv-server

# Sources of the server binary: src/server/ (the daemon) and src/client/ (the API client).
SERVER_SRC := $(sort $(wildcard src/server/*.c src/client/*.c))
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
# What the server shares with vsrv: the utilities, the disk layer (with libvhd) and the
# kernel probe of src/arch/x86/boot_probe.c (a VM's kernel is checked at create).
SERVER_SHARED_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard src/util/*.c src/disk/*.c)) \
                       src/arch/x86/boot_probe.c)
# (libdl: the shared disk layer loads libqcow, libvmdk and libvhdi, its readers of foreign
# formats, when an image of theirs is opened: src/disk/yal_load.c)
SERVER_LDLIBS := -lsqlite3 -lmicrohttpd -ljansson -largon2 -lcrypto -lcurl -lpthread -lwslay \
                 -ldl

all: $(SERVER_BIN)

$(SERVER_BIN): $(SERVER_OBJ) $(SERVER_SHARED_OBJ) $(LIBVHD)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(SERVER_OBJ) $(SERVER_SHARED_OBJ) $(LIBVHD) $(SERVER_LDLIBS)

# Unit tests of the server's modules: tests/unit/server_NAME.c -> build/tests/unit-server-NAME.
SERVER_UNIT_SRC  := $(sort $(wildcard tests/unit/server_*.c))
SERVER_UNIT_BINS := $(patsubst tests/unit/server_%.c,$(BUILD)/tests/unit-server-%,$(SERVER_UNIT_SRC))
SERVER_LIBOBJ    := $(filter-out $(BUILD)/src/server/main.o,$(SERVER_OBJ))
all: $(SERVER_UNIT_BINS)
$(BUILD)/tests/unit-server-%: tests/unit/server_%.c $(SERVER_LIBOBJ) $(SERVER_SHARED_OBJ) $(LIBVHD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(SERVER_LIBOBJ) $(SERVER_SHARED_OBJ) $(LIBVHD) $(SERVER_LDLIBS)

bench: bench-api
.PHONY: bench-api
bench-api: all
	@bash bench/api-bench

-include $(SERVER_OBJ:.o=.d) $(SERVER_UNIT_BINS:=.d)

# docs/api.yaml is built into the server (.incbin in src/server/openapi.c).
$(BUILD)/src/server/openapi.o: docs/api.yaml
