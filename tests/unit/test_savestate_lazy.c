/* Lazy restore of guest memory (vmm/savestate_map.h, docs/savestate.md "Restoring
 * memory"), without KVM: a guest memory with a mix of long runs, short runs and single
 * pages is written by savestate_write, the file's pages are dropped from the page cache,
 * and savestate_map_memory puts it into a fresh guest memory. Then:
 *   - it is lazy: the process read (rchar in /proc/self/io) no more than the pages it was
 *     to read, and mincore() shows the mapped pages not resident until touched;
 *   - the contents are the saved ones, page for page;
 *   - guest writes go to private copies: the file's bytes stay as saved;
 *   - a discard (the balloon's) of a mapped page reads zeros afterwards, not the file's
 *     page again (which plain MADV_DONTNEED would bring back: checked too);
 *   - the mappings are out of core dumps and offered to KSM when the RAM is;
 *   - the file may be deleted once mapped;
 *   - the mapping budget is kept (a budget of 2: the 2 longest runs mapped, the rest read,
 *     contents the same);
 *   - savestate_check_memory accepts the file, finds one flipped byte, stops when told;
 *   - the VMM's check thread (vm_memcheck_start, on a VM built by hand) stops the VM with
 *     code 1 for a flipped byte and leaves it running for a good file. */
#include "check.h"
#include "handvm.h"
#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/evloop.h"
#include "vmm/mem.h"
#include "vmm/savestate.h"
#include "vmm/savestate_file.h"
#include "vmm/savestate_map.h"

#define MEM (32ULL << 20)
#define PG 4096ULL
#define NPAGES (MEM / PG)

/* Which pages are non-zero: long runs, short runs, single pages, and zero gaps. */
static bool page_used(uint64_t i)
{
	if (i < 256)                   /* 1 MiB: one long run */
		return true;
	if (i >= 1024 && i < 3072)     /* 8 MiB: runs of 63 pages, gaps of 1 */
		return i % 64 != 0;
	if (i >= 4096 && i < 5120)     /* runs of 5 pages, gaps of 3 */
		return i % 8 < 5;
	if (i >= 6000 && i < 6400)     /* single pages */
		return i % 2 == 0;
	return i == NPAGES - 1;        /* the last page */
}

static void fill(uint8_t *p, uint64_t page)
{
	uint64_t *w = (uint64_t *)p;

	for (unsigned k = 0; k < PG / 8; k++)
		w[k] = (page << 32 | k) * 0x9e3779b97f4a7c15ULL | 1;
}

static struct guest_mem *make_mem(void)
{
	struct guest_mem *m = NULL;

	CHECK_EQ(guest_mem_create(MEM, &m), 0);
	if (!m)
		exit(1);
	for (uint64_t i = 0; i < NPAGES; i++)
		if (page_used(i))
			fill(m->host + i * PG, i);
	return m;
}

static void save(struct guest_mem *m, const char *path)
{
	struct savestate *s = NULL;
	int fd;

	CHECK_EQ(savestate_alloc(1, &s), 0);
	if (!s)
		exit(1);
	s->config.mem_size = MEM;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(savestate_write(fd, s, m->host, NULL), 0);
	CHECK_EQ(fdatasync(fd), 0);
	/* the page data leaves the page cache: a lazy restore must read it from disk */
	CHECK_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
	savestate_free(s);
}

static struct savestate *open_state(const char *path, int *fd)
{
	struct savestate *s = NULL;
	const char *why = "";

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(*fd >= 0);
	CHECK_EQ(savestate_read(*fd, &s, &why), 0);
	if (!s) {
		printf("FAIL savestate_read: %s\n", why);
		exit(1);
	}
	return s;
}

