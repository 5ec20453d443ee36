/* The control socket's screenshot command end to end, without KVM: a VM built by hand with
 * `--display bochs,vram=8` through the device level (the kind, its ROM BAR with Debian's
 * vgabios when installed, vm_display_set), its control loop on a thread with the control
 * socket attached, and the test playing the guest's driver (PCI config through 0xcf8, the
 * DISPI registers in BAR2, pixels through BAR0). A blank display answers an error; a
 * programmed mode answers a PNG whose every pixel is the pattern written; a noisy 1280x800
 * picture (a reply of megabytes, more than a socket buffer holds) arrives whole. */
#include "check.h"
#include "handvm.h"
#include "pcicfg.h"

#include "devices/bochs_display.h"
#include "devices/virtio/kind.h"
#include "vmm/control.h"
#include "vmm/vm.h"

#include <jansson.h>
#include <pthread.h>
#include <resolv.h>
#include <spng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static struct vm *vm;
static FILE *cl;
static unsigned slot;
static uint32_t bar0, bar2;

static void *loop_thread(void *arg)
{
	(void)arg;
	evloop_run(vm->loop);
	return NULL;
}

static json_t *q(const char *line)
{
	char *buf = NULL;
	size_t cap = 0;
	json_t *r;

	fprintf(cl, "%s\n", line);
	fflush(cl);
	if (getline(&buf, &cap, cl) <= 0) {
		free(buf);
		return json_object();
	}
	r = json_loads(buf, 0, NULL);
	free(buf);
	return r ? r : json_object();
}

static void dispi(unsigned i, uint16_t v)
{
	bus_dispatch(&vm->mmio, bar2 + BOCHS_DISPI_OFF + 2 * i, (uint8_t *)&v, 2, true);
}

static void set_mode(uint16_t w, uint16_t h)
{
	dispi(DISPI_ENABLE, 0);
	dispi(DISPI_XRES, w);
	dispi(DISPI_YRES, h);
	dispi(DISPI_BPP, 32);
	dispi(DISPI_VIRT_WIDTH, w);
	dispi(DISPI_ENABLE, DISPI_ENABLED | DISPI_LFB_ENABLED);
}

static uint32_t noise(uint32_t i)
{
	i ^= i >> 16;
	i *= 0x7feb352d;
	i ^= i >> 15;
	i *= 0x846ca68b;
	return (i ^ (i >> 16)) & 0xffffff;
}

/* Take a screenshot over the socket and compare it with px(x, y) (0xRRGGBB). */
static void shot_matches(uint32_t w, uint32_t h, uint32_t (*px)(uint32_t, uint32_t))
{
	json_t *r = q("{\"cmd\":\"screenshot\",\"id\":7}");
	const char *b64 = json_string_value(json_object_get(r, "png"));
	size_t blen = b64 ? strlen(b64) : 0, out;
	uint8_t *png = malloc(blen + 4), *rgb = NULL;
	spng_ctx *ctx = spng_ctx_new(0);
	struct spng_ihdr ihdr = { 0 };
	int n = -1;

	CHECK(json_is_true(json_object_get(r, "ok")));
	CHECK_EQ(json_integer_value(json_object_get(r, "id")), 7);
	CHECK_EQ(json_integer_value(json_object_get(r, "width")), w);
	CHECK_EQ(json_integer_value(json_object_get(r, "height")), h);
	if (b64)
		n = b64_pton(b64, png, blen + 4);
	CHECK(n > 8);
	if (n > 8 && !spng_set_png_buffer(ctx, png, (size_t)n) && !spng_get_ihdr(ctx, &ihdr) &&
	    !spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &out) && (rgb = malloc(out)) &&
	    !spng_decode_image(ctx, rgb, out, SPNG_FMT_RGB8, 0)) {
		size_t bad = 0;

		CHECK_EQ(ihdr.width, w);
		CHECK_EQ(ihdr.height, h);
		for (uint32_t y = 0; y < h && ihdr.width == w && ihdr.height == h; y++)
			for (uint32_t x = 0; x < w; x++) {
				const uint8_t *p = rgb + 3 * ((size_t)y * w + x);
				uint32_t c = px(x, y);

				bad += p[0] != (c >> 16 & 0xff) || p[1] != (c >> 8 & 0xff) ||
				       p[2] != (c & 0xff);
			}
		CHECK_EQ(bad, 0);
	} else {
		CHECK(!"the reply's PNG decodes");
	}
	spng_ctx_free(ctx);
	free(rgb);
	free(png);
	json_decref(r);
}

