/* The VNC server's test rig (tests/unit/test_vnc*.c): a display the test owns (a buffer in
 * place of the guest's framebuffer, with its mode, palette and dirty pages set by the test),
 * a recording input sink, the input router, an evloop on its own thread and vsrv's VNC
 * server on a Unix socket; clients are LibVNCClient's or raw sockets. */
#ifndef VSRV_TESTS_UNIT_VNCRIG_H
#define VSRV_TESTS_UNIT_VNCRIG_H

#include <errno.h>
#include <pthread.h>
#include <rfb/rfbclient.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/evloop.h"
#include "vmm/input_router.h"
#include "vmm/vnc.h"

#define RIG_MAX_EVENTS 64

struct rig {
	pthread_mutex_t lock;           /* the display's state and the sink's records */
	struct display_mode mode;
	bool blank;
	bool no_dirty;                  /* get_dirty: -ENOTSUP */
	unsigned mode_reads;            /* get_mode calls (the server reads it every tick) */
	uint8_t *buf;                   /* the "guest" framebuffer */
	size_t len;
	/* buffers of earlier modes, which the server may still be reading (as guest memory,
	 * they must not go away under it): freed when it asks for the pixels again */
	uint8_t **retired;
	size_t nretired;
	uint32_t palette[256];
	uint64_t dirty[512];            /* up to 32768 pages */
	/* the sink */
	int keys[RIG_MAX_EVENTS][2];
	int nkeys;
	uint32_t ax, ay, abuttons;
	int nabs;

	struct display disp;
	struct input_router *in;
	struct evloop *loop;
	struct vnc *vnc;
	pthread_t th;
	char path[108];
};

static inline int rig_get_mode(void *o, struct display_mode *m)
{
	struct rig *r = o;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	r->mode_reads++;
	if (r->blank)
		ret = -ENODATA;
	else
		*m = r->mode;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static inline void rig_free_retired(struct rig *r)
{
	for (size_t i = 0; i < r->nretired; i++)
		free(r->retired[i]);
	free(r->retired);
	r->retired = NULL;
	r->nretired = 0;
}

/* The server's thread: it asks for the pixels at the start of a tick, done with the buffer
 * it had (which is the current one or a retired one). */
static inline const uint8_t *rig_get_pixels(void *o, size_t *len)
{
	struct rig *r = o;
	const uint8_t *p;

	pthread_mutex_lock(&r->lock);
	rig_free_retired(r);
	p = r->blank ? NULL : r->buf;
	*len = r->len;
	pthread_mutex_unlock(&r->lock);
	return p;
}

static inline const uint32_t *rig_get_palette(void *o)
{
	return ((struct rig *)o)->palette;
}

static inline int rig_get_dirty(void *o, uint64_t *bitmap, size_t npages)
{
	struct rig *r = o;

	if (r->no_dirty)
		return -ENOTSUP;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < npages && i < 512 * 64; i++)
		if (r->dirty[i / 64] >> (i % 64) & 1)
			bitmap[i / 64] |= 1ULL << (i % 64);
	memset(r->dirty, 0, sizeof(r->dirty));
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static const struct display_ops rig_display_ops = {
	.get_mode = rig_get_mode, .get_pixels = rig_get_pixels,
	.get_palette = rig_get_palette, .get_dirty = rig_get_dirty,
};

static inline int rig_key(void *o, uint16_t code, bool down)
{
	struct rig *r = o;

	pthread_mutex_lock(&r->lock);
	if (r->nkeys < RIG_MAX_EVENTS) {
		r->keys[r->nkeys][0] = code;
		r->keys[r->nkeys][1] = down;
		r->nkeys++;
	}
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static inline int rig_abs(void *o, uint32_t x, uint32_t y, uint32_t b)
{
	struct rig *r = o;

	pthread_mutex_lock(&r->lock);
	r->ax = x, r->ay = y, r->abuttons = b, r->nabs++;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static const struct input_sink_ops rig_sink_ops = { .key = rig_key, .pointer_abs = rig_abs };

/* Set a mode with a fresh buffer (generation + 1). The old one is retired, not freed: the
 * server may be reading it now (freeing it here was a use after free on the server's
 * thread, in convert_lines or in LibVNCServer's update). */
static inline void rig_set_mode(struct rig *r, uint32_t w, uint32_t h, uint32_t stride,
			 enum display_format f)
{
	uint8_t **more;

	pthread_mutex_lock(&r->lock);
	if (r->buf) {
		more = realloc(r->retired, (r->nretired + 1) * sizeof(*more));
		if (!more)
			abort(); /* a test without memory: stop here, never free under the server */
		r->retired = more;
		r->retired[r->nretired++] = r->buf;
	}
	r->len = (size_t)stride * h;
	r->buf = calloc(1, r->len);
	r->mode.width = w, r->mode.height = h, r->mode.stride = stride, r->mode.format = f;
	r->mode.generation++;
	r->blank = false;
	pthread_mutex_unlock(&r->lock);
}

/* Bytes [off, off + n) were written. */
static inline void rig_mark(struct rig *r, size_t off, size_t n)
{
	pthread_mutex_lock(&r->lock);
	for (size_t p = off / 4096; p < (off + n + 4095) / 4096 && p < 512 * 64; p++)
		r->dirty[p / 64] |= 1ULL << (p % 64);
	pthread_mutex_unlock(&r->lock);
}

static inline void *rig_thread(void *o)
{
	evloop_run(((struct rig *)o)->loop);
	return NULL;
}

static inline int rig_start(struct rig *r, const char *spec_opts)
{
	struct input_sink s = { &rig_sink_ops, r };
	char spec[200];

	pthread_mutex_init(&r->lock, NULL);
	snprintf(r->path, sizeof(r->path), "/tmp/vsrv-vnc-%d-%p.sock", (int)getpid(), (void *)r);
	snprintf(spec, sizeof(spec), "unix:%s%s", r->path, spec_opts ? spec_opts : "");
	r->disp.ops = &rig_display_ops;
	r->disp.opaque = r;
	if (evloop_create(&r->loop) || input_router_create(&r->in) ||
	    input_router_add_sink(r->in, &s, INPUT_PRIO_VIRTIO) ||
	    vnc_open(spec, &r->vnc) ||
	    vnc_attach(r->vnc, r->loop, &r->disp, r->in, "rig"))
		return -1;
	return pthread_create(&r->th, NULL, rig_thread, r) ? -1 : 0;
}

static inline void rig_stop(struct rig *r)
{
	evloop_stop(r->loop, 0);
	pthread_join(r->th, NULL);
	vnc_close(r->vnc);
	input_router_destroy(r->in);
	evloop_destroy(r->loop);
	rig_free_retired(r);
	free(r->buf);
	pthread_mutex_destroy(&r->lock);
}

/* The server's counters, read on the loop's thread. */
struct rig_stats_req {
	struct rig *r;
	struct vnc_stats st;
	int done;
};

static inline void rig_stats_fn(void *o)
{
	struct rig_stats_req *q = o;

	vnc_get_stats(q->r->vnc, &q->st);
	__atomic_store_n(&q->done, 1, __ATOMIC_SEQ_CST);
}

static inline inline struct vnc_stats rig_stats(struct rig *r)
{
	struct rig_stats_req q = { .r = r };

	evloop_post(r->loop, rig_stats_fn, &q);
	while (!__atomic_load_n(&q.done, __ATOMIC_SEQ_CST))
		usleep(1000);
	return q.st;
}

static inline inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A raw client socket on the rig (receive timeout 10 s: a test never hangs). */
static inline inline int rig_connect(struct rig *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 10, 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, r->path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

#endif