static uint64_t rchar(void)
{
	FILE *f = fopen("/proc/self/io", "re");
	char line[128];
	unsigned long long v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "rchar: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Resident pages among [p, p + pages * PG); with m, only those that are a file mapping
 * of m (*mapped: how many of those there are). */
static uint64_t resident_in(const void *p, uint64_t pages, const struct guest_mem *m,
			    uint64_t *mapped)
{
	unsigned char *vec = malloc(pages);
	uint64_t n = 0;

	if (!vec || mincore((void *)p, pages * PG, vec) < 0) {
		free(vec);
		return UINT64_MAX;
	}
	for (uint64_t i = 0; i < pages; i++) {
		if (m && !guest_mem_file_backed(m, i * PG, PG))
			continue;
		if (mapped)
			++*mapped;
		n += vec[i] & 1;
	}
	free(vec);
	return n;
}

static uint64_t resident(const void *p, uint64_t pages)
{
	return resident_in(p, pages, NULL, NULL);
}

/* Does the kernel keep this file's page data out of the page cache after
 * POSIX_FADV_DONTNEED (not tmpfs)? Then mincore can tell whether it was read. */
static bool cache_dropped(const char *path, uint64_t data_off)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t size = lseek(fd, 0, SEEK_END);
	void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	bool ok = false;

	if (p != MAP_FAILED) {
		ok = resident((uint8_t *)p + data_off, ((uint64_t)size - data_off) / PG) == 0;
		munmap(p, (size_t)size);
	}
	close(fd);
	return ok;
}

/* Every VMA of [p, p + len) has VmFlags flag (" dd", " mg")? 1, 0, -1: not all covered. */
static int vma_flag(const void *p, size_t len, const char *flag)
{
	uintptr_t lo = (uintptr_t)p, hi = lo + len, a, b, covered = 0;
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int in = 0, all = 1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = a < hi && b > lo;
			if (in)
				covered += (b < hi ? b : hi) - (a > lo ? a : lo);
		} else if (in && !strncmp(line, "VmFlags:", 8) && !strstr(line, flag)) {
			all = 0;
		}
	}
	fclose(f);
	return covered == len ? all : -1;
}

