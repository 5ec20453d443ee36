#include "devices/fw_cfg.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "devices/host.h"
#include "vmm/mem.h"

#define KEY_INDEX_MASK 0x3fff  /* without the arch flag and the old write flag (0x4000) */
#define DMA_ACCESS_LEN 16

struct item {
	uint8_t *data;
	uint32_t len;
	bool present;
	bool writable;
	fw_cfg_write_fn on_write;
	void *opaque;
	char name[FW_CFG_NAME_MAX];  /* files only */
};

struct fw_cfg {
	pthread_mutex_t lock;
	struct guest_mem *mem;
	struct bus *pio;
	int registered;             /* how many of the two port ranges are registered */
	struct fw_cfg_state st;
	struct item legacy[FW_CFG_LEGACY_MAX];
	struct item arch[FW_CFG_LEGACY_MAX];
	struct item files[FW_CFG_MAX_FILES];  /* sorted by name */
	unsigned nr_files;
};

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The item key selects, or NULL when no item has that key. Under lock (or before the
 * vCPUs run). */
static struct item *item_of(struct fw_cfg *fw, uint16_t key)
{
	unsigned i = key & KEY_INDEX_MASK;
	struct item *it;

	if (key & FW_CFG_ARCH_LOCAL)
		it = i < FW_CFG_LEGACY_MAX ? &fw->arch[i] : NULL;
	else if (i < FW_CFG_LEGACY_MAX)
		it = &fw->legacy[i];
	else
		it = i - FW_CFG_FILE_FIRST < fw->nr_files ? &fw->files[i - FW_CFG_FILE_FIRST] : NULL;
	return it && it->present ? it : NULL;
}

static int item_set(struct item *it, const void *data, uint32_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, data, len);
	free(it->data);
	it->data = copy;
	it->len = len;
	it->present = true;
	return 0;
}

/* Key 0x19: be32 count, then per file {be32 size, be16 key, be16 0, name[56]}. */
static int dir_rebuild(struct fw_cfg *fw)
{
	uint32_t len = 4 + 64 * fw->nr_files;
	uint8_t *d = calloc(1, len);
	struct item *dir = &fw->legacy[FW_CFG_FILE_DIR];

	if (!d)
		return -ENOMEM;
	put_be32(d, fw->nr_files);
	for (unsigned i = 0; i < fw->nr_files; i++) {
		uint8_t *e = d + 4 + 64 * i;
		uint16_t key = (uint16_t)(FW_CFG_FILE_FIRST + i);

		put_be32(e, fw->files[i].len);
		e[4] = (uint8_t)(key >> 8);
		e[5] = (uint8_t)key;
		memcpy(e + 8, fw->files[i].name, FW_CFG_NAME_MAX);
	}
	free(dir->data);
	dir->data = d;
	dir->len = len;
	dir->present = true;
	return 0;
}

/* ---- the transfer ---- */

/* Run one DMA transfer: control/length/address as decoded from the access struct. Returns
 * the control word to write back. Under lock. */
static uint32_t dma_transfer(struct fw_cfg *fw, uint32_t control, uint32_t length,
			     uint64_t addr)
{
	enum { OP_READ, OP_WRITE, OP_SKIP } op;
	struct item *it;

	if (control & FW_CFG_DMA_SELECT) {
		fw->st.selector = (uint16_t)(control >> 16);
		fw->st.offset = 0;
	}
	if (control & FW_CFG_DMA_READ)
		op = OP_READ;
	else if (control & FW_CFG_DMA_WRITE)
		op = OP_WRITE;
	else if (control & FW_CFG_DMA_SKIP)
		op = OP_SKIP;
	else
		return 0;
	it = item_of(fw, fw->st.selector);
	while (length) {
		uint32_t avail = it && fw->st.offset < it->len ? it->len - fw->st.offset : 0;
		uint32_t n = avail && avail < length ? avail : length;
		uint8_t *p = NULL;

		if (op == OP_READ || op == OP_WRITE) {
			p = guest_mem_ptr(fw->mem, addr, n);
			if (!p)
				return FW_CFG_DMA_ERROR;
		}
		if (op == OP_READ) {
			if (avail)
				memcpy(p, it->data + fw->st.offset, n);
			else
				memset(p, 0, n);
			guest_mem_track(fw->mem, p, n);
		} else if (op == OP_WRITE) {
			/* Only inside a writable item, all of it at once (as QEMU). */
			if (!avail || !it->writable || n != length)
				return FW_CFG_DMA_ERROR;
			memcpy(it->data + fw->st.offset, p, n);
			if (it->on_write)
				it->on_write(it->opaque, it->data, fw->st.offset, n);
		}
		if (avail)
			fw->st.offset += n;
		addr += n;
		length -= n;
	}
	return 0;
}

