/* The VNC server (src/vmm/vnc.c) against LibVNCClient: the framebuffer it receives equals the
 * display's pixels (zero copy and converted formats), only the lines of dirty pages are sent
 * again, a mode change is a new desktop size, keys (keysyms and QEMU extended key events)
 * and the pointer reach the input sink as Linux codes and scaled positions. Clients that
 * send garbage, vanish mid-update or stall are in test_vnc_hostile.c. */
#include <linux/input-event-codes.h>
#include <rfb/keysym.h>
#include <signal.h>
#include <sys/stat.h>

#include "check.h"
#include "vncrig.h"
#include "vncraw.h"

static int cli_tag;

struct cli {
	rfbClient *c;
	MallocFrameBufferProc orig_malloc;
	int rects;
	long area;
	int miny, maxy;     /* lines covered by rectangles since cli_reset */
	int resizes;
};

static struct cli *cli_of(rfbClient *c)
{
	return rfbClientGetClientData(c, &cli_tag);
}

static void cli_update(rfbClient *c, int x, int y, int w, int h)
{
	struct cli *k = cli_of(c);

	(void)x;
	k->rects++;
	k->area += (long)w * h;
	if (y < k->miny)
		k->miny = y;
	if (y + h > k->maxy)
		k->maxy = y + h;
}

static rfbBool cli_malloc(rfbClient *c)
{
	struct cli *k = cli_of(c);

	k->resizes++;
	return k->orig_malloc(c);
}

static void cli_reset(struct cli *k)
{
	k->rects = 0;
	k->area = 0;
	k->miny = 1 << 30;
	k->maxy = -1;
}

static void quiet(const char *fmt, ...)
{
	(void)fmt;
}

static const char *cli_password;

static char *cli_get_password(rfbClient *c)
{
	(void)c;
	return strdup(cli_password ? cli_password : "");
}

static int cli_open(struct cli *k, struct rig *r)
{
	rfbClientLog = rfbClientErr = quiet;
	memset(k, 0, sizeof(*k));
	cli_reset(k);
	k->c = rfbGetClient(8, 3, 4);
	free(k->c->serverHost); /* rfbGetClient's "" */
	k->c->serverHost = strdup(r->path);
	k->c->appData.encodingsString = "raw";
	k->c->canHandleNewFBSize = TRUE;
	k->orig_malloc = k->c->MallocFrameBuffer;
	k->c->MallocFrameBuffer = cli_malloc;
	k->c->GotFrameBufferUpdate = cli_update;
	k->c->GetPassword = cli_get_password;
	rfbClientSetClientData(k->c, &cli_tag, k);
	if (!rfbInitClient(k->c, NULL, NULL)) {
		k->c = NULL; /* freed by rfbInitClient */
		return -1;
	}
	return 0;
}

static void cli_close(struct cli *k)
{
	if (!k->c)
		return;
	free(k->c->frameBuffer);
	k->c->frameBuffer = NULL;
	rfbClientCleanup(k->c);
	k->c = NULL;
}

/* Handle server messages for up to secs (less when done(k) turns true). */
static bool cli_pump(struct cli *k, double secs, bool (*done)(struct cli *, void *), void *arg)
{
	double end = now_s() + secs;

	while (now_s() < end) {
		if (done && done(k, arg))
			return true;
		int n = WaitForMessage(k->c, 20000);
		if (n < 0)
			return false;
		if (n > 0 && !HandleRFBServerMessage(k->c))
			return false;
	}
	return done ? done(k, arg) : true;
}

/* The pattern's pixel (x, y) as 0xRRGGBB for a salt. */
static uint32_t pat(uint32_t x, uint32_t y, uint32_t salt)
{
	uint32_t v = (x * 2654435761u) ^ (y * 40503u) ^ salt;

	return (v ^ v >> 13) & 0xffffff;
}

