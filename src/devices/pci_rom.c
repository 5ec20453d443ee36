#include "devices/pci_rom.h"

#include "devices/pci.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pci_rom_load(const char *path, const char *who, struct pci_rom **out)
{
	struct pci_rom *r = NULL;
	struct stat st;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		vsrv_log("%s: option ROM %s: %s", who, path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 3 ||
	    st.st_size > PCI_ROM_MAX) {
		vsrv_log("%s: option ROM %s: not a ROM image (a file of 3 bytes to %u KiB)", who,
			 path, PCI_ROM_MAX >> 10);
		ret = -EINVAL;
		goto err_fd;
	}
	ret = -ENOMEM;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto err_fd;
	r->len = (uint32_t)st.st_size;
	for (r->size = 2048; r->size < r->len; r->size <<= 1)
		;
	r->data = malloc(r->size);
	if (!r->data)
		goto err_fd;
	n = pread(fd, r->data, r->len, 0);
	if (n != (ssize_t)r->len) {
		ret = n < 0 ? -errno : -EIO;
		vsrv_log("%s: option ROM %s: read: %s", who, path, strerror(-ret));
		goto err_fd;
	}
	if (r->data[0] != 0x55 || r->data[1] != 0xaa) {
		vsrv_log("%s: option ROM %s: not a ROM image (no 0x55 0xAA signature)", who, path);
		ret = -EINVAL;
		goto err_fd;
	}
	memset(r->data + r->len, 0xff, r->size - r->len);
	close(fd);
	*out = r;
	return 0;
err_fd:
	close(fd);
	pci_rom_free(r);
	return ret;
}

void pci_rom_free(struct pci_rom *r)
{
	if (r)
		free(r->data);
	free(r);
}

static void rom_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	const struct pci_rom *r = opaque;

	if (is_write)
		return; /* a ROM */
	for (uint32_t k = 0; k < len; k++)
		data[k] = off + k < r->size ? r->data[off + k] : 0xff;
}

void pci_rom_attach(struct pci_dev *d, struct pci_rom *r)
{
	pci_dev_set_rom(d, r->size, rom_io, r);
}
