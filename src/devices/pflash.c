#include "devices/pflash.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

#define CMD_PROGRAM      0x10
#define CMD_PROGRAM_ALT  0x40
#define CMD_ERASE        0x20
#define CMD_CLEAR_STATUS 0x50
#define CMD_READ_STATUS  0x70
#define CMD_READ_ID      0x90
#define CMD_CFI_QUERY    0x98
#define CMD_CONFIRM      0xd0
#define CMD_READ_ARRAY   0xff

#define SR_SEQ_ERR (PFLASH_SR_ERASE_ERR | PFLASH_SR_PROG_ERR)
#define SR_KNOWN   (PFLASH_SR_READY | SR_SEQ_ERR)
#define CFI_LEN    0x3f

struct pflash {
	pthread_mutex_t lock;
	int fd;
	char *path;
	uint8_t *map;             /* PROT_READ, MAP_SHARED */
	uint64_t size;
	struct pflash_state st;
	bool dirty;               /* written since the last fdatasync */
	pflash_mode_fn on_mode;
	void *opaque;
	uint8_t cfi[CFI_LEN];
};

/* The CFI query table of an x8 Intel/Sharp part of this geometry (JEDEC JESD68). */
static void cfi_build(struct pflash *pf)
{
	uint8_t *t = pf->cfi;
	uint32_t blocks = (uint32_t)(pf->size / PFLASH_BLOCK_SIZE) - 1;
	unsigned log2 = 0;

	while ((1ULL << log2) < pf->size)
		log2++;
	memset(t, 0, CFI_LEN);
	memcpy(t + 0x10, "QRY", 3);
	t[0x13] = 0x01;                  /* primary command set: Intel/Sharp extended */
	t[0x15] = 0x31;                  /* its extended table at 0x31 */
	t[0x1b] = 0x45;                  /* Vcc 4.5-5.5 V (BCD), no Vpp */
	t[0x1c] = 0x55;
	t[0x1f] = 0x07;                  /* byte program: typically 2^7 us */
	t[0x21] = 0x0a;                  /* block erase: typically 2^10 ms */
	t[0x23] = 0x04;                  /* maxima: 2^4 times the typical */
	t[0x25] = 0x04;
	t[0x27] = (uint8_t)log2;         /* size 2^n bytes (rounded up: the region is exact) */
	t[0x28] = 0x00;                  /* x8 asynchronous interface */
	t[0x2c] = 1;                     /* one erase-block region: */
	t[0x2d] = (uint8_t)blocks;       /*   blocks - 1 */
	t[0x2e] = (uint8_t)(blocks >> 8);
	t[0x2f] = (uint8_t)(PFLASH_BLOCK_SIZE >> 8);   /* block size / 256 */
	t[0x30] = (uint8_t)(PFLASH_BLOCK_SIZE >> 16);
	memcpy(t + 0x31, "PRI10", 5);    /* extended table 1.0: no optional features */
	t[0x3d] = 0x50;                  /* Vcc optimum 5.0 V */
}

/* Under lock. */
static void set_mode(struct pflash *pf, uint8_t mode)
{
	bool was = pf->st.mode == PFLASH_READ_ARRAY, is = mode == PFLASH_READ_ARRAY;

	pf->st.mode = mode;
	if (was != is && pf->on_mode)
		pf->on_mode(pf->opaque, is);
}

/* Under lock. */
static int sync_locked(struct pflash *pf)
{
	if (!pf->dirty)
		return 0;
	if (fdatasync(pf->fd) < 0) {
		int err = errno;

		vsrv_log("pflash %s: fdatasync: %s", pf->path, strerror(err));
		return -err;
	}
	pf->dirty = false;
	return 0;
}

/* Write [off, off+len) of buf (the new content) to the file. Under lock. */
static int store(struct pflash *pf, uint64_t off, const uint8_t *buf, uint32_t len)
{
	ssize_t n = pwrite(pf->fd, buf, len, (off_t)off);

	if (n != (ssize_t)len) {
		vsrv_log("pflash %s: write at 0x%llx: %s", pf->path, (unsigned long long)off,
			 n < 0 ? strerror(errno) : "short write");
		return -EIO;
	}
	pf->dirty = true;
	return 0;
}