/* What the client holds at (x, y) as 0xRRGGBB. */
static uint32_t cli_pixel(rfbClient *c, int x, int y)
{
	uint32_t p;
	rfbPixelFormat *f = &c->format;

	memcpy(&p, c->frameBuffer + ((size_t)y * c->width + x) * 4, 4);
	return ((p >> f->redShift) & 0xff) << 16 | ((p >> f->greenShift) & 0xff) << 8 |
	       ((p >> f->blueShift) & 0xff);
}

/* The expected pixels: what the display shows, as 0xRRGGBB (converted as the server must). */
struct expect {
	uint32_t w, h;
	uint32_t *rgb;
};

static bool cli_matches(struct cli *k, void *arg)
{
	struct expect *e = arg;

	if (!k->c->frameBuffer || (uint32_t)k->c->width != e->w || (uint32_t)k->c->height != e->h)
		return false;
	for (uint32_t y = 0; y < e->h; y++)
		for (uint32_t x = 0; x < e->w; x++)
			if (cli_pixel(k->c, (int)x, (int)y) != e->rgb[y * e->w + x])
				return false;
	return true;
}

static uint8_t expand5(unsigned v) { return (uint8_t)(v << 3 | v >> 2); }
static uint8_t expand6(unsigned v) { return (uint8_t)(v << 2 | v >> 4); }

