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

/* As QEMU's pci_patch_ids: firmware runs a ROM image only when its PCI data structure
 * names the function's vendor and device, so one image serves several ids (a legacy
 * virtio-net ROM on a modern function). The first image's ids become the function's, and
 * byte 6 (iPXE's and Etherboot's checksum fix-up byte) keeps the image's byte sum. */
static void patch_ids(struct pci_rom *r, uint16_t vendor, uint16_t device)
{
	uint32_t p = r->data[0x18] | (uint32_t)r->data[0x19] << 8;
	uint16_t ids[2] = { vendor, device };

	if (p + 8 > r->len || memcmp(r->data + p, "PCIR", 4))
		return;
	for (int i = 0; i < 2; i++) {
		uint8_t *at = r->data + p + 4 + 2 * i;
		uint16_t old = (uint16_t)(at[0] | at[1] << 8);

		if (old == ids[i])
			continue;
		r->data[6] = (uint8_t)(r->data[6] + (uint8_t)old + (uint8_t)(old >> 8) -
				       (uint8_t)ids[i] - (uint8_t)(ids[i] >> 8));
		at[0] = (uint8_t)ids[i];
		at[1] = (uint8_t)(ids[i] >> 8);
	}
}

void pci_rom_attach(struct pci_dev *d, struct pci_rom *r)
{
	patch_ids(r, (uint16_t)(d->cfg[0] | d->cfg[1] << 8), (uint16_t)(d->cfg[2] | d->cfg[3] << 8));
	pci_dev_set_rom(d, r->size, rom_io, r);
}