static void program(struct pflash *pf, uint64_t off, const uint8_t *data, uint32_t len)
{
	if (off >= pf->size || len > pf->size - off) {
		pf->st.status |= PFLASH_SR_PROG_ERR | PFLASH_SR_READY;
		return;
	}
	/* The bytes as written, as QEMU's pflash_cfi01 stores them (NOR flash would only
	 * clear bits): OVMF is developed against QEMU, and erases before it writes. */
	if (store(pf, off, data, len))
		pf->st.status |= PFLASH_SR_PROG_ERR;
	pf->st.status |= PFLASH_SR_READY;
}

static void erase(struct pflash *pf, uint64_t off)
{
	static const uint8_t ones[PFLASH_BLOCK_SIZE] = { [0 ... PFLASH_BLOCK_SIZE - 1] = 0xff };

	off &= ~(uint64_t)(PFLASH_BLOCK_SIZE - 1);
	if (off >= pf->size || store(pf, off, ones, PFLASH_BLOCK_SIZE))
		pf->st.status |= PFLASH_SR_ERASE_ERR;
	pf->st.status |= PFLASH_SR_READY;
}

/* Under lock. */
static void write_cycle(struct pflash *pf, uint64_t off, const uint8_t *data, uint32_t len)
{
	uint8_t cmd = data[0];

	switch (pf->st.mode) {
	case PFLASH_PROGRAM:
		program(pf, off, data, len);
		set_mode(pf, PFLASH_READ_STATUS);
		return;
	case PFLASH_ERASE:
		if (cmd == CMD_CONFIRM) {
			erase(pf, off);
			set_mode(pf, PFLASH_READ_STATUS);
		} else if (cmd == CMD_READ_ARRAY) {
			set_mode(pf, PFLASH_READ_ARRAY);
		} else {
			pf->st.status |= SR_SEQ_ERR | PFLASH_SR_READY;
			set_mode(pf, PFLASH_READ_ARRAY);
		}
		return;
	default:
		break;
	}
	/* A new command: what was programmed or erased before is durable first. */
	if (cmd != CMD_PROGRAM && cmd != CMD_PROGRAM_ALT && cmd != CMD_ERASE &&
	    sync_locked(pf))
		pf->st.status |= PFLASH_SR_PROG_ERR;
	switch (cmd) {
	case CMD_READ_ARRAY:
		set_mode(pf, PFLASH_READ_ARRAY);
		break;
	case CMD_READ_STATUS:
		set_mode(pf, PFLASH_READ_STATUS);
		break;
	case CMD_CLEAR_STATUS:
		pf->st.status = 0;
		set_mode(pf, PFLASH_READ_ARRAY);
		break;
	case CMD_PROGRAM:
	case CMD_PROGRAM_ALT:
		set_mode(pf, PFLASH_PROGRAM);
		break;
	case CMD_ERASE:
		set_mode(pf, PFLASH_ERASE);
		break;
	case CMD_READ_ID:
		set_mode(pf, PFLASH_READ_ID);
		break;
	case CMD_CFI_QUERY:
		set_mode(pf, PFLASH_CFI_QUERY);
		break;
	default:
		pf->st.status |= SR_SEQ_ERR | PFLASH_SR_READY;
		set_mode(pf, PFLASH_READ_ARRAY);
		break;
	}
}

/* One byte read at device offset o. Under lock. */
static uint8_t read_byte(struct pflash *pf, uint64_t o)
{
	switch (pf->st.mode) {
	case PFLASH_READ_ARRAY:
		return o < pf->size ? pf->map[o] : 0xff;
	case PFLASH_READ_ID:
		switch (o % PFLASH_BLOCK_SIZE) {
		case 0: return o == 0 ? PFLASH_MANUFACTURER : 0;
		case 1: return o == 1 ? PFLASH_DEVICE_ID : 0;
		default: return 0;           /* block lock status at 2: unlocked */
		}
	case PFLASH_CFI_QUERY:
		return (o & 0xff) < CFI_LEN ? pf->cfi[o & 0xff] : 0;
	default:
		return pf->st.status;        /* status, program and erase modes */
	}
}

