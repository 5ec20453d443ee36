/* The saved-VM file: writer and parser (see savestate_file.h and docs/savestate.md). */
#include "vmm/savestate_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/enlight.h"
#include "vmm/savestate_int.h"
#include "vmm/savestate_run.h"
#include "vmm/vm.h"

_Static_assert(sizeof(struct file_hdr) == 64, "file header is 64 bytes");
_Static_assert(sizeof(struct sec_hdr) == 32, "section header is 32 bytes");
/* A change of the FIRMWARE section's layout takes a new SAVESTATE_FW_VERSION. */
_Static_assert(sizeof(struct savestate_firmware) == 640, "FIRMWARE version 1 is 640 bytes");
_Static_assert(sizeof(struct x86_xen_state) == 20000, "XEN version 1 is 20,000 bytes");

#define IOV_BATCH   512
#define IO_CHUNK    (8u << 20)   /* bytes per writev / read */

/* zlib's CRC32 (the same values as zlib's crc32()), by libdeflate: it uses the CPU's
 * carry-less multiply, 2-3 times zlib's speed, and the memory section is most of a save. */
static uint32_t crc(uint32_t c, const void *p, size_t n)
{
	return libdeflate_crc32(c, p, n);
}

static uint64_t fnv(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		h = (h ^ (v & 0xff)) * 0x100000001b3ULL;
	return h;
}

uint64_t savestate_layout(void)
{
	static const uint64_t sizes[] = {
		sizeof(struct savestate_config), sizeof(struct x86_vm_state),
		sizeof(struct x86_vcpu_state), SAVESTATE_LEGACY_V1,
		sizeof(struct vm_devices_state), sizeof(struct vdev_entry_state),
		offsetof(struct vm_devices_state, e), sizeof(struct savestate_mem_hdr),
		sizeof(struct serial_state), sizeof(struct rtc_state), sizeof(struct i8042_state),
		sizeof(struct acpi_pm_state), sizeof(struct debug_exit_state),
	}, more[] = {
		sizeof(struct virtio_mmio_state),
		sizeof(struct virtio_pci_state), sizeof(struct pci_host_state),
		sizeof(struct virtio_dev_state), offsetof(struct vdev_entry_state, tr),
		sizeof(struct kvm_regs), sizeof(struct kvm_sregs), sizeof(struct kvm_xsave),
		sizeof(struct kvm_lapic_state), sizeof(struct kvm_vcpu_events),
		sizeof(struct kvm_pit_state2), sizeof(struct kvm_irqchip),
		sizeof(struct kvm_clock_data), X86_STATE_MAX_MSRS, VDEVS_MAX, SAVESTATE_PAGE,
	};
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		h = fnv(h, sizes[i]);
	/* the state sizes of the first format's device kinds, in table order (kinds.c); a
	 * later kind changes its id instead when its state changes, so adding one leaves the
	 * files of other kinds readable */
	for (size_t i = 0; device_kinds[i]; i++)
		if (device_kinds[i]->state_size && device_kinds[i]->id <= SAVESTATE_SIGNED_KINDS)
			h = fnv(h, device_kinds[i]->state_size);
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		h = fnv(h, more[i]);
	return h;
}

int savestate_alloc(uint32_t nr_cpus, struct savestate **out)
{
	struct savestate *s;

	if (nr_cpus < 1 || nr_cpus > VM_MAX_VCPUS)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->vcpus = calloc(nr_cpus, sizeof(*s->vcpus));
	s->devices = calloc(1, sizeof(*s->devices));
	if (!s->vcpus || !s->devices) {
		savestate_free(s);
		return -ENOMEM;
	}
	s->config.nr_cpus = nr_cpus;
	*out = s;
	return 0;
}

void savestate_free(struct savestate *s)
{
	if (!s)
		return;
	free(s->vcpus);
	free(s->devices);
	free(s->bitmap);
	free(s->fw_vars_buf);
	free(s->run_buf);
	free(s->run_parsed.args);
	free(s);
}

/* The devices section holds only the n entries in use. */
static uint64_t devices_len(uint32_t n)
{
	return offsetof(struct vm_devices_state, e) + (uint64_t)n * sizeof(struct vdev_entry_state);
}