/* The guest wrote the low half of the DMA address (or all of it): read the access struct,
 * run it, write the control word back. Under lock. */
static void dma_run(struct fw_cfg *fw)
{
	uint64_t at = fw->st.dma_addr, addr = 0;
	uint8_t acc[DMA_ACCESS_LEN], *p;
	uint32_t control;

	fw->st.dma_addr = 0;  /* the next access starts from 0, as SeaBIOS expects */
	p = guest_mem_ptr(fw->mem, at, DMA_ACCESS_LEN);
	if (!p) {
		/* Report the error if at least the control word is RAM. */
		p = guest_mem_ptr(fw->mem, at, 4);
		if (p) {
			put_be32(p, FW_CFG_DMA_ERROR);
			guest_mem_track(fw->mem, p, 4);
		}
		return;
	}
	memcpy(acc, p, sizeof(acc));  /* once: the guest may change it meanwhile */
	for (int i = 0; i < 8; i++)
		addr = addr << 8 | acc[8 + i];
	control = dma_transfer(fw, get_be32(acc), get_be32(acc + 4), addr);
	put_be32(p, control);
	guest_mem_track(fw->mem, p, 4);
}

/* ---- the ports ---- */

/* 0x510-0x511: a 16-bit write selects; byte reads read data (at either port, as QEMU's
 * combined region); data writes and other widths are ignored. */
static void fw_cfg_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct fw_cfg *fw = opaque;
	struct item *it;

	pthread_mutex_lock(&fw->lock);
	if (is_write) {
		if (len == 2 && off == 0) {
			fw->st.selector = (uint16_t)(data[0] | data[1] << 8);
			fw->st.offset = 0;
		}
	} else if (len == 1) {
		it = item_of(fw, fw->st.selector);
		if (it && fw->st.offset < it->len)
			data[0] = it->data[fw->st.offset++];
		else
			data[0] = 0;
	} else {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&fw->lock);
}

/* 0x514-0x51b: the DMA address, big-endian; reads give "QEMU CFG". */
static void fw_cfg_dma_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
			  bool is_write)
{
	static const char sig[8] = FW_CFG_DMA_SIGNATURE;
	struct fw_cfg *fw = opaque;
	uint64_t v = 0;

	if (!is_write) {
		for (uint32_t i = 0; i < len; i++)
			data[i] = off + i < 8 ? (uint8_t)sig[off + i] : 0;
		return;
	}
	for (uint32_t i = 0; i < len && i < 8; i++)
		v = v << 8 | data[i];
	pthread_mutex_lock(&fw->lock);
	if (len == 4 && off == 0) {
		fw->st.dma_addr = v << 32;
	} else if (len == 4 && off == 4) {
		fw->st.dma_addr |= v;
		dma_run(fw);
	} else if (len == 8 && off == 0) {
		fw->st.dma_addr = v;
		dma_run(fw);
	}
	pthread_mutex_unlock(&fw->lock);
}

/* ---- set-up ---- */