static void test_lazy_restore(void)
{
	const char *path = P("lazy.state");
	struct guest_mem *m = make_mem(), *r = NULL;
	struct savestate_map_stats st = { 0 };
	const char *why = "";
	struct savestate *s;
	uint64_t before, after, res, mapped = 0;
	uint8_t page[PG], zero[PG] = { 0 };
	bool dropped;
	int fd;

	save(m, path);
	s = open_state(path, &fd);
	/* savestate_read's reads made the kernel read ahead: drop that again (pages still
	 * being read are not dropped: try again until none is left, or give up after 100) */
	dropped = false;
	for (int i = 0; i < 100 && !dropped; i++) {
		CHECK_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
		dropped = cache_dropped(path, s->mem.data_offset);
		if (!dropped)
			usleep(10000);
	}
	CHECK_EQ(guest_mem_create(MEM, &r), 0);
	before = rchar();
	CHECK_EQ(savestate_map_memory(fd, s, r, 0, &st, &why), 0);
	after = rchar();
	close(fd);
	/* every run mapped (362 of them: within any budget), nothing read */
	CHECK_EQ(st.runs, 1 + 32 + 128 + 200 + 1);
	CHECK_EQ(st.mapped_runs, st.runs);
	CHECK_EQ(st.mapped_pages, s->mem.nr_data_pages);
	CHECK_EQ(st.read_pages, 0);
	/* lazy: the process read nothing of the page data (a few bytes: the map count) */
	CHECK(after - before < 4096);
	/* not resident: the mapped pages (untouched, the file's not in the page cache) */
	res = resident_in(r->host, NPAGES, r, &mapped);
	CHECK_EQ(mapped, st.mapped_pages);
	/* (a read-ahead of the file still in flight when its cache was dropped may land after:
	 * drop it again; a page the map touched is mapped, and so is never dropped) */
	for (int i = 0; i < 100 && dropped && res; i++) {
		int dfd = open(path, O_RDONLY | O_CLOEXEC);

		if (dfd >= 0) {
			posix_fadvise(dfd, 0, 0, POSIX_FADV_DONTNEED);
			close(dfd);
		}
		usleep(10000);
		res = resident_in(r->host, NPAGES, r, NULL);
	}
	if (dropped)
		CHECK_EQ(res, 0);
	else
		printf("SKIP lazy-mincore: this file system keeps the file in memory\n");
	/* contents: the saved ones, every page */
	CHECK_EQ(memcmp(r->host, m->host, MEM), 0);
	/* out of core dumps, like the rest of the RAM */
	CHECK_EQ(vma_flag(r->host, MEM, " dd"), 1);
	/* writes stay private: the file keeps the saved page */
	memset(r->host + 10 * PG, 0xee, PG);        /* page 10: in the first run */
	memset(r->host + 1030 * PG, 0xee, 100);     /* page 1030: in a 63-page run */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK_EQ(savestate_pread_all(fd, page, PG, s->mem.data_offset + 10 * PG), 0);
	CHECK_EQ(memcmp(page, m->host + 10 * PG, PG), 0);
	close(fd);
	CHECK_EQ(r->host[10 * PG], 0xee);
	/* a discard of a mapped page (written or not) reads zeros, its neighbours stay */
	CHECK(guest_mem_file_backed(r, 10 * PG, PG));
	CHECK_EQ(guest_mem_discard(r, r->host + 10 * PG, PG), 0);
	CHECK_EQ(guest_mem_discard(r, r->host + 20 * PG, 2 * PG), 0);
	CHECK_EQ(memcmp(r->host + 10 * PG, zero, PG), 0);
	CHECK_EQ(memcmp(r->host + 20 * PG, zero, PG), 0);
	CHECK_EQ(memcmp(r->host + 21 * PG, zero, PG), 0);
	CHECK_EQ(memcmp(r->host + 9 * PG, m->host + 9 * PG, PG), 0);
	CHECK_EQ(memcmp(r->host + 11 * PG, m->host + 11 * PG, PG), 0);
	CHECK_EQ(memcmp(r->host + 22 * PG, m->host + 22 * PG, PG), 0);
	CHECK(!guest_mem_file_backed(r, 10 * PG, PG));
	r->host[10 * PG] = 7;                        /* fresh memory, usable */
	CHECK_EQ(r->host[10 * PG], 7);
	/* a range over mapped and anonymous pages and a second discard */
	CHECK_EQ(guest_mem_discard(r, r->host + 1020 * PG, 16 * PG), 0);
	CHECK_EQ(guest_mem_discard(r, r->host + 10 * PG, PG), 0);
	for (uint64_t i = 1020; i < 1036; i++)
		CHECK_EQ(memcmp(r->host + i * PG, zero, PG), 0);
	CHECK_EQ(memcmp(r->host + 10 * PG, zero, PG), 0);
	CHECK_EQ(memcmp(r->host + 1036 * PG, m->host + 1036 * PG, PG), 0);
	CHECK_EQ(vma_flag(r->host, MEM, " dd"), 1);
	/* why the discard cannot be MADV_DONTNEED there: the file's page comes back */
	memset(r->host + 30 * PG, 0, PG);
	CHECK_EQ(madvise(r->host + 30 * PG, PG, MADV_DONTNEED), 0);
	CHECK_EQ(memcmp(r->host + 30 * PG, m->host + 30 * PG, PG), 0);
	guest_mem_destroy(r);
	savestate_free(s);
	guest_mem_destroy(m);
}

/* The pages are there after the file is deleted (the mapping holds it). */
static void test_deleted_file(void)
{
	const char *path = P("deleted.state");
	struct guest_mem *m = make_mem(), *r = NULL;
	const char *why = "";
	struct savestate *s;
	int fd;

	save(m, path);
	s = open_state(path, &fd);
	CHECK_EQ(guest_mem_create(MEM, &r), 0);
	CHECK_EQ(savestate_map_memory(fd, s, r, 0, NULL, &why), 0);
	close(fd);
	CHECK_EQ(unlink(path), 0);
	CHECK_EQ(memcmp(r->host, m->host, MEM), 0);
	guest_mem_destroy(r);
	savestate_free(s);
	guest_mem_destroy(m);
}

