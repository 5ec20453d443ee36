/* The VNC server (vnc.h): LibVNCServer's screen and clients driven by the control loop, the
 * framebuffer taken from the VM's display, and input to the VM's input router. */
#include "vmm/vnc_int.h"
#include "vmm/vnc_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define VNC_TICK_NS  (1000000000L / 30)
#define VNC_MAX_DIM  16384
#define PAGE         4096u
#define ENC_QEMU_EXT_KEY (-258)

/* The most that may wait for one client, or (vm) for all of them (vnc.h). */
static size_t backlog_bound(const struct vnc *v, bool vm)
{
	size_t screen = (size_t)v->width * v->height * 4;

	return vm ? VNC_BACKLOG_VM + 4 * screen : VNC_BACKLOG_MIN + 2 * screen;
}

/* ---- the framebuffer ---- */
static unsigned format_bpp(enum display_format f)
{
	switch (f) {
	case DISPLAY_XRGB8888: return 4;
	case DISPLAY_RGB888:   return 3;
	case DISPLAY_RGB565:
	case DISPLAY_XRGB1555: return 2;
	case DISPLAY_PAL8:     return 1;
	}
	return 0;
}

/* A mode we can serve: sizes in range and lines that fit their stride. */
static bool mode_ok(const struct display_mode *m)
{
	unsigned bpp = format_bpp(m->format);

	return bpp && m->width && m->height && m->width <= VNC_MAX_DIM &&
	       m->height <= VNC_MAX_DIM && m->stride >= (uint64_t)m->width * bpp &&
	       m->stride <= (uint64_t)VNC_MAX_DIM * 4 * 2;
}

static uint8_t expand5(unsigned v) { return (uint8_t)(v << 3 | v >> 2); }
static uint8_t expand6(unsigned v) { return (uint8_t)(v << 2 | v >> 4); }

/* Lines [y0, y1) of the display into the shadow buffer as B, G, R, X. */
static void convert_lines(struct vnc *v, uint32_t y0, uint32_t y1)
{
	const uint32_t *pal = NULL;
	uint32_t w = v->width;

	if (v->mode.format == DISPLAY_PAL8)
		pal = v->disp->ops->get_palette(v->disp->opaque);
	for (uint32_t y = y0; y < y1; y++) {
		const uint8_t *s = v->pixels + (size_t)y * v->mode.stride;
		uint8_t *d = v->shadow + (size_t)y * w * 4;

		for (uint32_t x = 0; x < w; x++, d += 4) {
			unsigned p;

			switch (v->mode.format) {
			case DISPLAY_XRGB8888:
				memcpy(d, s + x * 4, 4);
				d[3] = 0;
				break;
			case DISPLAY_RGB888:
				d[0] = s[x * 3], d[1] = s[x * 3 + 1], d[2] = s[x * 3 + 2], d[3] = 0;
				break;
			case DISPLAY_RGB565:
				p = s[x * 2] | s[x * 2 + 1] << 8;
				d[0] = expand5(p & 31), d[1] = expand6(p >> 5 & 63);
				d[2] = expand5(p >> 11), d[3] = 0;
				break;
			case DISPLAY_XRGB1555:
				p = s[x * 2] | s[x * 2 + 1] << 8;
				d[0] = expand5(p & 31), d[1] = expand5(p >> 5 & 31);
				d[2] = expand5(p >> 10 & 31), d[3] = 0;
				break;
			case DISPLAY_PAL8:
				p = pal ? pal[s[x]] : (unsigned)s[x] * 0x010101u;
				d[0] = p & 0xff, d[1] = p >> 8 & 0xff, d[2] = p >> 16 & 0xff, d[3] = 0;
				break;
			}
		}
	}
}

/* Our pixels are B, G, R, X in memory: LibVNCServer's default for 32 bpp on a
 * little-endian host is R, G, B, X. It resets the format on every rfbNewFramebuffer. */
static void fix_format(rfbScreenInfoPtr s)
{
	s->serverFormat.redShift = 16;
	s->serverFormat.greenShift = 8;
	s->serverFormat.blueShift = 0;
}