int fw_cfg_create(const struct device_host *h, struct guest_mem *mem, struct fw_cfg **out)
{
	struct fw_cfg *fw = calloc(1, sizeof(*fw));
	static const uint8_t id[4] = { FW_CFG_VERSION | FW_CFG_VERSION_DMA }; /* le32 */
	int ret;

	if (!fw)
		return -ENOMEM;
	pthread_mutex_init(&fw->lock, NULL);
	fw->mem = mem;
	ret = item_set(&fw->legacy[FW_CFG_SIGNATURE], "QEMU", 4);
	if (!ret)
		ret = item_set(&fw->legacy[FW_CFG_ID], id, sizeof(id));
	if (!ret)
		ret = dir_rebuild(fw);
	fw->pio = h->pio;
	if (!ret)
		ret = bus_register(h->pio, FW_CFG_PORT_SEL, 2, fw_cfg_io, fw, "fw_cfg");
	if (!ret) {
		fw->registered++;
		ret = bus_register(h->pio, FW_CFG_PORT_DMA, 8, fw_cfg_dma_io, fw, "fw_cfg-dma");
	}
	if (ret) {
		fw_cfg_destroy(fw);
		return ret;
	}
	fw->registered++;
	*out = fw;
	return 0;
}

void fw_cfg_destroy(struct fw_cfg *fw)
{
	if (!fw)
		return;
	if (fw->registered > 1)
		bus_unregister(fw->pio, FW_CFG_PORT_DMA);
	if (fw->registered > 0)
		bus_unregister(fw->pio, FW_CFG_PORT_SEL);
	for (unsigned i = 0; i < FW_CFG_LEGACY_MAX; i++) {
		free(fw->legacy[i].data);
		free(fw->arch[i].data);
	}
	for (unsigned i = 0; i < fw->nr_files; i++)
		free(fw->files[i].data);
	pthread_mutex_destroy(&fw->lock);
	free(fw);
}

int fw_cfg_add_item(struct fw_cfg *fw, uint16_t key, const void *data, uint32_t len)
{
	unsigned i = key & ~FW_CFG_ARCH_LOCAL;
	struct item *it;
	int ret;

	if (i >= FW_CFG_LEGACY_MAX || (len && !data))
		return -EINVAL;
	if (!(key & FW_CFG_ARCH_LOCAL) &&
	    (i == FW_CFG_SIGNATURE || i == FW_CFG_ID || i == FW_CFG_FILE_DIR))
		return -EINVAL;
	it = key & FW_CFG_ARCH_LOCAL ? &fw->arch[i] : &fw->legacy[i];
	pthread_mutex_lock(&fw->lock);
	ret = item_set(it, data, len);
	pthread_mutex_unlock(&fw->lock);
	return ret;
}

int fw_cfg_add_i16(struct fw_cfg *fw, uint16_t key, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	return fw_cfg_add_item(fw, key, b, sizeof(b));
}

int fw_cfg_add_i32(struct fw_cfg *fw, uint16_t key, uint32_t v)
{
	uint8_t b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return fw_cfg_add_item(fw, key, b, sizeof(b));
}

int fw_cfg_add_i64(struct fw_cfg *fw, uint16_t key, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return fw_cfg_add_item(fw, key, b, sizeof(b));
}

static int add_file(struct fw_cfg *fw, const char *name, const void *data, uint32_t len,
		    bool writable, fw_cfg_write_fn on_write, void *opaque)
{
	size_t nlen = name ? strnlen(name, FW_CFG_NAME_MAX) : 0;
	struct item it = { 0 };
	unsigned pos;
	int ret;

	if (!nlen || nlen >= FW_CFG_NAME_MAX || (len && !data))
		return -EINVAL;
	pthread_mutex_lock(&fw->lock);
	for (pos = 0; pos < fw->nr_files; pos++) {
		int c = strcmp(name, fw->files[pos].name);
		if (!c) {
			ret = -EEXIST;
			goto out;
		}
		if (c < 0)
			break;
	}
	ret = -ENOSPC;
	if (fw->nr_files == FW_CFG_MAX_FILES)
		goto out;
	ret = item_set(&it, data, len);
	if (ret)
		goto out;
	memcpy(it.name, name, nlen);
	it.writable = writable;
	it.on_write = on_write;
	it.opaque = opaque;
	memmove(&fw->files[pos + 1], &fw->files[pos], (fw->nr_files - pos) * sizeof(it));
	fw->files[pos] = it;
	fw->nr_files++;
	ret = dir_rebuild(fw);
	if (ret) {  /* undo: the directory must describe the files */
		free(it.data);
		fw->nr_files--;
		memmove(&fw->files[pos], &fw->files[pos + 1], (fw->nr_files - pos) * sizeof(it));
	}
out:
	pthread_mutex_unlock(&fw->lock);
	return ret;
}