/* A budget of 2 mappings: the two longest runs are mapped, everything else read. */
static void test_budget(void)
{
	const char *path = P("budget.state");
	struct guest_mem *m = make_mem(), *r = NULL;
	struct savestate_map_stats st = { 0 };
	const char *why = "";
	struct savestate *s;
	int fd;

	save(m, path);
	s = open_state(path, &fd);
	CHECK_EQ(guest_mem_create(MEM, &r), 0);
	CHECK_EQ(savestate_map_memory(fd, s, r, 2, &st, &why), 0);
	close(fd);
	CHECK_EQ(st.mapped_runs, 2);
	CHECK_EQ(st.mapped_pages, 256 + 63);  /* the 1 MiB run and one run of 63 */
	CHECK_EQ(st.mapped_pages + st.read_pages, s->mem.nr_data_pages);
	CHECK_EQ(st.runs, 1 + 32 + 128 + 200 + 1);
	CHECK_EQ(memcmp(r->host, m->host, MEM), 0);
	guest_mem_destroy(r);
	savestate_free(s);
	guest_mem_destroy(m);
}

/* With KSM asked for, the new mappings are offered too. */
static void test_merge(void)
{
	const char *path = P("merge.state");
	struct guest_mem *m = make_mem(), *r = NULL;
	const char *why = "";
	struct savestate *s;
	int fd;

	if (access("/sys/kernel/mm/ksm", F_OK)) {
		printf("SKIP lazy-merge: this host's kernel has no KSM\n");
		guest_mem_destroy(m);
		return;
	}
	save(m, path);
	s = open_state(path, &fd);
	CHECK_EQ(guest_mem_create(MEM, &r), 0);
	CHECK_EQ(guest_mem_merge(r, 1), 0);
	CHECK_EQ(savestate_map_memory(fd, s, r, 0, NULL, &why), 0);
	close(fd);
	CHECK_EQ(vma_flag(r->host, MEM, " mg"), 1);
	CHECK_EQ(guest_mem_discard(r, r->host + 100 * PG, 4 * PG), 0);
	CHECK_EQ(vma_flag(r->host, MEM, " mg"), 1);
	CHECK_EQ(memcmp(r->host + 104 * PG, m->host + 104 * PG, PG), 0);
	guest_mem_destroy(r);
	savestate_free(s);
	guest_mem_destroy(m);
}

static void test_check_crc(void)
{
	const char *path = P("crc.state"), *bad = P("crc-bad.state");
	struct guest_mem *m = make_mem();
	const char *why = "";
	struct savestate *s;
	int fd, fd2, stop = 1;
	uint8_t b;

	save(m, path);
	s = open_state(path, &fd);
	CHECK_EQ(savestate_check_memory(fd, s, NULL, &why), 0);
	CHECK_EQ(savestate_check_memory(fd, s, &stop, &why), -ECANCELED);
	/* one byte of one page flipped (a copy of the file): the CRC finds it */
	{
		char cmd[1100];

		snprintf(cmd, sizeof(cmd), "cp %s %s", path, bad);
		CHECK_EQ(system(cmd), 0);
	}
	fd2 = open(bad, O_RDWR | O_CLOEXEC);
	CHECK(fd2 >= 0);
	CHECK_EQ(pread(fd2, &b, 1, (off_t)(s->mem.data_offset + 300 * PG + 17)), 1);
	b ^= 0x10;
	CHECK_EQ(pwrite(fd2, &b, 1, (off_t)(s->mem.data_offset + 300 * PG + 17)), 1);
	CHECK_EQ(savestate_check_memory(fd2, s, NULL, &why), -EINVAL);
	CHECK(strstr(why, "CRC mismatch") != NULL);
	/* cut short after the restore opened it */
	CHECK_EQ(ftruncate(fd2, (off_t)(s->mem.data_offset + 10 * PG)), 0);
	CHECK_EQ(savestate_check_memory(fd2, s, NULL, &why), -EINVAL);
	CHECK(strstr(why, "truncated") != NULL);
	close(fd2);
	close(fd);
	savestate_free(s);
	guest_mem_destroy(m);
}