static rfbBool set_translate(rfbClientPtr cl)
{
	fix_format(cl->screen);
	return vnc_lib.rfbSetTranslateFunction(cl);
}

static void fb_free(struct vnc *v)
{
	free(v->shadow);
	free(v->prev);
	free(v->dirty);
	v->shadow = v->prev = NULL;
	v->dirty = NULL;
	v->npages = 0;
}

/* Take the display's current mode: the buffers for it, and the screen's new framebuffer
 * (a DesktopSize for clients that know it when the size changed). 0 or -ENOMEM. */
static int fb_setup(struct vnc *v)
{
	struct display_mode m = { 0 };
	const uint8_t *px = NULL;
	size_t len = 0;
	bool blank, zero_copy, resized;
	uint32_t w, h;
	char *fb;

	blank = !v->disp || v->disp->ops->get_mode(v->disp->opaque, &m) < 0 || !mode_ok(&m);
	if (!blank) {
		px = v->disp->ops->get_pixels(v->disp->opaque, &len);
		blank = !px || len < (size_t)m.stride * m.height;
	}
	if (v->have_fb && blank == v->blank &&
	    (blank || (m.generation == v->mode.generation && px == v->pixels)))
		return 0; /* unchanged */

	w = blank ? VNC_BLANK_WIDTH : m.width;
	h = blank ? VNC_BLANK_HEIGHT : m.height;
	zero_copy = !blank && m.format == DISPLAY_XRGB8888 && m.stride == w * 4;
	fb_free(v);
	if (!zero_copy && !(v->shadow = calloc((size_t)w * h, 4)))
		goto nomem;
	if (!blank) {
		v->npages = ((size_t)m.stride * h + PAGE - 1) / PAGE;
		v->dirty = calloc((v->npages + 63) / 64, 8);
		if (!v->dirty)
			goto nomem;
	}
	resized = !v->have_fb || w != v->width || h != v->height;
	v->have_fb = true;
	v->blank = blank;
	v->mode = m;
	v->pixels = px;
	v->width = w;
	v->height = h;
	v->stats.zero_copy = zero_copy;
	if (!blank && !zero_copy)
		convert_lines(v, 0, h);
	fb = zero_copy ? (char *)(uintptr_t)px : (char *)v->shadow;
	if (resized) {
		vnc_lib.rfbNewFramebuffer(v->screen, fb, (int)w, (int)h, 8, 3, 4);
		fix_format(v->screen);
		v->stats.resizes++;
		if (v->in)
			input_router_set_screen(v->in, w, h);
		if (v->relay)
			vnc_relay_set_bound(v->relay, backlog_bound(v, false), backlog_bound(v, true));
	} else {
		v->screen->frameBuffer = fb;
		vnc_lib.rfbMarkRectAsModified(v->screen, 0, 0, (int)w, (int)h);
	}
	return 0;
nomem:
	/* keep serving a small black screen; the next tick tries again */
	fb_free(v);
	{
		static uint8_t black[64 * 64 * 4];

		vnc_lib.rfbNewFramebuffer(v->screen, (char *)black, 64, 64, 8, 3, 4);
		fix_format(v->screen);
	}
	v->have_fb = false;
	v->width = v->height = 64;
	vsrv_log("vnc: no memory for a %ux%u screen", w, h);
	return -ENOMEM;
}

/* Lines [y0, y1) changed. */
static void mark_lines(struct vnc *v, uint32_t y0, uint32_t y1)
{
	if (y1 > v->height)
		y1 = v->height;
	if (y0 >= y1)
		return;
	if (v->shadow)
		convert_lines(v, y0, y1);
	vnc_lib.rfbMarkRectAsModified(v->screen, 0, (int)y0, (int)v->width, (int)y1);
	v->stats.marked++;
}

