/* vsrv img convert and vsrv img compare.
 *
 * convert copies an image (through its whole parent chain; qcow2, VMDK and VHDX sources
 * through the block layer's readers) into a new raw or VHD one, keeping it
 * sparse: ranges the source reports as holes/unallocated are never read, data chunks that
 * turn out to be all zeros are never written. A reader thread fills a small ring of 2 MiB
 * buffers while the main thread writes them, so reading and writing overlap; a source read
 * through a library (qcow2, VMDK, VHDX: decoded cluster by cluster, so the reading is the
 * work) gets CONV_READERS reader threads, each through its own library handles, filling
 * the ring's slots out of order while the writer still takes them in order.
 * With -B PARENT the target is a differencing VHD over PARENT and only the sectors where
 * the source differs from the parent are written (as qemu-img convert -B). */
#include "cli/img.h"
#include "vhd/vhd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONV_CHUNK (2u << 20) /* bytes per job: one VHD block by default */
#define CONV_NBUF 4           /* ring slots: 8 MiB of buffers in flight at most */
/* Reader threads for a source read through a library. Each costs the library's caches once
 * more (libqcow: 128 clusters, 8 MiB); 2 measured best (docs/architecture.md). */
#define CONV_READERS 2
_Static_assert(CONV_READERS < CONV_NBUF, "a slot for the writer besides one per reader");
#define CONV_ZERO_GRAIN 4096  /* zero runs this large inside a data chunk are not written */
#define CONV_THP (2u << 20)   /* a transparent huge page (x86-64): the ring's alignment */
_Static_assert((CONV_NBUF * CONV_CHUNK) % CONV_THP == 0, "the ring is whole huge pages");

/* JOB_SKIP: a chunk that read as zeros, for a target that reads as zeros already. */
enum conv_job_kind { JOB_DATA, JOB_ZERO, JOB_SKIP, JOB_END, JOB_ERROR };

struct conv_job {
	enum conv_job_kind kind;
	uint64_t off, len;
	int err;
	bool ready;              /* filled: the writer may take it */
	void *buf;               /* CONV_CHUNK bytes, owned by the ring */
	void *data;              /* the job's bytes: buf, or inside map */
	void *map;               /* raw source: a read-only window of the file (or NULL) that
	                          * the writer unmaps once written */
	size_t maplen;
};

/* The ring: readers claim slots in source order (head) and fill them, in parallel when
 * there are several; the writer takes them in the same order (tail) once each is ready, so
 * the target is written as with one reader. */
struct conv {
	struct img *src, *dst;
	bool dst_zero_init;      /* dst reads as zeros where nothing is written */
	bool backing;            /* dst is differencing: write only what differs from it */
	uint8_t *cmp;            /* backing: CONV_CHUNK bytes of dst's current content */
	uint8_t *zeros;          /* backing: CONV_CHUNK zero bytes */
	pthread_mutex_t lock;
	pthread_cond_t space;    /* readers wait here for a free slot */
	pthread_cond_t filled;   /* the writer waits here for the slot at tail */
	int space_waiting;       /* readers blocked in space */
	bool writer_waiting;     /* the writer is blocked in filled */
	struct conv_job ring[CONV_NBUF];
	unsigned nreaders;
	unsigned head, tail;     /* claimed / consumed counts */
	bool stop;               /* writer done or failed: readers stop */
	bool ended;              /* the END or an ERROR job is claimed: nothing more to hand out */
	uint64_t cursor;         /* the next source offset to hand out */
	uint64_t ext_end;        /* the end of the status extent the cursor is in */
	enum img_kind ext_kind;  /* its kind */
	uint64_t read_bytes;     /* progress: bytes of the source done */
	bool src_map;            /* raw regular file: map windows instead of copying them */
};

/* Raw source: map [off, off + len) read-only instead of reading it into a buffer, so the
 * only copy of the data is the write into the target. The reader thread touches the pages
 * (zero check), the writer unmaps the window after writing: at most CONV_NBUF windows are
 * mapped, so the resident set stays small. (A source truncated meanwhile by another process
 * would fault: like any tool copying a file being modified, the copy is not consistent.) */
