/* virtio-input (device id 18): a keyboard or a tablet (absolute pointer 0..INPUT_ABS_MAX,
 * buttons left/right/middle, a wheel). The config space answers the driver's select/subsel
 * questions (name, serial, device ids, property and event bits, absolute axes); queue 0
 * (eventq) carries struct virtio_input_event to the driver, each report closed by
 * EV_SYN/SYN_REPORT; queue 1 (statusq) brings the keyboard's LEDs from the driver (other
 * events and malformed buffers are consumed and ignored).
 *
 * Events come from the console front-end through the device's input sink (vmm/input.h) on
 * any thread; they wait in a bounded queue (VINPUT_PENDING events) until the driver offers
 * buffers, and when it is full the oldest reports are dropped (and counted). */
#ifndef VSRV_DEVICES_VIRTIO_INPUT_H
#define VSRV_DEVICES_VIRTIO_INPUT_H

#include "devices/virtio/virtio.h"

#define VIRTIO_ID_INPUT 18
#define VINPUT_PENDING 256 /* events waiting for driver buffers */

struct virtio_input;
struct input_sink;

enum vinput_kind { VINPUT_KEYBOARD = 1, VINPUT_TABLET = 2 };

/* The wire format of one event (little endian). */
struct virtio_input_event {
	uint16_t type;
	uint16_t code;
	uint32_t value;
};

/* What virtio_input_save keeps: the core, the config selection, the LEDs, the keys held,
 * the tablet's buttons and the events not delivered yet. */
struct virtio_input_state {
	struct virtio_dev_state dev;
	uint8_t kind;            /* enum vinput_kind: must match the device restored into */
	uint8_t select, subsel;  /* the config space's selection */
	uint8_t leds;            /* from the statusq: bit 0 num, 1 caps, 2 scroll lock */
	uint32_t buttons;        /* tablet: the INPUT_BTN_* last reported */
	uint32_t head, count;    /* pending[]: a ring */
	uint64_t dropped;        /* events dropped because the ring was full */
	uint64_t junk;           /* statusq buffers ignored (not an LED event) */
	uint8_t keys_down[32];   /* keyboard: the keys 0..255 held (a repeat is value 2) */
	struct virtio_input_event pending[VINPUT_PENDING];
};

/* Create the device (not yet on a transport); serial: the ID_SERIAL string (copied).
 * 0 and *out (free with virtio_input_destroy after its transport), or -errno. */
int virtio_input_create(struct virtio_host *h, enum vinput_kind kind, const char *serial,
			struct virtio_input **out);
struct virtio_dev *virtio_input_dev(struct virtio_input *in);
void virtio_input_destroy(struct virtio_input *in);
/* The device's input sink (vmm/input.h), valid until destroy: a keyboard's has key, a
 * tablet's pointer_abs; active once the driver set DRIVER_OK. key: 0, -ENOENT (a code the
 * keyboard does not have), -EAGAIN (the driver is not ready: dropped), -ENOSPC (never: the
 * oldest waiting report is dropped instead). */
void virtio_input_sink(struct virtio_input *in, struct input_sink *out);
enum vinput_kind virtio_input_type(const struct virtio_input *in);
/* The LEDs the driver last set (bit 0 num, 1 caps, 2 scroll lock). */
unsigned virtio_input_leds(struct virtio_input *in);
/* Serve queue q (0 eventq, 1 statusq) on the calling thread, as the device's I/O thread
 * does when the queue is notified: for tests and fuzz targets. Any thread. */
void virtio_input_serve(struct virtio_input *in, unsigned q);
/* Save (0 or -errno) and restore (0, or -EINVAL with in unchanged). */
int virtio_input_save(struct virtio_input *in, struct virtio_input_state *st);
int virtio_input_restore(struct virtio_input *in, const struct virtio_input_state *st);

#endif