static uint64_t align_page(uint64_t v)
{
	return (v + SAVESTATE_PAGE - 1) & ~(uint64_t)(SAVESTATE_PAGE - 1);
}

/* ---- writing ---- */

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t r = write(fd, b, n > IO_CHUNK ? IO_CHUNK : n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

int savestate_writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t r = writev(fd, iov, n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

int savestate_write_section(int fd, uint32_t type, uint32_t index, const void *p, uint64_t len,
			    uint64_t *off)
{
	struct sec_hdr h = { .type = type, .index = index, .length = len };
	int ret;

	h.crc = crc(0, p, len);
	h.hdr_crc = crc(0, &h, offsetof(struct sec_hdr, hdr_crc));
	ret = write_all(fd, &h, sizeof(h));
	if (!ret)
		ret = write_all(fd, p, len);
	*off += sizeof(h) + len;
	return ret;
}

/* The FIRMWARE section: its fixed part, then the variable store. */
static int write_firmware(int fd, const struct savestate *s, uint64_t *off)
{
	struct sec_hdr h = { .type = SAVESTATE_SEC_FIRMWARE, .index = 0,
			     .length = sizeof(s->fw) + s->fw.vars_size };
	int ret;

	if (s->fw.vars_size && !s->fw_vars)
		return -EINVAL;
	h.crc = crc(0, &s->fw, sizeof(s->fw));
	h.crc = crc(h.crc, s->fw_vars, s->fw.vars_size);
	h.hdr_crc = crc(0, &h, offsetof(struct sec_hdr, hdr_crc));
	ret = write_all(fd, &h, sizeof(h));
	if (!ret)
		ret = write_all(fd, &s->fw, sizeof(s->fw));
	if (!ret && s->fw.vars_size)
		ret = write_all(fd, s->fw_vars, s->fw.vars_size);
	*off += sizeof(h) + h.length;
	return ret;
}

static bool page_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t acc = 0;

	if (w[0] | w[SAVESTATE_PAGE / 8 - 1])
		return false;
	for (unsigned i = 0; i < SAVESTATE_PAGE / 8; i += 8)
		acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] |
		       w[i + 7];
	return acc == 0;
}

/* Write one batch of pages at file offset *pos (the file's position), then start its
 * write-back at once (sync_file_range without waiting): the disk writes while the next
 * batches are scanned, checksummed and copied, and the caller's fsync waits only for the
 * tail. Not for every file (a pipe): its failure is ignored. */
static int write_batch(int fd, struct iovec *iov, int n, uint64_t *pos, size_t bytes)
{
	int ret = savestate_writev_all(fd, iov, n);

	if (ret)
		return ret;
	sync_file_range(fd, (off64_t)*pos, (off64_t)bytes, SYNC_FILE_RANGE_WRITE);
	*pos += bytes;
	return 0;
}

