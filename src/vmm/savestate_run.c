/* The RUN section of a saved-VM file: writer and parser (savestate_run.h). */
#include "vmm/savestate_run.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vmm/savestate_file.h"
#include "vmm/savestate_int.h"

int savestate_run_arg_ok(const char *a)
{
	size_t i;

	if (a[0] != '-' || a[1] != '-' || !a[2] || a[2] == '=')
		return 0;
	for (i = 2; a[i] && a[i] != '='; i++)
		if (!((a[i] >= 'a' && a[i] <= 'z') || (a[i] >= 'A' && a[i] <= 'Z') ||
		      (a[i] >= '0' && a[i] <= '9') || a[i] == '-'))
			return 0;
	for (; a[i] && i < SAVESTATE_RUN_MAX_ARG; i++)
		if ((unsigned char)a[i] < 0x20 || a[i] == 0x7f)
			return 0;
	return i + 1 <= SAVESTATE_RUN_MAX_ARG; /* its NUL included */
}

int savestate_run_encode(const char *const *args, uint32_t n, uint8_t **out, uint64_t *len)
{
	struct savestate_run_hdr h = { .version = SAVESTATE_RUN_VERSION, .count = n };
	uint64_t bytes = 0;
	uint8_t *p, *q;

	if (n > SAVESTATE_RUN_MAX_ARGS)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (!savestate_run_arg_ok(args[i]))
			return -EINVAL;
		bytes += strlen(args[i]) + 1;
	}
	if (bytes > SAVESTATE_RUN_MAX_BYTES)
		return -EINVAL;
	h.bytes = (uint32_t)bytes;
	p = malloc(sizeof(h) + bytes);
	if (!p)
		return -ENOMEM;
	memcpy(p, &h, sizeof(h));
	q = p + sizeof(h);
	for (uint32_t i = 0; i < n; i++) {
		size_t l = strlen(args[i]) + 1;

		memcpy(q, args[i], l);
		q += l;
	}
	*out = p;
	*len = sizeof(h) + bytes;
	return 0;
}

int savestate_run_parse(const uint8_t *p, uint64_t len, struct savestate_run *out,
			const char **why)
{
	struct savestate_run_hdr h;
	const char *t;
	char **args, *text;
	uint64_t at = 0;

	out->n = 0;
	out->args = NULL;
	if (len < sizeof(h))
		return *why = "the run configuration section is too short", -EINVAL;
	memcpy(&h, p, sizeof(h));
	if (h.version != SAVESTATE_RUN_VERSION || h.reserved)
		return *why = "the run configuration section has another version", -EINVAL;
	if (h.count > SAVESTATE_RUN_MAX_ARGS || h.bytes > SAVESTATE_RUN_MAX_BYTES ||
	    len - sizeof(h) != h.bytes)
		return *why = "the run configuration section has bad counts", -EINVAL;
	t = (const char *)p + sizeof(h);
	for (uint32_t i = 0; i < h.count; i++) {
		const char *nul = at < h.bytes ? memchr(t + at, '\0', h.bytes - at) : NULL;

		if (!nul)
			return *why = "the run configuration section is cut short", -EINVAL;
		if (!savestate_run_arg_ok(t + at))
			return *why = "the run configuration section holds a bad argument", -EINVAL;
		at = (uint64_t)(nul - t) + 1;
	}
	if (at != h.bytes)
		return *why = "the run configuration section has bytes after its arguments", -EINVAL;
	/* one allocation: the pointers, then a copy of the text */
	args = malloc((size_t)h.count * sizeof(*args) + h.bytes + 1);
	if (!args)
		return -ENOMEM;
	text = (char *)(args + h.count);
	memcpy(text, t, h.bytes);
	for (uint32_t i = 0; i < h.count; i++) {
		args[i] = text;
		text += strlen(text) + 1;
	}
	out->n = h.count;
	out->args = args;
	return 0;
}

/* Read the payload of the section h at off (its header's offset) and parse it. */
static int read_payload(int fd, uint64_t off, const struct sec_hdr *h, struct savestate_run *out,
			const char **why)
{
	uint8_t *p;
	int ret;

	if (h->index || h->length > sizeof(struct savestate_run_hdr) + SAVESTATE_RUN_MAX_BYTES)
		return *why = "the run configuration section has a bad length", -EINVAL;
	p = malloc(h->length ? h->length : 1);
	if (!p)
		return -ENOMEM;
	ret = savestate_pread_all(fd, p, h->length, off + sizeof(*h));
	if (ret)
		*why = "cannot read the run configuration section";
	else if (CRC_BAD(h->crc, savestate_crc32(0, p, h->length)))
		*why = "a section is corrupt (CRC mismatch)", ret = -EINVAL;
	else
		ret = savestate_run_parse(p, h->length, out, why);
	free(p);
	return ret;
}

int savestate_read_run_at(int fd, uint64_t fsize, uint64_t *off, struct savestate *s,
			  uint32_t *n_out, const char **why)
{
	struct sec_hdr h;
	int ret;

	*n_out = 0;
	ret = savestate_peek_section(fd, fsize, *off, &h, why);
	if (ret == -EINVAL)
		return 0; /* the next check names what is missing */
	if (ret)
		return ret;
	if (h.type != SAVESTATE_SEC_RUN)
		return 0;
	ret = read_payload(fd, *off, &h, &s->run_parsed, why);
	if (ret)
		return ret;
	*off += sizeof(h) + h.length;
	*n_out = 1;
	return 0;
}

int savestate_read_run(int fd, struct savestate_run *out, const char **why)
{
	struct file_hdr fh;
	struct sec_hdr h;
	struct stat st;
	uint64_t off = sizeof(fh), fsize;
	int ret;

	*why = "";
	out->n = 0;
	out->args = NULL;
	if (fstat(fd, &st) < 0)
		return *why = "cannot stat the file", -EIO;
	fsize = (uint64_t)st.st_size;
	if (fsize < sizeof(fh) || savestate_pread_all(fd, &fh, sizeof(fh), 0) ||
	    memcmp(fh.magic, SAVESTATE_MAGIC, 8))
		return *why = "not a vsrv save file", -EINVAL;
	if (CRC_BAD(fh.crc, savestate_crc32(0, &fh, offsetof(struct file_hdr, crc))))
		return *why = "the file header is corrupt (CRC mismatch)", -EINVAL;
	if (fh.version != SAVESTATE_VERSION || fh.header_size != sizeof(fh))
		return *why = "the file has another format version than this vsrv reads (1)", -EINVAL;
	for (uint32_t i = 0; i < fh.nr_sections; i++) {
		ret = savestate_peek_section(fd, fsize, off, &h, why);
		if (ret)
			return ret;
		if (h.type == SAVESTATE_SEC_RUN)
			return read_payload(fd, off, &h, out, why);
		if (h.type == SAVESTATE_SEC_MEMORY)
			break;
		off += sizeof(h) + h.length;
	}
	return -ENOENT;
}