/* Fill the rig's buffer (lines y0..y1) from the pattern in its format; e gets the colours. */
static void draw(struct rig *r, struct expect *e, uint32_t y0, uint32_t y1, uint32_t salt)
{
	struct display_mode *m = &r->mode;

	pthread_mutex_lock(&r->lock);
	for (uint32_t y = y0; y < y1; y++) {
		uint8_t *l = r->buf + (size_t)y * m->stride;

		for (uint32_t x = 0; x < m->width; x++) {
			uint32_t c = pat(x, y, salt), rr = c >> 16, g = c >> 8 & 0xff, b = c & 0xff, v;

			switch (m->format) {
			case DISPLAY_XRGB8888:
				v = c | 0xab000000u; /* X is ignored */
				memcpy(l + x * 4, &v, 4);
				break;
			case DISPLAY_RGB888:
				l[x * 3] = (uint8_t)b, l[x * 3 + 1] = (uint8_t)g, l[x * 3 + 2] = (uint8_t)rr;
				break;
			case DISPLAY_RGB565:
				v = (rr >> 3) << 11 | (g >> 2) << 5 | b >> 3;
				l[x * 2] = (uint8_t)v, l[x * 2 + 1] = (uint8_t)(v >> 8);
				c = (uint32_t)expand5(rr >> 3) << 16 | (uint32_t)expand6(g >> 2) << 8 |
				    expand5(b >> 3);
				break;
			case DISPLAY_XRGB1555:
				v = (rr >> 3) << 10 | (g >> 3) << 5 | b >> 3;
				l[x * 2] = (uint8_t)v, l[x * 2 + 1] = (uint8_t)(v >> 8);
				c = (uint32_t)expand5(rr >> 3) << 16 | (uint32_t)expand5(g >> 3) << 8 |
				    expand5(b >> 3);
				break;
			case DISPLAY_PAL8:
				l[x] = (uint8_t)c;
				c = r->palette[(uint8_t)c];
				break;
			}
			e->rgb[y * e->w + x] = c;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

static void expect_init(struct expect *e, uint32_t w, uint32_t h)
{
	free(e->rgb);
	e->w = w, e->h = h;
	e->rgb = calloc((size_t)w * h, 4);
}

/* One format: the first full frame equals the pattern; then a band of lines changes, its
 * pages are marked dirty, and only lines of those pages are sent. */
static void check_format(uint32_t w, uint32_t h, uint32_t stride, enum display_format f,
			 int zero_copy)
{
	struct rig r = { 0 };
	struct expect e = { 0 };
	struct cli k;

	for (int i = 0; i < 256; i++)
		r.palette[i] = pat((uint32_t)i, 7, 99);
	rig_set_mode(&r, w, h, stride, f);
	expect_init(&e, w, h);
	draw(&r, &e, 0, h, 1);
	CHECK_EQ(rig_start(&r, NULL), 0);
	CHECK_EQ(cli_open(&k, &r), 0);
	if (!k.c)
		goto out;
	CHECK(cli_pump(&k, 10, cli_matches, &e));
	CHECK_EQ(rig_stats(&r).zero_copy, zero_copy);

	/* lines 100..109 change and their bytes are marked */
	cli_pump(&k, 0.2, NULL, NULL); /* nothing else pending */
	cli_reset(&k);
	draw(&r, &e, 100, 110, 2);
	rig_mark(&r, (size_t)100 * stride, (size_t)10 * stride);
	CHECK(cli_pump(&k, 10, cli_matches, &e));
	cli_pump(&k, 0.3, NULL, NULL); /* and nothing more comes */
	size_t p0 = (size_t)100 * stride / 4096, p1 = ((size_t)110 * stride + 4095) / 4096;
	CHECK(k.rects >= 1);
	CHECK(k.miny >= (int)(p0 * 4096 / stride));
	CHECK(k.maxy <= (int)((p1 * 4096 + stride - 1) / stride));
	CHECK(k.area <= (long)w * (long)((p1 - p0) * 4096 / stride + 2));
out:
	cli_close(&k);
	rig_stop(&r);
	free(e.rgb);
}

static void test_xrgb8888_zero_copy(void)
{
	check_format(320, 200, 320 * 4, DISPLAY_XRGB8888, 1);
}

static void test_xrgb8888_padded_stride(void)
{
	check_format(320, 200, 320 * 4 + 64, DISPLAY_XRGB8888, 0);
}

static void test_rgb565(void)
{
	check_format(300, 200, 600, DISPLAY_RGB565, 0);
}

static void test_xrgb1555(void)
{
	check_format(320, 200, 640, DISPLAY_XRGB1555, 0);
}

static void test_rgb888(void)
{
	check_format(320, 200, 960, DISPLAY_RGB888, 0);
}

static void test_pal8(void)
{
	check_format(320, 200, 320, DISPLAY_PAL8, 0);
}

/* A display without dirty tracking: changed lines found by comparing. */
static void test_no_dirty_log(void)
{
	struct rig r = { .no_dirty = true };
	struct expect e = { 0 };
	struct cli k;

	rig_set_mode(&r, 256, 128, 1024, DISPLAY_XRGB8888);
	expect_init(&e, 256, 128);
	draw(&r, &e, 0, 128, 3);
	CHECK_EQ(rig_start(&r, NULL), 0);
	CHECK_EQ(cli_open(&k, &r), 0);
	if (k.c) {
		CHECK(cli_pump(&k, 10, cli_matches, &e));
		cli_pump(&k, 0.2, NULL, NULL);
		cli_reset(&k);
		draw(&r, &e, 50, 52, 4);
		CHECK(cli_pump(&k, 10, cli_matches, &e));
		CHECK(k.miny >= 50);
		CHECK(k.maxy <= 52);
	}
	cli_close(&k);
	rig_stop(&r);
	free(e.rgb);
}

struct mode_wait {
	struct rig *r;
	unsigned reads;
};

static bool mode_read_since(struct cli *k, void *arg)
{
	struct mode_wait *w = arg;
	bool read;

	(void)k;
	pthread_mutex_lock(&w->r->lock);
	read = w->r->mode_reads != w->reads;
	pthread_mutex_unlock(&w->r->lock);
	return read;
}

/* Until the server read the display's mode (it does every tick) after this call: it took a
 * mode set before. The client is served meanwhile (a server writing to it must not stall). */
static bool server_took_mode(struct cli *k, struct rig *r)
{
	struct mode_wait w = { r, 0 };

	pthread_mutex_lock(&r->lock);
	w.reads = r->mode_reads;
	pthread_mutex_unlock(&r->lock);
	return cli_pump(k, 10, mode_read_since, &w);
}

static bool cli_size_is(struct cli *k, void *arg)
{
	const int *wh = arg;

	return k->c->width == wh[0] && k->c->height == wh[1];
}

/* A mode change is a new desktop size with the new pixels; no mode is a black 640 x 480. */
static void test_mode_change(void)
{
	struct rig r = { 0 };
	struct expect e = { 0 };
	struct cli k;
	int blank[2] = { VNC_BLANK_WIDTH, VNC_BLANK_HEIGHT };

	rig_set_mode(&r, 320, 200, 1280, DISPLAY_XRGB8888);
	expect_init(&e, 320, 200);
	draw(&r, &e, 0, 200, 5);
	CHECK_EQ(rig_start(&r, NULL), 0);
	CHECK_EQ(cli_open(&k, &r), 0);
	if (!k.c)
		goto out;
	CHECK(cli_pump(&k, 10, cli_matches, &e));
	int resizes = k.resizes;

	rig_set_mode(&r, 400, 300, 1600, DISPLAY_XRGB8888);
	expect_init(&e, 400, 300);
	CHECK(server_took_mode(&k, &r));
	draw(&r, &e, 0, 300, 6);
	rig_mark(&r, 0, r.len); /* as KVM's dirty log shows the guest's writes */
	CHECK(cli_pump(&k, 10, cli_matches, &e));
	CHECK_EQ(k.resizes, resizes + 1);
	CHECK_EQ(k.c->width, 400);
	CHECK_EQ(k.c->height, 300);
	/* the same size in another format: no new size, new pixels */
	rig_set_mode(&r, 400, 300, 800, DISPLAY_RGB565);
	CHECK(server_took_mode(&k, &r));
	draw(&r, &e, 0, 300, 7);
	rig_mark(&r, 0, r.len);
	CHECK(cli_pump(&k, 10, cli_matches, &e));
	CHECK_EQ(k.resizes, resizes + 1);
	/* the guest turns the display off */
	pthread_mutex_lock(&r.lock);
	r.blank = true;
	pthread_mutex_unlock(&r.lock);
	CHECK(cli_pump(&k, 10, cli_size_is, blank));
	expect_init(&e, VNC_BLANK_WIDTH, VNC_BLANK_HEIGHT);
	CHECK(cli_pump(&k, 10, cli_matches, &e));
	/* absurd modes are a blank screen too, never a read past the buffer */
	rig_set_mode(&r, 100000, 100, 400000, DISPLAY_XRGB8888);
	cli_pump(&k, 0.3, NULL, NULL);
	CHECK_EQ(k.c->width, VNC_BLANK_WIDTH);
	rig_set_mode(&r, 64, 64, 64, DISPLAY_XRGB8888); /* stride < width * 4 */
	cli_pump(&k, 0.3, NULL, NULL);
	CHECK_EQ(k.c->width, VNC_BLANK_WIDTH);
	rig_set_mode(&r, 64, 64, 256, DISPLAY_XRGB8888);
	pthread_mutex_lock(&r.lock);
	r.mode.height = 65; /* more lines than the buffer holds */
	r.mode.generation++;
	pthread_mutex_unlock(&r.lock);
	cli_pump(&k, 0.3, NULL, NULL);
	CHECK_EQ(k.c->width, VNC_BLANK_WIDTH);
	CHECK(rig_stats(&r).resizes >= 3);
out:
	cli_close(&k);
	rig_stop(&r);
	free(e.rgb);
}

static bool keys_at_least(struct rig *r, int n)
{
	double end = now_s() + 10;
	bool ok;

	do {
		pthread_mutex_lock(&r->lock);
		ok = r->nkeys >= n;
		pthread_mutex_unlock(&r->lock);
		if (!ok)
			usleep(2000);
	} while (!ok && now_s() < end);
	return ok;
}

/* Keysyms through the US table, scancodes through the extended key event. */
static void test_keys(void)
{
	struct rig r = { 0 };
	struct cli k;

	rig_set_mode(&r, 64, 64, 256, DISPLAY_XRGB8888);
	CHECK_EQ(rig_start(&r, NULL), 0);
	CHECK_EQ(cli_open(&k, &r), 0);
	if (!k.c)
		goto out;
	cli_pump(&k, 0.3, NULL, NULL); /* the first update, and the extended key event's ack */
	CHECK(SendKeyEvent(k.c, XK_a, TRUE));
	CHECK(SendKeyEvent(k.c, XK_a, FALSE));
	CHECK(SendKeyEvent(k.c, XK_Return, TRUE));
	CHECK(SendKeyEvent(k.c, XK_Return, FALSE));
	CHECK(SendKeyEvent(k.c, XK_Shift_L, TRUE));
	CHECK(SendKeyEvent(k.c, XK_exclam, TRUE));  /* Shift+1 on a US keyboard */
	CHECK(SendKeyEvent(k.c, XK_exclam, FALSE));
	CHECK(SendKeyEvent(k.c, XK_Shift_L, FALSE));
	CHECK(SendKeyEvent(k.c, XK_F5, TRUE));
	CHECK(SendKeyEvent(k.c, XK_F5, FALSE));
	CHECK(keys_at_least(&r, 10));
	static const int want1[10][2] = {
		{ KEY_A, 1 }, { KEY_A, 0 }, { KEY_ENTER, 1 }, { KEY_ENTER, 0 },
		{ KEY_LEFTSHIFT, 1 }, { KEY_1, 1 }, { KEY_1, 0 }, { KEY_LEFTSHIFT, 0 },
		{ KEY_F5, 1 }, { KEY_F5, 0 },
	};
	for (int i = 0; i < 10; i++) {
		CHECK_EQ(r.keys[i][0], want1[i][0]);
		CHECK_EQ(r.keys[i][1], want1[i][1]);
	}
	/* the server acknowledged the QEMU extended key event: the client may send them */
	CHECK(SupportsClient2Server(k.c, rfbQemuEvent));
	/* a German keyboard's Z key sends keysym z with scancode 0x15 (the US Y): the scancode
	 * wins; 0xE0 0x48 (cursor up) comes as 0xc8 */
	CHECK(SendExtendedKeyEvent(k.c, XK_z, 0x15, TRUE));
	CHECK(SendExtendedKeyEvent(k.c, XK_z, 0x15, FALSE));
	CHECK(SendExtendedKeyEvent(k.c, XK_Up, 0xc8, TRUE));
	CHECK(SendExtendedKeyEvent(k.c, XK_Up, 0xc8, FALSE));
	CHECK(SendExtendedKeyEvent(k.c, XK_Control_R, 0x9d, TRUE));
	/* an unknown scancode falls back to the keysym */
	CHECK(SendExtendedKeyEvent(k.c, XK_b, 0x7f, TRUE));
	CHECK(keys_at_least(&r, 16));
	static const int want2[6][2] = {
		{ KEY_Y, 1 }, { KEY_Y, 0 }, { KEY_UP, 1 }, { KEY_UP, 0 }, { KEY_RIGHTCTRL, 1 },
		{ KEY_B, 1 },
	};
	for (int i = 0; i < 6; i++) {
		CHECK_EQ(r.keys[10 + i][0], want2[i][0]);
		CHECK_EQ(r.keys[10 + i][1], want2[i][1]);
	}
	/* the client goes with keys held: they are released */
	cli_close(&k);
	CHECK(keys_at_least(&r, 18));
	CHECK_EQ(r.keys[16][1], 0);
	CHECK_EQ(r.keys[17][1], 0);
	CHECK((r.keys[16][0] == KEY_RIGHTCTRL && r.keys[17][0] == KEY_B) ||
	      (r.keys[16][0] == KEY_B && r.keys[17][0] == KEY_RIGHTCTRL));
out:
	cli_close(&k);
	rig_stop(&r);
}

struct abs_wait {
	struct rig *r;
	int n;
};

static bool abs_reached(struct cli *k, void *arg)
{
	struct abs_wait *w = arg;
	bool ok;

	(void)k;
	pthread_mutex_lock(&w->r->lock);
	ok = w->r->nabs >= w->n;
	pthread_mutex_unlock(&w->r->lock);
	return ok;
}

/* Until the sink got n pointer events; the client is served meanwhile (a server blocked
 * writing a frame to a client that does not read would drop it, and its events). */
static bool abs_at_least(struct cli *k, struct rig *r, int n)
{
	struct abs_wait w = { r, n };

	return cli_pump(k, 10, abs_reached, &w);
}

/* Pointer positions scaled to 0..INPUT_ABS_MAX over the screen, buttons as they are. */
static void test_pointer(void)
{
	struct rig r = { 0 };
	struct cli k;
	static const struct { int x, y, mask; uint32_t ax, ay, b; } cases[] = {
		{ 0, 0, 0, 0, 0, 0 },
		{ 319, 199, 1, INPUT_ABS_MAX, INPUT_ABS_MAX, INPUT_BTN_LEFT },
		{ 160, 100, 4, 160 * INPUT_ABS_MAX / 319, 100 * INPUT_ABS_MAX / 199, INPUT_BTN_RIGHT },
		{ 10, 20, 8, 10 * INPUT_ABS_MAX / 319, 20 * INPUT_ABS_MAX / 199, INPUT_BTN_WHEEL_UP },
		{ 10, 20, 16 | 2, 10 * INPUT_ABS_MAX / 319, 20 * INPUT_ABS_MAX / 199,
		  INPUT_BTN_WHEEL_DOWN | INPUT_BTN_MIDDLE },
	};

	rig_set_mode(&r, 320, 200, 1280, DISPLAY_XRGB8888);
	CHECK_EQ(rig_start(&r, NULL), 0);
	CHECK_EQ(cli_open(&k, &r), 0);
	if (!k.c)
		goto out;
	cli_pump(&k, 0.3, NULL, NULL);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(SendPointerEvent(k.c, cases[i].x, cases[i].y, cases[i].mask));
		CHECK(abs_at_least(&k, &r, (int)i + 1));
		pthread_mutex_lock(&r.lock);
		CHECK_EQ(r.ax, cases[i].ax);
		CHECK_EQ(r.ay, cases[i].ay);
		CHECK_EQ(r.abuttons, cases[i].b);
		pthread_mutex_unlock(&r.lock);
	}
out:
	cli_close(&k);
	rig_stop(&r);
}

/* The socket is 0600, the timer runs only while a client is connected, and the socket file
 * goes at close. */
static void test_socket_and_timer(void)
{
	struct rig r = { 0 };
	struct stat st;
	struct cli k;
	uint64_t t0, t1;

	rig_set_mode(&r, 64, 64, 256, DISPLAY_XRGB8888);
	CHECK_EQ(rig_start(&r, NULL), 0);
	CHECK_EQ(stat(r.path, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 0777, 0600);
	usleep(200000);
	CHECK_EQ(rig_stats(&r).ticks, 0); /* nobody watches: no timer */
	CHECK_EQ(cli_open(&k, &r), 0);
	cli_pump(&k, 0.3, NULL, NULL);
	t0 = rig_stats(&r).ticks;
	CHECK(t0 > 0);
	CHECK_EQ(rig_stats(&r).clients, 1);
	cli_close(&k);
	double end = now_s() + 10;
	while (rig_stats(&r).clients && now_s() < end)
		usleep(5000);
	CHECK_EQ(rig_stats(&r).clients, 0);
	t0 = rig_stats(&r).ticks;
	usleep(300000);
	t1 = rig_stats(&r).ticks;
	CHECK(t1 <= t0 + 1); /* at most one already in flight */
	rig_stop(&r);
	CHECK(stat(r.path, &st) < 0);
}

/* Bad specs are refused with a reason, before anything listens. */
static void test_specs(void)
{
	struct vnc *v = NULL;
	char pw[] = "/tmp/vsrv-vnc-pw-XXXXXX";
	int fd = mkstemp(pw);
	char spec[200];

	CHECK_EQ(vnc_open("tcp:0.0.0.0:0", &v), -EACCES);
	CHECK_EQ(vnc_open("tcp:[::]:0", &v), -EACCES);
	CHECK_EQ(vnc_open("vnc:1", &v), -EINVAL);
	CHECK_EQ(vnc_open("tcp:127.0.0.1", &v), -EINVAL);
	CHECK_EQ(vnc_open("unix:", &v), -EINVAL);
	CHECK_EQ(vnc_open("unix:/tmp/x,color=red", &v), -EINVAL);
	CHECK_EQ(vnc_open("tcp:0.0.0.0:0,password-file=/nonexistent/pw", &v), -ENOENT);
	/* an empty password is no password */
	snprintf(spec, sizeof(spec), "tcp:0.0.0.0:0,password-file=%s", pw);
	CHECK_EQ(vnc_open(spec, &v), -EINVAL);
	CHECK(write(fd, "secret\n", 7) == 7);
	close(fd);
	/* loopback, and any address with a password */
	CHECK_EQ(vnc_open("tcp:127.0.0.1:0", &v), 0);
	vnc_close(v);
	CHECK_EQ(vnc_open(spec, &v), 0);
	vnc_close(v);
	unlink(pw);
}

/* With a password file: VNC authentication; the right password gets the screen, a wrong
 * one does not. */
static void test_password(void)
{
	struct rig r = { 0 };
	struct expect e = { 0 };
	struct cli k;
	char pw[] = "/tmp/vsrv-vnc-pw-XXXXXX", opts[64];
	int fd = mkstemp(pw);

	CHECK(write(fd, "s3cret!\nignored\n", 16) == 16);
	close(fd);
	snprintf(opts, sizeof(opts), ",password-file=%s", pw);
	rig_set_mode(&r, 64, 64, 256, DISPLAY_XRGB8888);
	expect_init(&e, 64, 64);
	draw(&r, &e, 0, 64, 9);
	CHECK_EQ(rig_start(&r, opts), 0);
	cli_password = "wrong";
	CHECK(cli_open(&k, &r) < 0);
	cli_password = "s3cret!";
	CHECK_EQ(cli_open(&k, &r), 0);
	if (k.c)
		CHECK(cli_pump(&k, 10, cli_matches, &e));
	cli_close(&k);
	cli_password = NULL;
	rig_stop(&r);
	free(e.rgb);
	unlink(pw);
}

/* The guest changes mode again and again while the server converts its pixels for a
 * connected client (RGB565: every dirty line converted each tick): the rig's buffers of
 * earlier modes stay until the server is done with them, as guest memory would (under
 * ASan, build-asan, freeing them in rig_set_mode was a use after free in convert_lines). */
static void test_mode_flood(void)
{
	struct rig r = { 0 };
	int fd, w, h, iters = 300;

	rig_set_mode(&r, 1024, 768, 2048, DISPLAY_RGB565);
	CHECK_EQ(rig_start(&r, NULL), 0);
	fd = rig_connect(&r);
	CHECK(fd >= 0);
	if (fd < 0 || handshake(fd, true, &w, &h) < 0) {
		CHECK(!"handshake");
		goto out;
	}
	for (int i = 0; i < iters; i++) {
		/* the same size: no new desktop size, the server keeps converting */
		rig_set_mode(&r, 1024, 768, 2048, DISPLAY_RGB565);
		pthread_mutex_lock(&r.lock);
		memset(r.buf, i, r.len);
		pthread_mutex_unlock(&r.lock);
		rig_mark(&r, 0, r.len);
		usleep((unsigned)(i * 7919 % 20000));
	}
	CHECK_EQ(rig_stats(&r).clients, 1);
out:
	if (fd >= 0)
		close(fd);
	rig_stop(&r);
}

int main(void)
{
	/* as `vsrv run` does: a write to a client that went away is an error, not a signal */
	signal(SIGPIPE, SIG_IGN);
	RUN(test_specs);
	RUN(test_socket_and_timer);
	RUN(test_xrgb8888_zero_copy);
	RUN(test_xrgb8888_padded_stride);
	RUN(test_rgb565);
	RUN(test_xrgb1555);
	RUN(test_rgb888);
	RUN(test_pal8);
	RUN(test_no_dirty_log);
	RUN(test_mode_change);
	RUN(test_mode_flood);
	RUN(test_keys);
	RUN(test_pointer);
	RUN(test_password);
	return check_done();
}
