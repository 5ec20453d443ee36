/* libFuzzer target: random rings for the split virtqueue walker.
 * Input: byte 0 = log2 queue size (mod 11), byte 1 = features (bit 0 EVENT_IDX, bit 1
 * INDIRECT_DESC), bytes 2-3 = last_avail; the rest is copied to guest address 0 onwards:
 * descriptor table at 0, avail ring at 0x4000, used ring at 0x5000, data anywhere.
 * Guest memory comes from malloc so ASan catches any access outside it. Every popped chain
 * is read and written in full, as a device would.
 * Built with -DFUZZ_REPLAY_MAIN, it is a plain program running the files (or directories
 * of files) given as arguments: the test suite replays the seed corpus that way. */
#include "devices/virtio/virtq.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MEM (1 << 20)

static struct guest_mem fmem;
static struct virtq_elem fel;
static uint8_t scratch[1 << 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq q;
	unsigned i, n;
	int ret;

	if (!fmem.host) {
		fmem.host = calloc(1, FUZZ_MEM);
		fmem.size = fmem.low_size = FUZZ_MEM;
	}
	if (size < 4)
		return 0;
	memset(fmem.host, 0, 0x8000);
	n = size - 4 < FUZZ_MEM ? size - 4 : FUZZ_MEM;
	memcpy(fmem.host, data + 4, n);
	virtq_init(&q, &fmem, "fuzz");
	virtq_reset(&q, 1u << (data[0] % 11));
	q.s.desc_gpa = 0;
	q.s.avail_gpa = 0x4000;
	q.s.used_gpa = 0x5000;
	q.s.last_avail = data[2] | data[3] << 8;
	q.s.used_idx = q.s.last_avail;
	if (virtq_enable(&q, data[1] & 1, data[1] & 2))
		return 0;
	for (i = 0; i < 2 * VIRTQ_MAX_SIZE; i++) {
		size_t got, put;

		ret = virtq_pop(&q, &fel);
		if (ret <= 0)
			break;
		got = virtq_elem_read(&fel, 0, scratch, sizeof(scratch));
		put = virtq_elem_write(&fel, 0, scratch, got);
		/* Touch every byte of every buffer the walker handed out. */
		for (unsigned k = 0; k < (unsigned)fel.n_out + fel.n_in; k++)
			if (fel.iov[k].iov_len)
				((volatile uint8_t *)fel.iov[k].iov_base)[fel.iov[k].iov_len - 1] ^= 0;
		virtq_push(&q, fel.head, put);
		virtq_should_notify(&q);
	}
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[FUZZ_MEM + 4];
	size_t n;

	if (!f) {
		perror(path);
		return 1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	int i, count = 0, bad = 0;

	for (i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;
		char p[4096];

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			d = opendir(argv[i]);
			while (d && (de = readdir(d))) {
				if (de->d_name[0] == '.')
					continue;
				snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
				bad |= replay_file(p);
				count++;
			}
			if (d)
				closedir(d);
		} else {
			bad |= replay_file(argv[i]);
			count++;
		}
	}
	printf("replayed %d inputs\n", count);
	return bad;
}
#endif
