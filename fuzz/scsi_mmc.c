/* libFuzzer target: random CDBs for the CD/DVD drive (scsi_mmc.c through scsi_exec, the
 * parser every SCSI transport shares), with random media changes between them.
 * Input: byte 0 = the drive's state (bit 0 a medium, bit 1 tray open, bit 2 the guest locked
 * it, bit 3 a DVD-sized medium, bit 4 a unit attention pending, bits 5-7 the pending media
 * event), byte 1 = the data-in length (byte * 257 bytes, cut into up to three buffers by its
 * two low bits); then commands: a length byte (0..32: a CDB of that many bytes follows; 0xfd:
 * the host inserts the medium, 0xfe: ejects it, 0xff: ejects it by force). The medium is
 * an in-memory image whose reads abort on any sector outside it, and every data-in buffer is
 * malloc'd to its exact size, so ASan catches any access past what the guest gave.
 * Built with fuzz/run_corpus.c it replays fuzz/corpus/scsi_mmc (tests/t-scsi-mmc-fuzz.sh). */
#include "devices/virtio/scsi_mmc.h"

#include <stdlib.h>
#include <string.h>

#define CD_BLOCKS 64u            /* the image's data; a DVD-sized one reads zeros past it */
#define DVD_BLOCKS 400000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *image;

static int mem_readv(struct disk *d, uint64_t sector, const struct iovec *iov, int n)
{
	uint64_t off = sector * 512;

	for (int i = 0; i < n; i++) {
		if (off > d->size || iov[i].iov_len > d->size - off)
			abort(); /* the drive read outside its medium */
		for (size_t j = 0; j < iov[i].iov_len; j++, off++)
			((uint8_t *)iov[i].iov_base)[j] = off < CD_BLOCKS * 2048ULL ? image[off] : 0;
	}
	return 0;
}

static int mem_writev(struct disk *d, uint64_t s, const struct iovec *iov, int n)
{
	(void)d, (void)s, (void)iov, (void)n;
	abort(); /* a read-only drive never writes */
}

static int mem_flush(struct disk *d)
{
	(void)d;
	return 0;
}

static void mem_close(struct disk *d)
{
	(void)d;
}

static const struct disk_ops mem_ops = { .readv = mem_readv, .writev = mem_writev,
					 .flush = mem_flush, .close = mem_close };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct disk cd = { .ops = &mem_ops, .readonly = true, .direct_fd = -1 };
	static struct scsi_lun luns[2];
	static struct scsi_mmc m;
	struct scsi_result res;
	struct disk *old;
	size_t pos = 2;
	unsigned cmds = 0;

	if (size < 2)
		return 0;
	if (!image) {
		image = malloc(CD_BLOCKS * 2048);
		for (unsigned i = 0; i < CD_BLOCKS * 2048; i++)
			image[i] = (uint8_t)(i * 7 + i / 2048);
	}
	cd.size = (data[0] & 8 ? DVD_BLOCKS : CD_BLOCKS) * 2048ULL;
	memset(luns, 0, sizeof(luns));
	scsi_mmc_init(&luns[0], &m, data[0] & 1 ? &cd : NULL);
	m.tray_open = data[0] & 2;
	m.prevent = data[0] & 4;
	if (data[0] & 16)
		luns[0].ua_asc = 0x29;
	m.event = (data[0] >> 5) % (MMC_EV_MEDIA_REMOVAL + 1);
	while (pos < size && cmds++ < 64) {
		size_t len = data[pos++], in_len = (size_t)data[1] * 257, cut[3];
		uint8_t cdb[32] = { 0 }, *buf[3];
		struct iovec iov[3];
		struct scsi_buf in, out = { NULL, 0, 0 };
		int nbuf = (data[1] & 3) % 3 + 1;

		if (len >= 0xfd) {
			if (len == 0xfd)
				scsi_mmc_load(&luns[0], &cd);
			else if (!scsi_mmc_unload(&luns[0], len == 0xff, &old) && old != &cd && old)
				abort();
			continue;
		}
		len %= 33;
		if (len > size - pos)
			len = size - pos;
		memcpy(cdb, data + pos, len);
		pos += len;
		cut[0] = in_len / nbuf;
		cut[1] = nbuf > 1 ? in_len / nbuf : 0;
		cut[2] = nbuf > 2 ? in_len - cut[0] - cut[1] : 0;
		if (nbuf == 1)
			cut[0] = in_len;
		else if (nbuf == 2)
			cut[1] = in_len - cut[0];
		for (int i = 0; i < nbuf; i++) {
			buf[i] = malloc(cut[i] ? cut[i] : 1);
			iov[i].iov_base = buf[i];
			iov[i].iov_len = cut[i];
		}
		in.iov = iov, in.n = nbuf, in.len = in_len;
		scsi_exec(luns, 2, data[0] & 0x80 ? 1 : 0, cdb, len, &out, &in, &res);
		if (res.in_done > in_len || res.sense_len > SCSI_SENSE_LEN ||
		    (res.status != SCSI_GOOD && res.status != SCSI_CHECK_CONDITION))
			abort();
		for (int i = 0; i < nbuf; i++)
			free(buf[i]);
	}
	return 0;
}