/* Ends a loop that nothing else ended within 30 s (code 99), so a broken check cannot hang
 * the test. */
static void *watchdog(void *arg)
{
	for (int i = 0; i < 3000; i++) {
		usleep(10000);
		if (__atomic_load_n(&((struct vm *)arg)->stopping, __ATOMIC_ACQUIRE))
			return NULL;
	}
	evloop_stop(((struct vm *)arg)->loop, 99);
	return NULL;
}

/* The check thread of a lazy restore against a VM built by hand: status 1 and the VM
 * stopped for a flipped byte; a good file leaves it alone. */
static void test_memcheck_thread(void)
{
	const char *path = P("thread.state"), *bad = P("thread-bad.state");
	struct vm_config cfg = { .mem_size = MEM };
	struct guest_mem *m = make_mem();
	struct savestate *s;
	struct vm *vm;
	pthread_t w;
	char cmd[1100];
	uint8_t b;
	int fd, fd2;

	save(m, path);
	snprintf(cmd, sizeof(cmd), "cp %s %s", path, bad);
	CHECK_EQ(system(cmd), 0);
	s = open_state(path, &fd);
	fd2 = open(bad, O_RDWR | O_CLOEXEC);
	CHECK_EQ(pread(fd2, &b, 1, (off_t)(s->mem.data_offset + 1500 * PG)), 1);
	b ^= 1;
	CHECK_EQ(pwrite(fd2, &b, 1, (off_t)(s->mem.data_offset + 1500 * PG)), 1);
	/* corrupt: the loop ends with code 1 */
	vm = handvm_new(&cfg, MEM);
	CHECK(vm != NULL);
	if (!vm)
		return;
	CHECK_EQ(vm_memcheck_start(vm, fd2, s, bad), 0);
	close(fd2); /* the check has its own */
	CHECK_EQ(pthread_create(&w, NULL, watchdog, vm), 0);
	CHECK_EQ(evloop_run(vm->loop), 1);
	pthread_join(w, NULL);
	vm_memcheck_stop(vm->memcheck);
	handvm_free(vm);
	/* good: the check ends (VSRV_STATS logs it: stderr goes to a file meanwhile), and
	 * nothing stopped the VM */
	vm = handvm_new(&cfg, MEM);
	CHECK(vm != NULL);
	if (!vm)
		return;
	{
		int log = open(P("thread.log"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int saved = dup(2);
		char text[512] = "";
		bool seen = false;

		CHECK(log >= 0 && saved >= 0);
		setenv("VSRV_STATS", "1", 1);
		dup2(log, 2);
		CHECK_EQ(vm_memcheck_start(vm, fd, s, path), 0);
		for (int i = 0; i < 3000 && !seen; i++) {
			ssize_t n = pread(log, text, sizeof(text) - 1, 0);

			text[n > 0 ? n : 0] = 0;
			seen = strstr(text, "the guest memory's CRC checked") != NULL;
			if (!seen)
				usleep(10000);
		}
		vm_memcheck_stop(vm->memcheck);
		dup2(saved, 2);
		close(saved);
		close(log);
		unsetenv("VSRV_STATS");
		CHECK(seen);
	}
	CHECK_EQ(__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE), 0);
	handvm_free(vm);
	close(fd);
	savestate_free(s);
	guest_mem_destroy(m);
}

int main(void)
{
	if (scratch_make("vsrv-lazy"))
		return 1;
	RUN(test_lazy_restore);
	RUN(test_deleted_file);
	RUN(test_budget);
	RUN(test_merge);
	RUN(test_check_crc);
	RUN(test_memcheck_thread);
	scratch_remove();
	return check_done();
}