/* Without dirty pages from the display: compare each line with its last copy. */
static void compare_lines(struct vnc *v)
{
	size_t row = (size_t)v->width * format_bpp(v->mode.format);
	uint32_t y, start = UINT32_MAX;

	if (!v->prev) {
		v->prev = malloc((size_t)v->mode.stride * v->height);
		if (!v->prev)
			return;
		memcpy(v->prev, v->pixels, (size_t)v->mode.stride * v->height);
		mark_lines(v, 0, v->height);
		return;
	}
	for (y = 0; y < v->height; y++) {
		size_t off = (size_t)y * v->mode.stride;
		bool changed = memcmp(v->prev + off, v->pixels + off, row) != 0;

		if (changed) {
			memcpy(v->prev + off, v->pixels + off, row);
			if (start == UINT32_MAX)
				start = y;
		} else if (start != UINT32_MAX) {
			mark_lines(v, start, y);
			start = UINT32_MAX;
		}
	}
	if (start != UINT32_MAX)
		mark_lines(v, start, v->height);
}

/* The pages the guest wrote since the last tick, as runs of lines. */
static void fb_dirty(struct vnc *v)
{
	size_t p = 0, q;
	int ret;

	memset(v->dirty, 0, (v->npages + 63) / 64 * 8);
	ret = v->disp->ops->get_dirty ?
	      v->disp->ops->get_dirty(v->disp->opaque, v->dirty, v->npages) : -ENOTSUP;
	if (ret == -ENOTSUP) {
		compare_lines(v);
		return;
	}
	if (ret < 0)
		return;
	while (p < v->npages) {
		if (!(v->dirty[p / 64] >> (p % 64) & 1)) {
			p++;
			continue;
		}
		for (q = p; q < v->npages && (v->dirty[q / 64] >> (q % 64) & 1); q++)
			;
		/* bytes [p * PAGE, q * PAGE) cover these lines */
		mark_lines(v, (uint32_t)(p * PAGE / v->mode.stride),
			   (uint32_t)((q * PAGE + v->mode.stride - 1) / v->mode.stride));
		p = q;
	}
}

/* ---- clients ---- */
static void timer_set(struct vnc *v, bool on)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	if (on == v->timer_on)
		return;
	if (on)
		its.it_interval.tv_nsec = its.it_value.tv_nsec = VNC_TICK_NS;
	timerfd_settime(v->timer, 0, &its, NULL);
	v->timer_on = on;
}

static void send_acks(struct vnc *v);
static void ext_send_ack(rfbClientPtr cl);

/* Clients LibVNCServer closed (a protocol error, a hang-up, a write that failed): stop
 * watching them and let LibVNCServer free them. */