/* The memory section: header, bitmap, padding, then every non-zero page in runs. */
static int write_memory(int fd, const uint8_t *mem, uint64_t mem_size, uint64_t *off,
			uint64_t *pages_out)
{
	uint64_t npages = mem_size / SAVESTATE_PAGE, i, payload_off, n = 0, pos;
	struct savestate_mem_hdr mh = { .mem_size = mem_size, .page_size = SAVESTATE_PAGE };
	struct sec_hdr h = { .type = SAVESTATE_SEC_MEMORY };
	struct iovec iov[IOV_BATCH];
	uint8_t *bitmap, *pad = NULL;
	uint32_t c;
	int niov = 0, ret;
	size_t batch = 0;

	mh.bitmap_bytes = (npages + 7) / 8;
	bitmap = calloc(1, mh.bitmap_bytes ? mh.bitmap_bytes : 1);
	if (!bitmap)
		return -ENOMEM;
	for (i = 0; i < npages; i++)
		if (!page_zero(mem + i * SAVESTATE_PAGE)) {
			bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
			n++;
		}
	mh.nr_data_pages = n;
	payload_off = *off + sizeof(h);
	mh.data_offset = align_page(payload_off + sizeof(mh) + mh.bitmap_bytes);
	h.length = mh.data_offset - payload_off + n * SAVESTATE_PAGE;
	pad = calloc(1, SAVESTATE_PAGE);
	if (!pad) {
		ret = -ENOMEM;
		goto out;
	}
	/* the CRC goes into the section header once the payload is written */
	ret = write_all(fd, &h, sizeof(h));
	if (ret)
		goto out;
	c = crc(0, &mh, sizeof(mh));
	c = crc(c, bitmap, mh.bitmap_bytes);
	c = crc(c, pad, mh.data_offset - (payload_off + sizeof(mh) + mh.bitmap_bytes));
	iov[0] = (struct iovec){ &mh, sizeof(mh) };
	iov[1] = (struct iovec){ bitmap, mh.bitmap_bytes };
	iov[2] = (struct iovec){ pad, mh.data_offset - (payload_off + sizeof(mh) + mh.bitmap_bytes) };
	ret = savestate_writev_all(fd, iov, 3);
	if (ret)
		goto out;
	pos = mh.data_offset;
	for (i = 0; i < npages; ) {
		uint64_t j;

		if (!(bitmap[i / 8] & (1u << (i % 8)))) {
			i++;
			continue;
		}
		for (j = i; j < npages && (bitmap[j / 8] & (1u << (j % 8))) &&
			    (j - i) * SAVESTATE_PAGE < IO_CHUNK; j++)
			;
		iov[niov++] = (struct iovec){ (void *)(mem + i * SAVESTATE_PAGE),
					      (j - i) * SAVESTATE_PAGE };
		c = crc(c, mem + i * SAVESTATE_PAGE, (j - i) * SAVESTATE_PAGE);
		batch += (j - i) * SAVESTATE_PAGE;
		i = j;
		if (niov == IOV_BATCH || batch >= IO_CHUNK) {
			ret = write_batch(fd, iov, niov, &pos, batch);
			if (ret)
				goto out;
			niov = 0;
			batch = 0;
		}
	}
	if (niov && (ret = write_batch(fd, iov, niov, &pos, batch)))
		goto out;
	h.crc = c;
	h.hdr_crc = crc(0, &h, offsetof(struct sec_hdr, hdr_crc));
	if (pwrite(fd, &h, sizeof(h), (off_t)*off) != (ssize_t)sizeof(h)) {
		ret = errno ? -errno : -EIO;
		goto out;
	}
	*off += sizeof(h) + h.length;
	*pages_out = n;
out:
	free(pad);
	free(bitmap);
	return ret;
}

int savestate_write(int fd, const struct savestate *s, const uint8_t *mem,
		    struct savestate_write_stats *stats)
{
	struct file_hdr fh = { .magic = SAVESTATE_MAGIC, .version = SAVESTATE_VERSION,
			       .header_size = sizeof(struct file_hdr) };
	uint64_t off = sizeof(fh), pages = 0;
	uint32_t i;
	int ret;

	memcpy(fh.magic, SAVESTATE_MAGIC, 8);
	fh.layout = savestate_layout();
	fh.nr_sections = 5 + s->config.nr_cpus + (s->has_fw ? 1 : 0) + (s->run ? 1 : 0) +
			 s->nr_devmem + (s->config.enlightenments == X86_ENLIGHT_XEN ? 1 : 0);
	fh.created = (uint64_t)time(NULL);
	fh.crc = crc(0, &fh, offsetof(struct file_hdr, crc));
	ret = write_all(fd, &fh, sizeof(fh));
	if (!ret)
		ret = savestate_write_section(fd, SAVESTATE_SEC_CONFIG, 0, &s->config, sizeof(s->config), &off);
	if (!ret)
		ret = savestate_write_section(fd, SAVESTATE_SEC_VM, 0, &s->vm, sizeof(s->vm), &off);
	for (i = 0; !ret && i < s->config.nr_cpus; i++)
		ret = savestate_write_section(fd, SAVESTATE_SEC_VCPU, i, &s->vcpus[i], sizeof(s->vcpus[i]),
				    &off);
	if (!ret)
		ret = savestate_write_section(fd, SAVESTATE_SEC_LEGACY, 0, &s->legacy, sizeof(s->legacy), &off);
	if (!ret)
		ret = savestate_write_section(fd, SAVESTATE_SEC_DEVICES, 0, s->devices,
				    devices_len(s->devices->n), &off);
	if (!ret && s->config.enlightenments == X86_ENLIGHT_XEN)
		ret = savestate_write_section(fd, SAVESTATE_SEC_XEN, 0, &s->xen, sizeof(s->xen), &off);
	if (!ret && s->has_fw)
		ret = write_firmware(fd, s, &off);
	if (!ret && s->run)
		ret = savestate_write_section(fd, SAVESTATE_SEC_RUN, 0, s->run, s->run_len, &off);
	for (i = 0; !ret && i < s->nr_devmem; i++)
		ret = savestate_write_section(fd, SAVESTATE_SEC_DEVMEM, s->devmem[i].index, s->devmem[i].p,
				    s->devmem[i].len, &off);
	if (!ret)
		ret = write_memory(fd, mem, s->config.mem_size, &off, &pages);
	if (!ret && stats) {
		stats->file_bytes = off;
		stats->mem_pages = pages;
	}
	return ret;
}

