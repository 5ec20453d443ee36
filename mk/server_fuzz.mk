# libFuzzer targets of the server's code that link the server's other objects (fuzz_target
# is mk/fuzz.mk's; this file is read after mk/server.mk, which defines them).

# The checks of what clients send and admins type: request bodies, names, free text, paths
# (server/valid.c), sizes (util/size.c), quotas as JSON and as --default-quota text
# (server/quota.c), each against a plain reference (tests/t-api-text-fuzz.sh; seeds:
# fuzz/api_text_seeds.py).
API_TEXT_SRC := src/server/valid.c src/util/size.c src/server/quota.c
$(eval $(call fuzz_target,api-text,fuzz/api_text.c $(API_TEXT_SRC),src/server/valid.h \
  src/util/size.h src/server/quota.h,$(filter-out $(BUILD)/src/server/main.o \
  $(API_TEXT_SRC:%.c=$(BUILD)/%.o),$(SERVER_OBJ) $(SERVER_SHARED_OBJ)) $(LIBVHD),\
  $(SERVER_LDLIBS)))

# An etcd Txn's range response as the inventory reads it: its kvs (base64 keys and values:
# server/etcd_kv.c, server/etcd_conn.c), each value then parsed as a row (tests/t-etcd-kv-fuzz.sh;
# seeds: fuzz/etcd_kv_seeds.py).
ETCD_KV_SRC := src/server/etcd_kv.c src/server/etcd_conn.c src/server/inv_etcd_json.c
$(eval $(call fuzz_target,etcd-kv,fuzz/etcd_kv.c $(ETCD_KV_SRC),src/server/etcd.h \
  src/server/etcd_int.h src/server/inv_etcd.h,$(filter-out $(BUILD)/src/server/main.o \
  $(ETCD_KV_SRC:%.c=$(BUILD)/%.o),$(SERVER_OBJ) $(SERVER_SHARED_OBJ)) $(LIBVHD),\
  $(SERVER_LDLIBS)))