static void reap_clients(struct vnc *v)
{
	for (unsigned i = 0; i < v->nr_clients;) {
		rfbClientPtr cl = v->clients[i];

		if (cl->sock != RFB_INVALID_SOCKET) {
			i++;
			continue;
		}
		evloop_del(v->loop, v->client_fd[i]);
		v->nr_clients--;
		v->clients[i] = v->clients[v->nr_clients];
		v->client_fd[i] = v->client_fd[v->nr_clients];
		v->client_id[i] = v->client_id[v->nr_clients];
		v->ext_ack[i] = v->ext_ack[v->nr_clients];
		v->since_ms[i] = v->since_ms[v->nr_clients];
		vnc_lib.rfbClientConnectionGone(cl);
	}
	v->stats.clients = v->nr_clients;
	if (!v->nr_clients && !v->listen_paused)
		timer_set(v, false);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Clients still in the handshake (or authentication) after handshake_ms. */
static void drop_slow_handshakes(struct vnc *v)
{
	int64_t now = now_ms();

	for (unsigned i = 0; i < v->nr_clients; i++) {
		rfbClientPtr cl = v->clients[i];

		if (cl->sock != RFB_INVALID_SOCKET && cl->state != RFB_NORMAL &&
		    now - v->since_ms[i] > v->handshake_ms)
			vnc_lib.rfbCloseClient(cl);
	}
}

static void on_client(void *opaque, uint32_t events)
{
	rfbClientPtr cl = opaque;
	struct vnc *v = cl->clientData;

	if (events & EPOLLIN) {
		/* LibVNCServer reads the whole message, waiting for the rest: the relay passes
		 * only whole messages (a WebSocket's each in a frame of its own), and ends a
		 * read that still waits after message_ms (vnc_relay.c) */
		for (unsigned i = 0; i < v->nr_clients; i++)
			if (v->clients[i] == cl)
				vnc_relay_busy(v->relay, v->client_id[i], v->message_ms);
		vnc_lib.rfbProcessClientMessage(cl);
		vnc_relay_idle(v->relay);
	} else if (events & (EPOLLHUP | EPOLLERR))
		vnc_lib.rfbCloseClient(cl);
	if (cl->sock != RFB_INVALID_SOCKET)
		vnc_lib.rfbUpdateClient(cl); /* answer an update request at once */
	send_acks(v);
	reap_clients(v);
}

static void on_timer(void *opaque, uint32_t events)
{
	struct vnc *v = opaque;
	uint64_t n;

	(void)events;
	if (read(v->timer, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing expired */
	}
	v->stats.ticks++;
	if (v->listen_paused && evloop_mod(v->loop, v->lfd, EPOLLIN) == 0)
		v->listen_paused = false; /* out of fds a tick ago: try again */
	fb_setup(v);
	if (v->have_fb && !v->blank)
		fb_dirty(v);
	for (unsigned i = 0; i < v->nr_clients; i++)
		if (v->clients[i]->sock != RFB_INVALID_SOCKET)
			vnc_lib.rfbUpdateClient(v->clients[i]);
	send_acks(v);
	drop_slow_handshakes(v);
	reap_clients(v);
}

/* Out of fds: the listening socket stays readable; listen again next tick instead of
 * spinning (the rest wait in the backlog). */
static void listen_pause(struct vnc *v)
{
	if (evloop_mod(v->loop, v->lfd, 0) == 0) {
		v->listen_paused = true;
		timer_set(v, true);
	}
}

static void on_accept(void *opaque, uint32_t events)
{
	struct vnc *v = opaque;
	struct vnc_relay_limits lim;
	rfbClientPtr cl;
	uint64_t id;
	int fd, sp[2];

	(void)events;
	/* One connection per wake-up: the clients' own events (a hang-up that frees a place)
	 * come in between, and a flood of connections cannot starve the loop. */
	for (;;) {
		fd = accept4(v->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				listen_pause(v);
			return;
		}
		if (v->nr_clients >= VNC_MAX_CLIENTS || !v->screen) {
			close(fd);
			v->stats.refused++;
			continue;
		}
		/* LibVNCServer gets one end of a socket pair, the relay the other and the
		 * client's socket (vnc.h); it keeps fds in an fd_set: none past FD_SETSIZE */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0) {
			close(fd);
			v->stats.refused++;
			listen_pause(v); /* out of fds (or memory) */
			return;
		}
		if (v->tcp) /* as LibVNCServer did on the client's socket */
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		id = ++v->next_id;
		lim = (struct vnc_relay_limits){ .max_backlog = backlog_bound(v, false),
			.max_total = backlog_bound(v, true),
			.stall_ms = v->stall_ms, .partial_ms = v->partial_ms,
			.password = v->passwords[0] != NULL };
		if (sp[0] >= FD_SETSIZE || vnc_relay_add(v->relay, fd, sp[1], id, &lim) < 0) {
			close(sp[0]);
			close(sp[1]);
			close(fd);
			v->stats.refused++;
			continue;
		}
		fd = sp[0];
		v->stats.accepted++;
		/* it waits for a WebSocket's first bytes, and reads its HTTP request */
		vnc_relay_busy(v->relay, id, v->message_ms);
		cl = vnc_lib.rfbNewClient(v->screen, fd); /* closes fd on failure */
		vnc_relay_idle(v->relay);
		if (!cl)
			continue;
		cl->clientData = v;
		/* LibVNCServer also takes WebSocket clients (noVNC) on the same socket. On TCP
		 * without a password any web page the host's browser opens could be one: no. */
		if (cl->wsctx && v->tcp && !v->passwords[0]) {
			vnc_lib.rfbCloseClient(cl);
			vnc_lib.rfbClientConnectionGone(cl);
			v->stats.refused++;
			return;
		}
		v->clients[v->nr_clients] = cl;
		v->client_fd[v->nr_clients] = fd;
		v->client_id[v->nr_clients] = id;
		v->ext_ack[v->nr_clients] = false;
		v->since_ms[v->nr_clients] = now_ms();
		v->nr_clients++;
		if (evloop_add(v->loop, fd, EPOLLIN, on_client, cl) < 0)
			vnc_lib.rfbCloseClient(cl);
		if (v->nr_clients == 1 && cl->sock != RFB_INVALID_SOCKET) {
			fb_setup(v); /* the display may have changed while nobody watched */
			timer_set(v, true);
		}
		reap_clients(v);
		return;
	}
}

/* ---- input ---- */
static void on_key(rfbBool down, rfbKeySym sym, rfbClientPtr cl)
{
	struct vnc *v = cl->clientData;
	uint16_t code = vnc_keysym_to_key((uint32_t)sym);

	if (v->in && code)
		input_router_key(v->in, code, down);
}

static uint32_t scale_axis(int pos, uint32_t size)
{
	if (pos <= 0 || size <= 1)
		return 0;
	if ((uint32_t)pos >= size - 1)
		return INPUT_ABS_MAX;
	return (uint32_t)((uint64_t)pos * INPUT_ABS_MAX / (size - 1));
}

static void on_pointer(int mask, int x, int y, rfbClientPtr cl)
{
	struct vnc *v = cl->clientData;

	if (!v->in)
		return;
	input_router_pointer_abs(v->in, scale_axis(x, v->width), scale_axis(y, v->height),
				 (uint32_t)mask & 0x1f);
}

/* A client's clipboard (ClientCutText): counted; the guest has no clipboard to give it to. */
static void on_cut_text(char *str, int len, rfbClientPtr cl)
{
	struct vnc *v = cl->clientData;

	(void)str;
	v->stats.clipboards++;
	v->stats.clipboard_bytes += (uint64_t)len;
}

static void on_client_gone(rfbClientPtr cl)
{
	struct vnc *v = cl->clientData;
	rfbExtensionData *e, *next;

	/* LibVNCServer (0.9.14) frees a client without its list of enabled extensions */
	for (e = cl->extensions; e; e = next) {
		next = e->next;
		free(e->data);
		free(e);
	}
	cl->extensions = NULL;
	/* nor its WebSocket state (later versions free it after this hook, if not NULL) */
	free(cl->wsctx);
	cl->wsctx = NULL;

	/* keys the client held stay down in the guest otherwise */
	if (v && v->in && v->nr_clients == 0)
		input_router_release_keys(v->in);
}

static enum rfbNewClientAction on_new_client(rfbClientPtr cl)
{
	cl->clientGoneHook = on_client_gone;
	return RFB_CLIENT_ACCEPT;
}

/* ---- the QEMU extended key event (pseudo-encoding -258, message 255 sub-type 0) ---- */
static int ext_encodings[] = { ENC_QEMU_EXT_KEY, 0 };

static rfbBool ext_new_client(rfbClientPtr cl, void **data)
{
	(void)cl;
	*data = NULL;
	return TRUE;
}

/* The client announced the encoding: it is acknowledged with an empty rectangle of that
 * encoding in a framebuffer update (send_acks), after which the client sends key events as
 * scancodes. */
static rfbBool ext_enable(rfbClientPtr cl, void **data, int enc)
{
	struct vnc *v = cl->clientData;

	(void)data;
	if (enc != ENC_QEMU_EXT_KEY)
		return FALSE;
	for (unsigned i = 0; i < v->nr_clients; i++)
		if (v->clients[i] == cl)
			v->ext_ack[i] = true;
	return TRUE;
}

/* Due acknowledgements, once the client's SupportedMessages answer went out (LibVNCClient
 * replaces what it knows the server takes with that list, which does not name message 255:
 * the acknowledgement must come after it). */
static void send_acks(struct vnc *v)
{
	for (unsigned i = 0; i < v->nr_clients; i++) {
		rfbClientPtr cl = v->clients[i];

		if (!v->ext_ack[i] || cl->sock == RFB_INVALID_SOCKET || cl->enableSupportedMessages)
			continue;
		v->ext_ack[i] = false;
		ext_send_ack(cl);
	}
}

static void ext_send_ack(rfbClientPtr cl)
{
	struct {
		uint8_t type, pad;
		uint16_t nrects;
		uint16_t x, y, w, h;
		uint32_t enc;
	} __attribute__((packed)) ack = {
		.type = rfbFramebufferUpdate, .nrects = htons(1),
		.w = htons((uint16_t)cl->screen->width), .h = htons((uint16_t)cl->screen->height),
		.enc = htonl((uint32_t)ENC_QEMU_EXT_KEY),
	};

	if (vnc_lib.rfbWriteExact(cl, (char *)&ack, sizeof(ack)) < 0)
		vnc_lib.rfbCloseClient(cl);
}

static rfbBool ext_message(rfbClientPtr cl, void *data, const rfbClientToServerMsg *msg)
{
	struct vnc *v = cl->clientData;
	uint8_t b[11];
	uint32_t sym, xt;
	uint16_t code;
	int n;

	(void)data;
	if (msg->type != rfbQemuEvent)
		return FALSE;
	/* sub-type (1), down (2), keysym (4), keycode (4) */
	n = vnc_lib.rfbReadExact(cl, (char *)b, 1);
	if (n > 0 && b[0] != 0) {
		/* other sub-types (audio) are not offered: their length is unknown */
		vnc_lib.rfbCloseClient(cl);
		return TRUE;
	}
	if (n > 0)
		n = vnc_lib.rfbReadExact(cl, (char *)b + 1, 10);
	if (n <= 0) {
		vnc_lib.rfbCloseClient(cl);
		return TRUE;
	}
	sym = (uint32_t)b[3] << 24 | (uint32_t)b[4] << 16 | (uint32_t)b[5] << 8 | b[6];
	xt = (uint32_t)b[7] << 24 | (uint32_t)b[8] << 16 | (uint32_t)b[9] << 8 | b[10];
	code = vnc_xt_to_key(xt);
	if (!code)
		code = vnc_keysym_to_key(sym);
	if (v->in && code)
		input_router_key(v->in, code, (b[1] | b[2]) != 0);
	return TRUE;
}

static rfbProtocolExtension ext_qemu = {
	.newClient = ext_new_client,
	.pseudoEncodings = ext_encodings,
	.enablePseudoEncoding = ext_enable,
	.handleMessage = ext_message,
};

static void ext_register_once(void)
{
	static bool done;

	if (!done) {
		vnc_lib.rfbRegisterProtocolExtension(&ext_qemu);
		done = true;
	}
}

/* ---- the server ---- */
int vnc_open(const char *spec, struct vnc **out)
{
	char err[512];
	struct vnc *v;
	int ret;

	/* LibVNCServer is loaded here, by the first VNC server (vnc_load.h) */
	ret = vnc_lib_load(err, sizeof(err));
	if (ret < 0) {
		vsrv_log("--vnc %s: %s", spec, err);
		return ret;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->lfd = v->timer = -1;
	v->handshake_ms = VNC_HANDSHAKE_MS;
	v->stall_ms = VNC_STALL_MS;
	v->message_ms = VNC_CLIENT_WAIT_MS;
	v->partial_ms = VNC_PARTIAL_MS;
	v->spec = strdup(spec);
	if (!v->spec) {
		ret = -ENOMEM;
		goto err;
	}
	ret = vnc_listen_open(v, spec);
	if (ret < 0)
		goto err;
	v->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->timer < 0) {
		ret = -errno;
		vsrv_log("--vnc %s: timerfd: %s", spec, strerror(errno));
		goto err;
	}
	*out = v;
	return 0;
err:
	vnc_close(v);
	return ret;
}

int vnc_attach(struct vnc *v, struct evloop *loop, const struct display *disp,
	       struct input_router *in, const char *name)
{
	int ret;

	vnc_lib_setup();
	ext_register_once();
	v->loop = loop;
	v->disp = disp;
	v->in = in;
	v->screen = vnc_lib.rfbGetScreen(NULL, NULL, VNC_BLANK_WIDTH, VNC_BLANK_HEIGHT, 8, 3, 4);
	if (!v->screen) {
		vsrv_log("--vnc %s: cannot create the screen", v->spec);
		return -ENOMEM;
	}
	rfbScreenInfoPtr s = v->screen;

	s->desktopName = name ? name : "vsrv";
	s->autoPort = FALSE;
	s->port = s->ipv6port = 0;          /* we listen ourselves */
	s->httpPort = s->http6Port = 0;
	s->deferUpdateTime = 0;             /* the timer already batches */
	s->deferPtrUpdateTime = 0;
	s->maxClientWait = VNC_CLIENT_WAIT_MS;
	s->alwaysShared = TRUE;             /* a second viewer does not push out the first */
	s->cursor = NULL;                   /* never draw a cursor into the guest's memory */
	s->ptrAddEvent = on_pointer;
	s->kbdAddEvent = on_key;
	s->setXCutText = on_cut_text;
	s->newClientHook = on_new_client;
	s->setTranslateFunction = set_translate;
	if (v->passwords[0]) {
		s->authPasswdData = (void *)v->passwords;
		s->passwordCheck = vnc_lib.rfbCheckPasswordByList;
	}
	fix_format(s);
	v->have_fb = false;
	ret = fb_setup(v);
	if (ret < 0)
		goto err;
	ret = vnc_relay_start(&v->relay);
	if (ret < 0)
		goto err;
	ret = evloop_add(loop, v->lfd, EPOLLIN, on_accept, v);
	if (ret < 0)
		goto err_relay;
	ret = evloop_add(loop, v->timer, EPOLLIN, on_timer, v);
	if (ret < 0) {
		evloop_del(loop, v->lfd);
		goto err_relay;
	}
	return 0;
err_relay:
	vnc_relay_stop(v->relay);
	v->relay = NULL;
err:
	vsrv_log("--vnc %s: cannot serve: %s", v->spec, strerror(-ret));
	vnc_lib.rfbScreenCleanup(v->screen);
	v->screen = NULL;
	fb_free(v);
	return ret;
}

void vnc_detach(struct vnc *v)
{
	if (!v || !v->screen)
		return;
	for (unsigned i = 0; i < v->nr_clients; i++)
		if (v->clients[i]->sock != RFB_INVALID_SOCKET)
			vnc_lib.rfbCloseClient(v->clients[i]);
	reap_clients(v);
	vnc_relay_stop(v->relay); /* after LibVNCServer closed its ends */
	v->relay = NULL;
	v->listen_paused = false;
	timer_set(v, false);
	evloop_del(v->loop, v->timer);
	evloop_del(v->loop, v->lfd);
	vnc_lib.rfbScreenCleanup(v->screen);
	v->screen = NULL;
	fb_free(v);
	v->have_fb = false;
	v->loop = NULL;
	v->disp = NULL;
	v->in = NULL;
}

void vnc_close(struct vnc *v)
{
	if (!v)
		return;
	vnc_detach(v);
	if (v->lfd >= 0)
		close(v->lfd);
	if (v->timer >= 0)
		close(v->timer);
	if (v->unix_path)
		unlink(v->unix_path);
	free(v->unix_path);
	free(v->passwords[0]);
	free(v->spec);
	free(v);
}

void vnc_get_stats(const struct vnc *v, struct vnc_stats *out)
{
	*out = v->stats;
	if (v->relay)
		vnc_relay_get_stats(v->relay, &out->out);
}