static int conv_map(struct conv *cv, struct conv_job *j, uint64_t off, uint64_t len)
{
	uint64_t start = off & ~(uint64_t)4095;
	void *p;

	p = mmap(NULL, (size_t)(off + len - start), PROT_READ, MAP_SHARED | MAP_POPULATE, cv->src->fd, (off_t)start);
	if (p == MAP_FAILED)
		return -errno;
	j->map = p;
	j->maplen = (size_t)(off + len - start);
	j->data = (uint8_t *)p + (off - start);
	return 0;
}

/* Mark j filled (lock held), waking the writer if it waits for exactly this one. */
static void conv_publish(struct conv *cv, struct conv_job *j)
{
	j->ready = true;
	if (cv->writer_waiting && j == &cv->ring[cv->tail % CONV_NBUF])
		pthread_cond_signal(&cv->filled);
}

/* The next slot in order (lock held, a slot free): claimed, not ready. */
static struct conv_job *conv_take(struct conv *cv, enum conv_job_kind kind, uint64_t off,
				  uint64_t len)
{
	struct conv_job *j = &cv->ring[cv->head++ % CONV_NBUF];

	j->kind = kind;
	j->off = off;
	j->len = len;
	j->err = 0;
	j->ready = false;
	j->map = NULL;
	j->data = j->buf;
	return j;
}

/* Reader side: claim the next data chunk to read, queueing on the way the jobs that need no
 * reading (holes, the end, a status error). NULL when there is nothing more for this reader. */
static struct conv_job *conv_claim(struct conv *cv)
{
	struct img *src = cv->src;
	struct conv_job *j = NULL;

	pthread_mutex_lock(&cv->lock);
	while (!cv->stop && !cv->ended) {
		uint64_t off = cv->cursor, len;

		if (cv->head - cv->tail == CONV_NBUF) {
			cv->space_waiting++;
			pthread_cond_wait(&cv->space, &cv->lock);
			cv->space_waiting--;
			continue;
		}
		if (off >= src->size) {
			cv->ended = true;
			conv_publish(cv, conv_take(cv, JOB_END, off, 0));
			break;
		}
		if (off >= cv->ext_end) {
			uint64_t n;
			int r = img_status(src, off, src->size - off, true, &cv->ext_kind, &n, NULL);

			if (r < 0) {
				cv->ended = true;
				j = conv_take(cv, JOB_ERROR, off, 0);
				j->err = r;
				conv_publish(cv, j);
				j = NULL;
				break;
			}
			cv->ext_end = off + n;
		}
		if (cv->ext_kind != IMG_DATA) {
			/* Nothing to read. Only a target that does not start out zero needs to hear. */
			if (cv->dst_zero_init)
				__atomic_add_fetch(&cv->read_bytes, cv->ext_end - off, __ATOMIC_RELAXED);
			else
				conv_publish(cv, conv_take(cv, JOB_ZERO, off, cv->ext_end - off));
			cv->cursor = cv->ext_end;
			continue;
		}
		/* Chunks aligned to CONV_CHUNK, so VHD blocks are written whole. */
		len = CONV_CHUNK - off % CONV_CHUNK;
		if (len > cv->ext_end - off)
			len = cv->ext_end - off;
		cv->cursor = off + len;
		j = conv_take(cv, JOB_DATA, off, len);
		break;
	}
	pthread_mutex_unlock(&cv->lock);
	return j;
}

static void *conv_reader(void *arg)
{
	struct conv *cv = arg;
	struct conv_job *j;

	while ((j = conv_claim(cv))) {
		int r;

		if (cv->src_map && j->len % VHD_SECTOR == 0)
			r = conv_map(cv, j, j->off, j->len);
		else
			r = img_read(cv->src, j->buf, j->len, j->off);
		if (r < 0) {
			/* the writer reports it once it has written everything before it */
			pthread_mutex_lock(&cv->lock);
			j->kind = JOB_ERROR;
			j->err = r;
			cv->ended = true;
			conv_publish(cv, j);
			pthread_mutex_unlock(&cv->lock);
			break;
		}
		if (cv->dst->vhd && j->len % VHD_SECTOR) {
			/* The odd tail of a raw source: a VHD holds whole sectors. */
			memset((uint8_t *)j->buf + j->len, 0, VHD_SECTOR - j->len % VHD_SECTOR);
			j->len += VHD_SECTOR - j->len % VHD_SECTOR;
		}
		if (img_is_zero(j->data, j->len)) {
			j->kind = cv->dst_zero_init ? JOB_SKIP : JOB_ZERO;
			if (j->kind == JOB_SKIP && j->map) {
				munmap(j->map, j->maplen);
				j->map = NULL;
			}
		}
		pthread_mutex_lock(&cv->lock);
		conv_publish(cv, j);
		pthread_mutex_unlock(&cv->lock);
	}
	return NULL;
}