static uint32_t stripes(uint32_t x, uint32_t y) { return (x * 2) << 16 | (y * 3 & 0xff) << 8 | 0x40; }
static uint32_t noisy(uint32_t x, uint32_t y) { return noise(y * 1280 + x); }

static void draw(uint32_t w, uint32_t h, uint32_t (*px)(uint32_t, uint32_t))
{
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			uint32_t v = px(x, y) | 0xff000000u; /* X byte: ignored */

			bus_dispatch(&vm->mmio, bar0 + 4 * (y * w + x), (uint8_t *)&v, 4, true);
		}
}

static void test_screenshot_socket(void)
{
	const char *displays[] = { "bochs,vram=8" };
	struct vm_config cfg = { .displays = displays, .nr_displays = 1 };
	char dir[64], sock[96];
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct control *ctl = NULL;
	struct vdevs *v;
	pthread_t th;
	json_t *r;
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/vsrv-ctlshot.%d", getpid());
	snprintf(sock, sizeof(sock), "%s/ctl", dir);
	CHECK_EQ(mkdir(dir, 0700), 0);
	vm = handvm_new(&cfg, 16 << 20);
	CHECK(vm != NULL);
	if (!vm)
		return;
	CHECK_EQ(vm_devices_init(vm), 0);
	v = vm->devices_priv;
	CHECK(v && v->n == 1 && v->e[0].pcidev);
	CHECK(vm_display_get(vm) != NULL);
	if (!v || v->n != 1 || !v->e[0].pcidev)
		return;
	CHECK_EQ(v->e[0].kind->id, 13);
	slot = v->e[0].pcidev->slot;
	CHECK_EQ(pcicfg_read(&vm->pio, slot, 0, 4), 0x11111234);
	if (!access("/usr/share/seabios/vgabios-bochs-display.bin", R_OK)) {
		/* the video BIOS is there: its ROM BAR shows the 0x55 0xAA signature */
		uint16_t sig = 0;

		pcicfg_write(&vm->pio, slot, PCI_ROM_ADDRESS, 4, 0xfd000001u);
		pcicfg_write(&vm->pio, slot, 4, 2, PCI_CMD_MEM);
		bus_dispatch(&vm->mmio, 0xfd000000u, (uint8_t *)&sig, 2, false);
		CHECK_EQ(sig, 0xaa55);
	}
	bar0 = pcicfg_read(&vm->pio, slot, 0x10, 4) & ~0xfu;
	bar2 = pcicfg_read(&vm->pio, slot, 0x18, 4) & ~0xfu;
	pcicfg_write(&vm->pio, slot, 4, 2, PCI_CMD_MEM);
	CHECK_EQ(control_open(sock, &ctl), 0);
	CHECK_EQ(control_attach(ctl, vm), 0);
	CHECK_EQ(pthread_create(&th, NULL, loop_thread, NULL), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	CHECK_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cl = fdopen(fd, "r+");

	r = q("{\"cmd\":\"screenshot\"}");
	CHECK(json_is_false(json_object_get(r, "ok")));
	CHECK(strstr(json_string_value(json_object_get(r, "error")) ?: "", "blank") != NULL);
	json_decref(r);

	set_mode(320, 200);
	draw(320, 200, stripes);
	shot_matches(320, 200, stripes);
	set_mode(1280, 800);
	draw(1280, 800, noisy);
	shot_matches(1280, 800, noisy);
	r = q("{\"cmd\":\"status\"}"); /* the connection goes on after a large reply */
	CHECK(json_is_true(json_object_get(r, "ok")));
	json_decref(r);

	fclose(cl);
	evloop_stop(vm->loop, 0);
	pthread_join(th, NULL);
	control_detach(ctl);
	control_close(ctl);
	vm_devices_exit(vm);
	CHECK(vm_display_get(vm) == NULL);
	handvm_free(vm);
	rmdir(dir);
}

int main(void)
{
	RUN(test_screenshot_socket);
	return check_done();
}