void pflash_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pflash *pf = opaque;
	uint32_t i;

	pthread_mutex_lock(&pf->lock);
	if (is_write) {
		if (len)
			write_cycle(pf, off, data, len);
	} else {
		/* The guest is about to see what it wrote: make it durable first. */
		if (pf->st.mode == PFLASH_READ_STATUS && sync_locked(pf))
			pf->st.status |= PFLASH_SR_PROG_ERR;
		for (i = 0; i < len; i++)
			data[i] = off + i < pf->size ? read_byte(pf, off + i) : 0xff;
	}
	pthread_mutex_unlock(&pf->lock);
}

/* The file's lock: an open-file-description write lock over all of it (as the disks lock
 * theirs, and the sandbox allows): 0, -EBUSY when another holds one, or -errno. */
static int lock_file(int fd, bool on)
{
	struct flock fl = { .l_type = on ? F_WRLCK : F_UNLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
}

/* Copy template into a new file at path: a temporary file beside it, synced, then
 * linked to path (never replacing a file someone else created meanwhile). */
static int create_from(const char *path, const char *template_path)
{
	char *tmp = NULL, *dir = NULL, buf[65536];
	int in = -1, out = -1, dfd, ret;
	struct stat sb;
	ssize_t n;

	in = open(template_path, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &sb) < 0) {
		ret = -errno;
		vsrv_log("pflash: template %s: %s", template_path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size == 0 || sb.st_size > PFLASH_MAX_SIZE ||
	    sb.st_size % PFLASH_BLOCK_SIZE) {
		vsrv_log("pflash: template %s is not a flash image (size a multiple of %u up to %u)",
			 template_path, PFLASH_BLOCK_SIZE, PFLASH_MAX_SIZE);
		ret = -EINVAL;
		goto out;
	}
	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0) {
		tmp = NULL;
		ret = -ENOMEM;
		goto out;
	}
	out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0) {
		ret = -errno;
		vsrv_log("pflash: create %s: %s", path, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			ret = -EIO;
			goto err_write;
		}
	}
	if (n < 0 || fsync(out) < 0) {
		ret = -EIO;
		goto err_write;
	}
	if (link(tmp, path) < 0 && errno != EEXIST) {
		ret = -errno;
		goto err_write;
	}
	unlink(tmp);
	dir = strdup(path);
	if (dir) {
		dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	ret = 0;
	goto out;
err_write:
	vsrv_log("pflash: copy %s to %s: %s", template_path, path, strerror(-ret));
	unlink(tmp);
out:
	free(dir);
	free(tmp);
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	return ret;
}

static int open_flash(const char *path, const char *template_path, pflash_mode_fn on_mode,
		      void *opaque, bool lock, struct pflash **out)
{
	struct pflash *pf;
	struct stat sb;
	int ret;

	pf = calloc(1, sizeof(*pf));
	if (!pf)
		return -ENOMEM;
	pf->path = strdup(path);
	if (!pf->path) {
		ret = -ENOMEM;
		goto err_free;
	}
	pf->fd = open(path, O_RDWR | O_CLOEXEC);
	if (pf->fd < 0 && errno == ENOENT && template_path) {
		ret = create_from(path, template_path);
		if (ret)
			goto err_free;
		pf->fd = open(path, O_RDWR | O_CLOEXEC);
	}
	if (pf->fd < 0) {
		ret = -errno;
		vsrv_log("pflash %s: %s", path, strerror(errno));
		goto err_free;
	}
	if (lock && (ret = lock_file(pf->fd, true))) {
		vsrv_log("pflash %s: %s", path, ret == -EBUSY ? "in use by another VM" :
			 strerror(-ret));
		goto err_close;
	}
	if (fstat(pf->fd, &sb) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size == 0 || sb.st_size > PFLASH_MAX_SIZE ||
	    sb.st_size % PFLASH_BLOCK_SIZE) {
		vsrv_log("pflash %s: not a flash image (a regular file, size a multiple of %u up to %u)",
			 path, PFLASH_BLOCK_SIZE, PFLASH_MAX_SIZE);
		ret = -EINVAL;
		goto err_close;
	}
	pf->size = (uint64_t)sb.st_size;
	pf->map = mmap(NULL, pf->size, PROT_READ, MAP_SHARED, pf->fd, 0);
	if (pf->map == MAP_FAILED) {
		ret = -errno;
		vsrv_log("pflash %s: mmap: %s", path, strerror(errno));
		goto err_close;
	}
	pthread_mutex_init(&pf->lock, NULL);
	pf->st.mode = PFLASH_READ_ARRAY;
	pf->st.status = PFLASH_SR_READY;
	pf->on_mode = on_mode;
	pf->opaque = opaque;
	cfi_build(pf);
	*out = pf;
	return 0;
err_close:
	close(pf->fd);
err_free:
	free(pf->path);
	free(pf);
	return ret;
}