/* Make [off, off+len) of dst read as zeros (only for targets without zero init). */
static int conv_zero(struct img *dst, uint64_t off, uint64_t len)
{
	static const uint64_t zeros[512];
	int r;

	if (dst->vhd && (off | len) % VHD_SECTOR == 0)
		return vhd_write_zeroes(dst->vhd, off / VHD_SECTOR, len / VHD_SECTOR);
	if (!dst->vhd && fallocate(dst->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   (off_t)off, (off_t)len) == 0)
		return 0;
	while (len) {
		uint64_t n = len < sizeof(zeros) ? len : sizeof(zeros);

		r = img_write(dst, zeros, n, off);
		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

/* Backing mode: write the sectors of data (len <= CONV_CHUNK bytes at off) that differ from
 * what dst reads there now (its parent's content). */
static int conv_write_diff(struct conv *cv, const uint8_t *data, uint64_t off, uint64_t len)
{
	struct img *dst = cv->dst;
	uint64_t s = 0, e;
	int r;

	r = img_read(dst, cv->cmp, len, off);
	if (r < 0)
		return r;
	while (s < len) {
		if (!memcmp(data + s, cv->cmp + s, VHD_SECTOR)) {
			s += VHD_SECTOR;
			continue;
		}
		for (e = s + VHD_SECTOR; e < len && memcmp(data + e, cv->cmp + e, VHD_SECTOR); e += VHD_SECTOR)
			;
		r = img_write(dst, data + s, e - s, off + s);
		if (r < 0)
			return r;
		s = e;
	}
	return 0;
}

/* Backing mode: make [off, off + len) read as zeros where the parent has data there. */
static int conv_zero_diff(struct conv *cv, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;

	while (off < end) {
		enum img_kind k;
		uint64_t n;
		int r = img_status(cv->dst, off, end - off, true, &k, &n, NULL);

		if (r < 0)
			return r;
		if (k == IMG_DATA) {
			n = n < CONV_CHUNK - off % CONV_CHUNK ? n : CONV_CHUNK - off % CONV_CHUNK;
			r = conv_write_diff(cv, cv->zeros, off, n);
			if (r < 0)
				return r;
		}
		off += n;
	}
	return 0;
}

/* Write the chunk (len bytes at off) to a target that reads as zeros, leaving out runs of
 * zeros of CONV_ZERO_GRAIN bytes or more (aligned): the target stays sparse. */
static int conv_write_sparse(struct img *dst, const uint8_t *buf, uint64_t len, uint64_t off)
{
	uint64_t s = 0, e;
	int r;

	while (s < len) {
		uint64_t g = len - s < CONV_ZERO_GRAIN ? len - s : CONV_ZERO_GRAIN;

		if (g == CONV_ZERO_GRAIN && img_is_zero(buf + s, g)) {
			s += g;
			continue;
		}
		for (e = s + g; e < len; e += CONV_ZERO_GRAIN) {
			if (len - e >= CONV_ZERO_GRAIN && img_is_zero(buf + e, CONV_ZERO_GRAIN))
				break;
		}
		if (e > len)
			e = len;
		r = img_write(dst, buf + s, e - s, off + s);
		if (r < 0)
			return r;
		s = e;
	}
	return 0;
}

/* A library's cache (libqcow: 128 clusters per reader, 16 MiB with two) is malloc'd cluster by
 * cluster from the heap; the first touch of each of its 4 KiB pages is a page fault, a third of
 * the faults of a qcow2 convert and dear where faults are (a virtualized host). Grow the heap
 * once by CONV_HEAP_PAD and advise that for transparent huge pages, as glibc's
 * glibc.malloc.hugetlb=1 tunable would: a fault then maps 2 MiB. The pad is kept (not trimmed)
 * when the cache frees and allocates again. Where THP is off the advice changes nothing. */
#define CONV_HEAP_PAD (24u << 20)
static void conv_heap_huge(void)
{
	uintptr_t start, end;
	void *p;

	/* from the heap, not an mmap of its own; kept in the heap once freed */
	mallopt(M_MMAP_THRESHOLD, CONV_HEAP_PAD + (1 << 20)); /* at most 32 MiB */
	mallopt(M_TRIM_THRESHOLD, 2 * CONV_HEAP_PAD);
	p = malloc(CONV_HEAP_PAD);
	if (p) {
		start = ((uintptr_t)p + CONV_THP - 1) & ~(uintptr_t)(CONV_THP - 1);
		end = ((uintptr_t)p + CONV_HEAP_PAD) & ~(uintptr_t)(CONV_THP - 1);
		if (end > start)
			madvise((void *)start, end - start, MADV_HUGEPAGE);
	}
	free(p);
	/* glibc's default: larger blocks (a cluster of 1 or 2 MiB) get mmaps of their own */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
}

/* Writer side, on the calling thread. 0 or -errno (printed). */
static int conv_run(struct conv *cv, struct img_progress *pg)
{
	pthread_t th[CONV_READERS];
	void *ring = NULL;
	uint64_t reported = 0;
	unsigned i, nth = 0;
	int r = 0;

	/* Several readers only where reading is the work (a library decoding the source
	 * cluster by cluster); a raw or VHD source is read by one. */
	cv->nreaders = cv->src->disk ? (unsigned)img_readers(cv->src, CONV_READERS) : 1;
	/* The libraries allocate a cluster buffer per cache miss: with one malloc arena per
	 * reader thread each arena's heap shrinks and grows again under it (three times the
	 * page faults measured); a single arena keeps those pages. */
	if (cv->nreaders > 1)
		mallopt(M_ARENA_MAX, 1);
	if (cv->src->disk)
		conv_heap_huge();
	/* The ring's buffers in one region, aligned to and a multiple of 2 MiB and advised for
	 * transparent huge pages: filling the ring the first time then costs a few page faults
	 * instead of 2048 (one per 4 KiB page), which were a quarter of the CPU time of a VHD
	 * read where a fault is dear (a virtualized host; docs/architecture.md). Where THP is
	 * off the advice fails and changes nothing. */
	if (posix_memalign(&ring, CONV_THP, (size_t)CONV_NBUF * CONV_CHUNK)) {
		r = -ENOMEM;
		goto out_free;
	}
	madvise(ring, (size_t)CONV_NBUF * CONV_CHUNK, MADV_HUGEPAGE);
	for (i = 0; i < CONV_NBUF; i++)
		cv->ring[i].buf = (uint8_t *)ring + (size_t)i * CONV_CHUNK;
	pthread_mutex_init(&cv->lock, NULL);
	pthread_cond_init(&cv->space, NULL);
	pthread_cond_init(&cv->filled, NULL);
	for (; nth < cv->nreaders; nth++) {
		r = -pthread_create(&th[nth], NULL, conv_reader, cv);
		if (r < 0)
			break;
	}
	if (nth == 0) {
		img_err("convert: cannot start a reader thread: %s", strerror(-r));
		goto out_destroy;
	}
	r = 0;
	for (;;) {
		struct conv_job *j;
		uint64_t done;

		pthread_mutex_lock(&cv->lock);
		while (cv->head == cv->tail || !cv->ring[cv->tail % CONV_NBUF].ready) {
			cv->writer_waiting = true;
			pthread_cond_wait(&cv->filled, &cv->lock);
			cv->writer_waiting = false;
		}
		j = &cv->ring[cv->tail % CONV_NBUF];
		pthread_mutex_unlock(&cv->lock);

		if (j->kind == JOB_END) {
			/* Backing: a source shorter than the parent reads as zeros beyond its end. */
			if (cv->backing && cv->dst->size > cv->src->size) {
				r = conv_zero_diff(cv, cv->src->size, cv->dst->size - cv->src->size);
				if (r < 0)
					img_err("convert: error writing '%s': %s", cv->dst->path,
						*vhd_errmsg() ? vhd_errmsg() : strerror(-r));
			}
			break;
		}
		if (j->kind == JOB_ERROR) {
			r = j->err;
			img_err("convert: error reading '%s' near offset %" PRIu64 ": %s", cv->src->path,
				j->off, *vhd_errmsg() ? vhd_errmsg() : strerror(-r));
			break;
		}
		if (j->kind == JOB_SKIP)
			r = 0;
		else if (cv->backing && j->kind == JOB_DATA)
			r = conv_write_diff(cv, j->data, j->off, j->len);
		else if (cv->backing)
			r = conv_zero_diff(cv, j->off, j->len);
		else if (j->kind == JOB_DATA && cv->dst_zero_init)
			r = conv_write_sparse(cv->dst, j->data, j->len, j->off);
		else if (j->kind == JOB_DATA)
			r = img_write(cv->dst, j->data, j->len, j->off);
		else
			r = conv_zero(cv->dst, j->off, j->len);
		if (r < 0) {
			img_err("convert: error writing '%s' at offset %" PRIu64 ": %s", cv->dst->path,
				j->off, cv->dst->vhd && *vhd_errmsg() ? vhd_errmsg() : strerror(-r));
			break;
		}
		if (j->map) {
			munmap(j->map, j->maplen);
			j->map = NULL;
		}
		done = __atomic_add_fetch(&cv->read_bytes, j->len, __ATOMIC_RELAXED);
		img_progress_add(pg, done - reported);
		reported = done;

		pthread_mutex_lock(&cv->lock);
		j->ready = false;
		cv->tail++;
		if (cv->space_waiting)
			pthread_cond_signal(&cv->space);
		pthread_mutex_unlock(&cv->lock);
	}
	pthread_mutex_lock(&cv->lock);
	cv->stop = true;
	pthread_cond_broadcast(&cv->space);
	pthread_mutex_unlock(&cv->lock);
out_destroy:
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	for (; cv->tail != cv->head; cv->tail++) { /* left over after an error */
		struct conv_job *j = &cv->ring[cv->tail % CONV_NBUF];

		if (j->map)
			munmap(j->map, j->maplen);
	}
	pthread_cond_destroy(&cv->filled);
	pthread_cond_destroy(&cv->space);
	pthread_mutex_destroy(&cv->lock);
out_free:
	free(ring);
	return r;
}

static bool img_same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino && !S_ISCHR(sa.st_mode);
}

int img_cmd_convert(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct img_create_opts o = { 0 };
	const char *sfmt = NULL, *dfmt = "raw", *cache = "unsafe", *spath, *dpath, *backing = NULL;
	const char *optv[16];
	int nopt = 0, c, r, i, ret = 1;
	bool progress = false, no_create = false;
	unsigned share = 0;
	struct img *src = NULL, *dst = NULL;
	struct img_progress pg;
	struct conv cv;
	struct stat st;

	while ((c = getopt_long(argc, argv, "+f:O:o:B:pnt:T:qWUh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': sfmt = optarg; break;
		case 'B': backing = optarg; break;
		case 'O':
			dfmt = img_format_name(optarg);
			if (!dfmt) {
				img_err("convert: unknown output format '%s' (vhd, vpc or raw)", optarg);
				return 1;
			}
			if (img_format_foreign(dfmt)) {
				img_err("convert: vsrv writes vhd (vpc) and raw images; %s is read only "
					"(a source here; qemu-img convert -O %s writes one)", dfmt, dfmt);
				return 1;
			}
			break;
		case 'o':
			if (nopt == 16) {
				img_err("convert: too many -o");
				return 1;
			}
			optv[nopt++] = optarg;
			break;
		case 'p': progress = true; break;
		case 'n': no_create = true; break;
		case 't': cache = optarg; break;
		case 'T': case 'q': case 'W': break;
		case 'U': share = IMG_SHARE; break; /* qemu-img's force-share for the source */
		case 'h':
			printf("usage: vsrv img convert [-f FMT] -O vhd|raw [-o OPTIONS] [-B PARENT] [-p] [-n]\n"
			       "                        [-t CACHE] SRC DST\n");
			return 0;
		default: return 1;
		}
	}
	if (argc - optind != 2) {
		img_err("convert: expecting SRC and DST");
		return 1;
	}
	spath = argv[optind];
	dpath = argv[optind + 1];
	for (i = 0; i < nopt; i++) {
		r = img_parse_create_opts(optv[i], dfmt, &o);
		if (r)
			return r > 0 ? 0 : 1;
	}
	if (o.parent && !backing)
		backing = o.parent;
	if (backing && (strcmp(dfmt, "vhd") || o.fixed || no_create)) {
		img_err("convert: -B PARENT makes a new differencing VHD (needs -O vhd, not fixed, no -n)");
		return 1;
	}
	o.parent = backing;
	if (img_same_file(spath, dpath)) {
		img_err("convert: '%s' and '%s' are the same file", spath, dpath);
		return 1;
	}
	if (img_open(spath, sfmt, share, &src) < 0)
		return 1;
	if (!strcmp(dfmt, "vhd") && src->size > VHD_MAX_SIZE) {
		img_err("convert: '%s' is larger than a VHD can be (2040 GiB)", spath);
		goto out;
	}
	if (backing) {
		struct img *p;

		if (img_open(backing, "vhd", 0, &p) < 0)
			goto out;
		if (p->size < src->size) {
			img_err("convert: '%s' (%" PRIu64 " bytes) is larger than the parent '%s' "
				"(%" PRIu64 " bytes)", spath, src->size, backing, p->size);
			img_close(p);
			goto out;
		}
		img_close(p);
	}
	/* A differencing target takes its parent's size (0). */
	if (!no_create && img_create_file(dpath, dfmt, backing ? 0 : src->size, &o) < 0)
		goto out;
	/* Like qemu-img's default cache=unsafe for the target: no fdatasync unless asked. */
	if (img_open(dpath, dfmt, IMG_RDWR | (strcmp(cache, "unsafe") ? 0 : IMG_NOSYNC), &dst) < 0)
		goto out;
	if (dst->size < src->size && !(fstat(dst->fd, &st) == 0 && S_ISCHR(st.st_mode))) {
		img_err("convert: '%s' (%" PRIu64 " bytes) is smaller than '%s' (%" PRIu64 " bytes)",
			dpath, dst->size, spath, src->size);
		goto out;
	}
	memset(&cv, 0, sizeof(cv));
	cv.src = src;
	cv.dst = dst;
	/* A target we just created reads as zeros; so does a character device (/dev/null). */
	cv.src_map = src->fd >= 0 && fstat(src->fd, &st) == 0 && S_ISREG(st.st_mode);
	/* A VHD or regular file we just created reads as zeros; so does a character device
	 * (/dev/null). A block device keeps its old content: zeros must be written. */
	if (dst->vhd)
		cv.dst_zero_init = !no_create;
	else if (fstat(dst->fd, &st) == 0)
		cv.dst_zero_init = S_ISCHR(st.st_mode) || (!no_create && S_ISREG(st.st_mode));
	if (backing) {
		cv.backing = true;
		cv.dst_zero_init = false;
		cv.cmp = malloc(CONV_CHUNK);
		cv.zeros = calloc(1, CONV_CHUNK);
		if (!cv.cmp || !cv.zeros) {
			img_err("convert: out of memory");
			free(cv.cmp);
			free(cv.zeros);
			goto out;
		}
	}
	img_progress_init(&pg, progress, src->size);
	r = conv_run(&cv, &pg);
	free(cv.cmp);
	free(cv.zeros);
	if (r < 0)
		goto out;
	/* Like qemu-img's default cache=unsafe for the target: no fdatasync unless -t asks. */
	r = strcmp(cache, "unsafe") ? img_flush(dst) : 0;
	if (r < 0) {
		img_err("convert: error flushing '%s': %s", dpath, strerror(-r));
		goto out;
	}
	img_progress_end(&pg);
	ret = 0;
out:
	img_close(dst);
	img_close(src);
	return ret;
}

/* First byte offset where a and b (n bytes each) differ; n if they do not. */
static uint64_t img_first_diff(const uint8_t *a, const uint8_t *b, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i += 4096) {
		uint64_t m = n - i < 4096 ? n - i : 4096;

		if (memcmp(a + i, b + i, m)) {
			while (a[i] == b[i])
				i++;
			return i;
		}
	}
	return n;
}

/* Check that [off, end) of im reads as zeros; *where gets the first non-zero byte. */
static int img_check_zero(struct img *im, uint64_t off, uint64_t end, uint8_t *buf,
			  uint64_t *where)
{
	while (off < end) {
		enum img_kind k;
		uint64_t n, i;
		int r = img_status(im, off, end - off, true, &k, &n, NULL);

		if (r < 0)
			return r;
		if (k == IMG_DATA) {
			n = n < CONV_CHUNK ? n : CONV_CHUNK;
			r = img_read(im, buf, n, off);
			if (r < 0)
				return r;
			for (i = 0; i < n; i++)
				if (buf[i]) {
					*where = off + i;
					return 1;
				}
		}
		off += n;
	}
	return 0;
}

int img_cmd_compare(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *fa = NULL, *fb = NULL;
	bool strict = false, quiet = false, progress = false;
	unsigned share = 0;
	struct img *a = NULL, *b = NULL;
	uint8_t *ba = NULL, *bb = NULL;
	uint64_t off = 0, common, where;
	struct img_progress pg;
	int c, r, ret = 2;

	while ((c = getopt_long(argc, argv, "+f:F:pqsUh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': fa = optarg; break;
		case 'F': fb = optarg; break;
		case 'p': progress = true; break;
		case 'q': quiet = true; break;
		case 's': strict = true; break;
		case 'U': share = IMG_SHARE; break;
		case 'h':
			printf("usage: vsrv img compare [-f FMT] [-F FMT] [-p] [-q] [-s] A B\n");
			return 0;
		default: return 2;
		}
	}
	if (argc - optind != 2) {
		img_err("compare: expecting two file names");
		return 2;
	}
	if (img_open(argv[optind], fa, share, &a) < 0 ||
	    img_open(argv[optind + 1], fb, share, &b) < 0)
		goto out;
	if (posix_memalign((void **)&ba, 4096, CONV_CHUNK) || posix_memalign((void **)&bb, 4096, CONV_CHUNK)) {
		img_err("compare: out of memory");
		goto out;
	}
	if (a->size != b->size) {
		if (strict) {
			if (!quiet)
				printf("Strict mode: Image size mismatch!\n");
			ret = 1;
			goto out;
		}
		if (!quiet)
			printf("Warning: Image size mismatch!\n");
	}
	common = a->size < b->size ? a->size : b->size;
	img_progress_init(&pg, progress, common);
	while (off < common) {
		enum img_kind ka, kb;
		uint64_t na, nb, n, d;

		r = img_status(a, off, common - off, true, &ka, &na, NULL);
		if (r == 0)
			r = img_status(b, off, common - off, true, &kb, &nb, NULL);
		if (r < 0)
			goto err_io;
		n = na < nb ? na : nb;
		if (ka != IMG_DATA && kb != IMG_DATA) {
			off += n;
			img_progress_add(&pg, n);
			continue;
		}
		n = n < CONV_CHUNK - off % CONV_CHUNK ? n : CONV_CHUNK - off % CONV_CHUNK;
		if (ka == IMG_DATA)
			r = img_read(a, ba, n, off);
		else
			memset(ba, 0, n);
		if (r == 0 && kb == IMG_DATA)
			r = img_read(b, bb, n, off);
		else if (r == 0)
			memset(bb, 0, n);
		if (r < 0)
			goto err_io;
		d = img_first_diff(ba, bb, n);
		if (d < n) {
			if (!quiet)
				printf("Content mismatch at offset %" PRIu64 "!\n", off + d);
			ret = 1;
			goto out;
		}
		off += n;
		img_progress_add(&pg, n);
	}
	if (a->size != b->size) {
		struct img *big = a->size > b->size ? a : b;

		r = img_check_zero(big, common, big->size, ba, &where);
		if (r < 0)
			goto err_io;
		if (r > 0) {
			if (!quiet)
				printf("Content mismatch at offset %" PRIu64 "!\n", where);
			ret = 1;
			goto out;
		}
	}
	img_progress_end(&pg);
	if (!quiet)
		printf("Images are identical.\n");
	ret = 0;
	goto out;
err_io:
	img_err("compare: error reading near offset %" PRIu64 ": %s", off,
		*vhd_errmsg() ? vhd_errmsg() : strerror(-r));
	ret = 2;
out:
	free(ba);
	free(bb);
	img_close(b);
	img_close(a);
	return ret;
}