int fw_cfg_add_file(struct fw_cfg *fw, const char *name, const void *data, uint32_t len)
{
	return add_file(fw, name, data, len, false, NULL, NULL);
}

int fw_cfg_add_file_writable(struct fw_cfg *fw, const char *name, const void *data,
			     uint32_t len, fw_cfg_write_fn on_write, void *opaque)
{
	return add_file(fw, name, data, len, true, on_write, opaque);
}

int fw_cfg_file_key(struct fw_cfg *fw, const char *name)
{
	int key = -ENOENT;

	pthread_mutex_lock(&fw->lock);
	for (unsigned i = 0; i < fw->nr_files; i++)
		if (!strncmp(name, fw->files[i].name, FW_CFG_NAME_MAX)) {
			key = FW_CFG_FILE_FIRST + (int)i;
			break;
		}
	pthread_mutex_unlock(&fw->lock);
	return key;
}

int fw_cfg_file_read(struct fw_cfg *fw, const char *name, void *buf, uint32_t max)
{
	int key = fw_cfg_file_key(fw, name), ret;
	struct item *it;

	if (key < 0)
		return key;
	pthread_mutex_lock(&fw->lock);
	it = &fw->files[key - FW_CFG_FILE_FIRST];
	if (max && it->len)
		memcpy(buf, it->data, it->len < max ? it->len : max);
	ret = (int)it->len;
	pthread_mutex_unlock(&fw->lock);
	return ret;
}

void fw_cfg_reset(struct fw_cfg *fw)
{
	pthread_mutex_lock(&fw->lock);
	memset(&fw->st, 0, sizeof(fw->st));
	pthread_mutex_unlock(&fw->lock);
}

void fw_cfg_save(struct fw_cfg *fw, struct fw_cfg_state *st)
{
	pthread_mutex_lock(&fw->lock);
	*st = fw->st;
	pthread_mutex_unlock(&fw->lock);
}

static uint32_t digest_item(uint32_t c, uint16_t key, const struct item *it, uint32_t *n)
{
	uint8_t h[6] = { (uint8_t)key, (uint8_t)(key >> 8), (uint8_t)it->len,
			 (uint8_t)(it->len >> 8), (uint8_t)(it->len >> 16),
			 (uint8_t)(it->len >> 24) };

	if (!it->present)
		return c;
	(*n)++;
	c = (uint32_t)crc32(c, h, sizeof(h));
	return it->len ? (uint32_t)crc32(c, it->data, it->len) : c;
}

void fw_cfg_digest(struct fw_cfg *fw, uint32_t *crc, uint32_t *items)
{
	uint32_t c = (uint32_t)crc32(0, NULL, 0), n = 0;
	unsigned i;

	pthread_mutex_lock(&fw->lock);
	for (i = 0; i < FW_CFG_LEGACY_MAX; i++)
		c = digest_item(c, (uint16_t)i, &fw->legacy[i], &n);
	for (i = 0; i < FW_CFG_LEGACY_MAX; i++)
		c = digest_item(c, (uint16_t)(FW_CFG_ARCH_LOCAL | i), &fw->arch[i], &n);
	for (i = 0; i < fw->nr_files; i++)
		c = digest_item(c, (uint16_t)(FW_CFG_FILE_FIRST + i), &fw->files[i], &n);
	pthread_mutex_unlock(&fw->lock);
	*crc = c;
	*items = n;
}

int fw_cfg_state_check(const struct fw_cfg_state *st)
{
	return st->reserved ? -EINVAL : 0;
}

int fw_cfg_restore(struct fw_cfg *fw, const struct fw_cfg_state *st)
{
	if (fw_cfg_state_check(st))
		return -EINVAL;
	pthread_mutex_lock(&fw->lock);
	fw->st = *st;
	pthread_mutex_unlock(&fw->lock);
	return 0;
}