int pflash_open(const char *path, const char *template_path, pflash_mode_fn on_mode,
		void *opaque, struct pflash **out)
{
	return open_flash(path, template_path, on_mode, opaque, true, out);
}

int pflash_open_unlocked(const char *path, const char *template_path, pflash_mode_fn on_mode,
			 void *opaque, struct pflash **out)
{
	return open_flash(path, template_path, on_mode, opaque, false, out);
}

int pflash_lock(struct pflash *pf, bool on)
{
	int ret = 0;

	pthread_mutex_lock(&pf->lock);
	if (on && (ret = lock_file(pf->fd, true))) {
		vsrv_log("pflash %s: %s", pf->path, ret == -EBUSY ? "in use by another VM" :
			 strerror(-ret));
	} else if (!on) {
		ret = sync_locked(pf);
		lock_file(pf->fd, false);
	}
	pthread_mutex_unlock(&pf->lock);
	return ret;
}

void pflash_close(struct pflash *pf)
{
	if (!pf)
		return;
	pflash_flush(pf);
	munmap(pf->map, pf->size);
	close(pf->fd);  /* releases the lock */
	pthread_mutex_destroy(&pf->lock);
	free(pf->path);
	free(pf);
}

const uint8_t *pflash_array(struct pflash *pf) { return pf->map; }
uint64_t pflash_size(struct pflash *pf) { return pf->size; }

bool pflash_in_array_mode(struct pflash *pf)
{
	bool r;

	pthread_mutex_lock(&pf->lock);
	r = pf->st.mode == PFLASH_READ_ARRAY;
	pthread_mutex_unlock(&pf->lock);
	return r;
}

int pflash_flush(struct pflash *pf)
{
	int ret;

	pthread_mutex_lock(&pf->lock);
	ret = sync_locked(pf);
	pthread_mutex_unlock(&pf->lock);
	return ret;
}

void pflash_save(struct pflash *pf, struct pflash_state *st)
{
	pthread_mutex_lock(&pf->lock);
	*st = pf->st;
	pthread_mutex_unlock(&pf->lock);
}

int pflash_state_check(const struct pflash_state *st)
{
	static const uint8_t zero[sizeof(st->reserved)];

	if (st->mode >= PFLASH_MODE_COUNT || (st->status & ~SR_KNOWN) ||
	    memcmp(st->reserved, zero, sizeof(zero)))
		return -EINVAL;
	return 0;
}

int pflash_load_array(struct pflash *pf, const uint8_t *data, uint64_t len)
{
	int ret = 0;

	if (len != pf->size)
		return -EINVAL;
	pthread_mutex_lock(&pf->lock);
	for (uint64_t off = 0; !ret && off < len; off += PFLASH_BLOCK_SIZE)
		if (memcmp(pf->map + off, data + off, PFLASH_BLOCK_SIZE))
			ret = store(pf, off, data + off, PFLASH_BLOCK_SIZE);
	if (!ret)
		ret = sync_locked(pf);
	pthread_mutex_unlock(&pf->lock);
	return ret;
}

int pflash_restore(struct pflash *pf, const struct pflash_state *st)
{
	if (pflash_state_check(st))
		return -EINVAL;
	pthread_mutex_lock(&pf->lock);
	pf->st = *st;
	if (pf->on_mode)
		pf->on_mode(pf->opaque, st->mode == PFLASH_READ_ARRAY);
	pthread_mutex_unlock(&pf->lock);
	return 0;
}
