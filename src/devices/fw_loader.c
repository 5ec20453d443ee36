#include "devices/fw_loader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int fail(struct fw_loader *l, int err)
{
	if (!l->err)
		l->err = err;
	return err;
}

static int name_ok(const char *s)
{
	size_t n = s ? strnlen(s, FW_LOADER_FILESZ) : 0;
	return n && n < FW_LOADER_FILESZ;
}

static int size_ok(uint8_t size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

/* A new zeroed command; NULL after recording -ENOMEM. */
static uint8_t *entry(struct fw_loader *l, uint32_t cmd)
{
	uint8_t *e;

	if (l->len + FW_LOADER_ENTRY_LEN > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16 * FW_LOADER_ENTRY_LEN;
		uint8_t *p = realloc(l->p, cap);

		if (!p) {
			fail(l, -ENOMEM);
			return NULL;
		}
		l->p = p;
		l->cap = cap;
	}
	e = l->p + l->len;
	memset(e, 0, FW_LOADER_ENTRY_LEN);
	put32(e, cmd);
	l->len += FW_LOADER_ENTRY_LEN;
	return e;
}

int fw_loader_allocate(struct fw_loader *l, const char *file, uint32_t align, uint8_t zone)
{
	uint8_t *e;

	if (!name_ok(file) || !align || (align & (align - 1)) ||
	    (zone != FW_LOADER_ZONE_HIGH && zone != FW_LOADER_ZONE_FSEG))
		return fail(l, -EINVAL);
	e = entry(l, FW_LOADER_ALLOCATE);
	if (!e)
		return -ENOMEM;
	strcpy((char *)e + FW_LOADER_ALLOC_FILE, file);
	put32(e + FW_LOADER_ALLOC_ALIGN, align);
	e[FW_LOADER_ALLOC_ZONE] = zone;
	return 0;
}

int fw_loader_add_pointer(struct fw_loader *l, const char *dest, uint32_t offset,
			  uint8_t size, const char *src)
{
	uint8_t *e;

	if (!name_ok(dest) || !name_ok(src) || !size_ok(size) || offset > UINT32_MAX - size)
		return fail(l, -EINVAL);
	e = entry(l, FW_LOADER_ADD_POINTER);
	if (!e)
		return -ENOMEM;
	strcpy((char *)e + FW_LOADER_PTR_DEST, dest);
	strcpy((char *)e + FW_LOADER_PTR_SRC, src);
	put32(e + FW_LOADER_PTR_OFFSET, offset);
	e[FW_LOADER_PTR_SIZE] = size;
	return 0;
}

int fw_loader_add_checksum(struct fw_loader *l, const char *file, uint32_t offset,
			   uint32_t start, uint32_t length)
{
	uint8_t *e;

	if (!name_ok(file) || start > UINT32_MAX - length)
		return fail(l, -EINVAL);
	e = entry(l, FW_LOADER_ADD_CHECKSUM);
	if (!e)
		return -ENOMEM;
	strcpy((char *)e + FW_LOADER_CKSUM_FILE, file);
	put32(e + FW_LOADER_CKSUM_OFFSET, offset);
	put32(e + FW_LOADER_CKSUM_START, start);
	put32(e + FW_LOADER_CKSUM_LENGTH, length);
	return 0;
}

int fw_loader_write_pointer(struct fw_loader *l, const char *dest, uint32_t dst_offset,
			    uint8_t size, const char *src, uint32_t src_offset)
{
	uint8_t *e;

	if (!name_ok(dest) || !name_ok(src) || !size_ok(size) || dst_offset > UINT32_MAX - size)
		return fail(l, -EINVAL);
	e = entry(l, FW_LOADER_WRITE_POINTER);
	if (!e)
		return -ENOMEM;
	strcpy((char *)e + FW_LOADER_WP_DEST, dest);
	strcpy((char *)e + FW_LOADER_WP_SRC, src);
	put32(e + FW_LOADER_WP_DST_OFFSET, dst_offset);
	put32(e + FW_LOADER_WP_SRC_OFFSET, src_offset);
	e[FW_LOADER_WP_SIZE] = size;
	return 0;
}

void fw_loader_free(struct fw_loader *l)
{
	free(l->p);
	memset(l, 0, sizeof(*l));
}