/* ---- reading ---- */

/* pread exactly n bytes at off: 0, -EINVAL for a short file (truncated), -EIO. */
static int read_at(int fd, void *p, size_t n, uint64_t off)
{
	uint8_t *b = p;

	while (n) {
		ssize_t r = pread(fd, b, n > IO_CHUNK ? IO_CHUNK : n, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -EIO;
		}
		if (r == 0)
			return -EINVAL;
		b += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int savestate_pread_all(int fd, void *p, size_t n, uint64_t off)
{
	return read_at(fd, p, n, off);
}

int savestate_peek_section(int fd, uint64_t fsize, uint64_t off, struct sec_hdr *h,
			   const char **why)
{
	int ret;

	if (off > fsize || fsize - off < sizeof(*h))
		return *why = "the file is truncated (a section header is missing)", -EINVAL;
	ret = read_at(fd, h, sizeof(*h), off);
	if (ret)
		return *why = "cannot read a section header", ret;
	if (CRC_BAD(h->hdr_crc, crc(0, h, offsetof(struct sec_hdr, hdr_crc))))
		return *why = "a section header is corrupt (CRC mismatch)", -EINVAL;
	if (h->length > fsize - off - sizeof(*h))
		return *why = "the file is truncated (a section is cut short)", -EINVAL;
	return 0;
}

#define BAD(msg) do { *why = (msg); ret = -EINVAL; goto err; } while (0)

/* Read one section's header at *off and check its type and index; its length must be
 * exactly want (or, with want 0, at most max). The payload is read into p (unless p is
 * NULL) and its CRC checked. */
static int read_section(int fd, uint64_t fsize, uint64_t *off, uint32_t type, uint32_t index,
			void *p, uint64_t want, struct sec_hdr *h, const char **why)
{
	int ret;

	if (*off + sizeof(*h) > fsize)
		return *why = "the file is truncated (a section header is missing)", -EINVAL;
	ret = read_at(fd, h, sizeof(*h), *off);
	if (ret)
		return *why = "cannot read a section header", ret;
	if (CRC_BAD(h->hdr_crc, crc(0, h, offsetof(struct sec_hdr, hdr_crc))))
		return *why = "a section header is corrupt (CRC mismatch)", -EINVAL;
	if (h->type != type || h->index != index)
		return *why = "sections are missing or out of order", -EINVAL;
	if (h->length > fsize - *off - sizeof(*h))
		return *why = "the file is truncated (a section is cut short)", -EINVAL;
	/* the legacy section grew (savestate_legacy.ps2): a file of the first format has the
	 * shorter one */
	if (want && h->length != want &&
	    !(type == SAVESTATE_SEC_LEGACY && h->length == SAVESTATE_LEGACY_V1))
		return *why = "a section has the wrong length for its type", -EINVAL;
	*off += sizeof(*h);
	if (p) {
		ret = read_at(fd, p, h->length, *off);
		if (ret)
			return *why = "cannot read a section", ret;
		if (CRC_BAD(h->crc, crc(0, p, h->length)))
			return *why = "a section is corrupt (CRC mismatch)", -EINVAL;
		*off += h->length;
	}
	return 0;
}

uint32_t savestate_crc32(uint32_t c, const void *p, size_t n)
{
	return crc(c, p, n);
}

uint64_t savestate_devices_len(uint32_t n)
{
	return devices_len(n);
}

static uint64_t popcount_bytes(const uint8_t *b, uint64_t n)
{
	uint64_t c = 0;

	for (uint64_t i = 0; i < n; i++)
		c += (uint64_t)__builtin_popcount(b[i]);
	return c;
}

static int read_memory_hdr(int fd, uint64_t fsize, uint64_t off, struct savestate *s,
			   const char **why)
{
	struct savestate_mem_hdr *m = &s->mem;
	uint64_t npages = s->config.mem_size / SAVESTATE_PAGE, payload = off, want;
	struct sec_hdr h;
	int ret;

	ret = read_section(fd, fsize, &payload, SAVESTATE_SEC_MEMORY, 0, NULL, 0, &h, why);
	if (ret)
		return ret;
	if (h.length < sizeof(*m))
		return *why = "the memory section is too short", -EINVAL;
	ret = read_at(fd, m, sizeof(*m), payload);
	if (ret)
		return *why = "cannot read the memory section", ret;
	if (m->mem_size != s->config.mem_size || m->page_size != SAVESTATE_PAGE ||
	    m->bitmap_bytes != (npages + 7) / 8 || m->nr_data_pages > npages)
		return *why = "the memory section does not match the configuration", -EINVAL;
	if (m->data_offset != align_page(payload + sizeof(*m) + m->bitmap_bytes))
		return *why = "the memory section's page data is misplaced", -EINVAL;
	want = m->data_offset - payload + m->nr_data_pages * SAVESTATE_PAGE;
	if (h.length != want)
		return *why = "the memory section has the wrong length", -EINVAL;
	if (payload + h.length != fsize)
		return *why = "the file has data after the memory section", -EINVAL;
	s->bitmap = malloc(m->bitmap_bytes);
	if (!s->bitmap)
		return -ENOMEM;
	ret = read_at(fd, s->bitmap, m->bitmap_bytes, payload + sizeof(*m));
	if (ret)
		return *why = "cannot read the memory bitmap", ret;
	if (npages % 8 && (s->bitmap[m->bitmap_bytes - 1] >> (npages % 8)))
		return *why = "the memory bitmap names pages beyond the RAM", -EINVAL;
	if (popcount_bytes(s->bitmap, m->bitmap_bytes) != m->nr_data_pages)
		return *why = "the memory bitmap does not match the page count", -EINVAL;
	s->mem_payload_off = payload;
	s->mem_payload_len = h.length;
	s->mem_crc = h.crc;
	return 0;
}

/* The FIRMWARE section at *off when the next section is one: read and checked
 * (savestate_check_firmware), the variable store into s->fw_vars_buf. *n_out: 1 when it
 * was there, else 0 (and *off unchanged). */
static int read_firmware(int fd, uint64_t fsize, uint64_t *off, struct savestate *s,
			 uint32_t *n_out, const char **why)
{
	struct sec_hdr h;
	uint64_t at;
	uint32_t c;
	int ret;

	*n_out = 0;
	if (*off + sizeof(h) > fsize)
		return 0; /* the next check names what is missing */
	ret = read_at(fd, &h, sizeof(h), *off);
	if (ret)
		return *why = "cannot read a section header", ret;
	if (h.type != SAVESTATE_SEC_FIRMWARE)
		return 0;
	ret = read_section(fd, fsize, off, SAVESTATE_SEC_FIRMWARE, 0, NULL, 0, &h, why);
	if (ret)
		return ret;
	if (h.length < sizeof(s->fw))
		return *why = "the firmware section is too short", -EINVAL;
	at = *off;
	ret = read_at(fd, &s->fw, sizeof(s->fw), at);
	if (ret)
		return *why = "cannot read the firmware section", ret;
	ret = savestate_check_firmware(&s->fw, h.length, why);
	if (ret)
		return ret;
	c = crc(0, &s->fw, sizeof(s->fw));
	if (s->fw.vars_size) {
		s->fw_vars_buf = malloc(s->fw.vars_size);
		if (!s->fw_vars_buf)
			return -ENOMEM;
		ret = read_at(fd, s->fw_vars_buf, s->fw.vars_size, at + sizeof(s->fw));
		if (ret)
			return *why = "cannot read the firmware section", ret;
		c = crc(c, s->fw_vars_buf, s->fw.vars_size);
		s->fw_vars = s->fw_vars_buf;
	}
	if (CRC_BAD(h.crc, c))
		return *why = "a section is corrupt (CRC mismatch)", -EINVAL;
	s->has_fw = 1;
	*off += h.length;
	*n_out = 1;
	return 0;
}

/* The n device memory sections at *off: headers checked (type, ascending entry index inside
 * the device table, length up to SAVESTATE_DEVMEM_MAX and inside the file), payloads
 * skipped (savestate_load_devmem reads them). */
static int read_devmem_hdrs(int fd, uint64_t fsize, uint64_t *off, uint32_t n,
			    struct savestate *s, const char **why)
{
	struct sec_hdr h;
	int ret;

	for (uint32_t k = 0; k < n; k++) {
		if (*off + sizeof(h) > fsize)
			return *why = "the file is truncated (a section header is missing)", -EINVAL;
		ret = read_at(fd, &h, sizeof(h), *off);
		if (ret)
			return *why = "cannot read a section header", ret;
		if (h.type != SAVESTATE_SEC_DEVMEM || h.index >= s->config.nr_devs ||
		    (k && h.index <= s->devmem[k - 1].index))
			return *why = "sections are missing or out of order", -EINVAL;
		ret = read_section(fd, fsize, off, SAVESTATE_SEC_DEVMEM, h.index, NULL, 0, &h, why);
		if (ret)
			return ret;
		if (!h.length || h.length > SAVESTATE_DEVMEM_MAX)
			return *why = "a device's memory section has a bad length", -EINVAL;
		s->devmem[k] = (struct savestate_devmem){ .index = h.index, .len = h.length,
							  .off = *off, .crc = h.crc };
		*off += h.length;
	}
	s->nr_devmem = n;
	return 0;
}

int savestate_load_devmem(int fd, const struct savestate *s, uint32_t k, uint8_t *dst,
			  const char **why)
{
	int ret;

	if (k >= s->nr_devmem)
		return *why = "no such device memory section", -EINVAL;
	ret = read_at(fd, dst, s->devmem[k].len, s->devmem[k].off);
	if (ret)
		return *why = "a device's memory section is truncated", ret;
	if (CRC_BAD(s->devmem[k].crc, crc(0, dst, s->devmem[k].len)))
		return *why = "a device's memory is corrupt (CRC mismatch)", -EINVAL;
	return 0;
}

int savestate_read(int fd, struct savestate **out, const char **why)
{
	struct savestate *s = NULL;
	struct savestate_config cfg;
	struct file_hdr fh;
	struct sec_hdr h;
	struct stat st;
	uint64_t off = sizeof(fh), fsize;
	uint32_t nfw = 0, nrun = 0, base;
	int ret;

	*why = "";
	if (fstat(fd, &st) < 0)
		return *why = "cannot stat the file", -EIO;
	fsize = (uint64_t)st.st_size;
	if (fsize < sizeof(fh))
		BAD("not a vsrv save file (too short for a header)");
	ret = read_at(fd, &fh, sizeof(fh), 0);
	if (ret)
		BAD("cannot read the header");
	if (memcmp(fh.magic, SAVESTATE_MAGIC, 8))
		BAD("not a vsrv save file (bad magic)");
	if (CRC_BAD(fh.crc, crc(0, &fh, offsetof(struct file_hdr, crc))))
		BAD("the file header is corrupt (CRC mismatch)");
	if (fh.version != SAVESTATE_VERSION)
		BAD("the file has another format version than this vsrv reads (1)");
	if (fh.header_size != sizeof(fh) || fh.flags)
		BAD("the file header is malformed");
	if (fh.layout != savestate_layout())
		BAD("the file was written by a vsrv build with other state layouts");
	ret = read_section(fd, fsize, &off, SAVESTATE_SEC_CONFIG, 0, &cfg, sizeof(cfg), &h, why);
	if (ret)
		goto err;
	ret = savestate_check_config(&cfg, why);
	if (ret)
		goto err;
	/* the sections every file of this configuration has (XEN: a Xen VM's) */
	base = 5 + cfg.nr_cpus + (cfg.enlightenments == X86_ENLIGHT_XEN ? 1 : 0);
	if (fh.nr_sections < base || fh.nr_sections - base > cfg.nr_devs + 2)
		BAD("the section count does not match the vCPU and device counts");
	ret = savestate_alloc(cfg.nr_cpus, &s);
	if (ret)
		goto err;
	s->config = cfg;
	ret = read_section(fd, fsize, &off, SAVESTATE_SEC_VM, 0, &s->vm, sizeof(s->vm), &h, why);
	for (uint32_t i = 0; !ret && i < cfg.nr_cpus; i++) {
		ret = read_section(fd, fsize, &off, SAVESTATE_SEC_VCPU, i, &s->vcpus[i],
				   sizeof(s->vcpus[i]), &h, why);
		if (!ret && s->vcpus[i].nr_msrs > X86_STATE_MAX_MSRS)
			BAD("a vCPU's MSR count is out of range");
	}
	if (!ret)
		ret = read_section(fd, fsize, &off, SAVESTATE_SEC_LEGACY, 0, &s->legacy,
				   sizeof(s->legacy), &h, why);
	if (!ret)
		ret = savestate_check_legacy(&s->legacy, why);
	if (!ret)
		ret = read_section(fd, fsize, &off, SAVESTATE_SEC_DEVICES, 0, s->devices,
				   devices_len(cfg.nr_devs), &h, why);
	if (!ret)
		ret = savestate_check_devices(&cfg, s->devices, why);
	if (!ret && cfg.enlightenments == X86_ENLIGHT_XEN)
		ret = read_section(fd, fsize, &off, SAVESTATE_SEC_XEN, 0, &s->xen, sizeof(s->xen),
				   &h, why);
	if (!ret && cfg.enlightenments == X86_ENLIGHT_XEN)
		ret = x86_xen_state_check(&s->xen, cfg.nr_cpus, NULL, why);
	if (!ret)
		ret = read_firmware(fd, fsize, &off, s, &nfw, why);
	if (!ret && fh.nr_sections - base - nfw > 0)
		ret = savestate_read_run_at(fd, fsize, &off, s, &nrun, why);
	nfw += nrun;
	if (!ret && fh.nr_sections - base - nfw > cfg.nr_devs)
		BAD("the section count does not match the vCPU and device counts");
	if (!ret)
		ret = read_devmem_hdrs(fd, fsize, &off, fh.nr_sections - base - nfw,
				       s, why);
	if (!ret)
		ret = read_memory_hdr(fd, fsize, off, s, why);
	if (ret)
		goto err;
	*out = s;
	return 0;
err:
	if (!**why)
		*why = strerror(-ret);
	savestate_free(s);
	return ret;
}

int savestate_load_memory(int fd, const struct savestate *s, uint8_t *mem, const char **why)
{
	const struct savestate_mem_hdr *m = &s->mem;
	uint64_t npages = m->mem_size / SAVESTATE_PAGE, payload = s->mem_payload_off;
	uint64_t off = m->data_offset, i, padlen;
	uint8_t pad[SAVESTATE_PAGE];
	uint32_t c;
	int ret;

	padlen = m->data_offset - (payload + sizeof(*m) + m->bitmap_bytes);
	if (padlen > sizeof(pad))
		return *why = "the memory section's page data is misplaced", -EINVAL;
	ret = read_at(fd, pad, padlen, payload + sizeof(*m) + m->bitmap_bytes);
	if (ret)
		return *why = "the memory section is truncated", ret;
	c = crc(0, m, sizeof(*m));
	c = crc(c, s->bitmap, m->bitmap_bytes);
	c = crc(c, pad, padlen);
	for (i = 0; i < npages; ) {
		uint64_t j;

		if (!(s->bitmap[i / 8] & (1u << (i % 8)))) {
			i++;
			continue;
		}
		for (j = i; j < npages && (s->bitmap[j / 8] & (1u << (j % 8))); j++)
			;
		ret = read_at(fd, mem + i * SAVESTATE_PAGE, (j - i) * SAVESTATE_PAGE, off);
		if (ret)
			return *why = "the memory section is truncated", ret;
		c = crc(c, mem + i * SAVESTATE_PAGE, (j - i) * SAVESTATE_PAGE);
		off += (j - i) * SAVESTATE_PAGE;
		i = j;
	}
	if (CRC_BAD(c, s->mem_crc))
		return *why = "the guest memory is corrupt (CRC mismatch)", -EINVAL;
	return 0;
}
