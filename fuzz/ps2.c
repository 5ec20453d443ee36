/* libFuzzer target: a hostile guest (and a front-end sending keys and motion) driving the
 * i8042 with its PS/2 keyboard and mouse (devices/i8042.c, ps2_kbd.c, ps2_keymap.c,
 * ps2_mouse.c). The input is a list of operations, each one byte (the low 3 bits) and its
 * operands:
 *   0 command port write V(1)        1 data port write V(1)
 *   2 data port read                 3 status port read
 *   4 key CODE(2, little-endian; bit 15: up)
 *   5 relative motion DX(1) DY(1) WHEEL(1) BUTTONS(1) (signed bytes, DX and DY times 16)
 *   6 restore the next sizeof(struct i8042_state) + sizeof(struct i8042_ps2_state) bytes
 *     (refused or loaded; with the first byte's bit 0 set, the controller's part alone, as
 *     from a file of the first format)
 *   7 a byte to the mouse (0xD4, then V(1))
 * After every operation the saved state must pass i8042_state_check (bounded queues, valid
 * modes): otherwise the target aborts. Seeds in fuzz/corpus/ps2 (fuzz/ps2_seeds.py);
 * tests/t-ps2-fuzz.sh replays them. */
#include "devices/host.h"
#include "devices/i8042.h"
#include "vmm/bus.h"
#include "vmm/input.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

static int irq_line(void *o, uint32_t gsi, int level) { (void)o; sink += gsi + level; return 0; }
static void request_stop(void *o, int code) { (void)o; sink += (unsigned)code; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct device_host host = { 0 };
	struct input_sink kbd, mouse;
	struct i8042_state st;
	struct i8042_ps2_state ps;
	struct i8042 *k;
	struct bus pio;
	size_t i = 0;

	bus_init(&pio);
	host.pio = &pio;
	host.irq_line = irq_line;
	host.request_stop = request_stop;
	if (i8042_create(&host, &k))
		abort();
	i8042_input_sinks(k, &kbd, &mouse);
	while (i < size) {
		static const size_t need[8] = { 1, 1, 0, 0, 2, 4,
			sizeof(struct i8042_state) + sizeof(struct i8042_ps2_state), 1 };
		uint8_t op = data[i++] & 7, v;

		if (size - i < need[op])
			break;
		switch (op) {
		case 0:
			bus_dispatch(&pio, 0x64, (uint8_t *)&data[i], 1, true);
			break;
		case 1:
			v = data[i];
			bus_dispatch(&pio, 0x60, &v, 1, true);
			break;
		case 2:
			bus_dispatch(&pio, 0x60, &v, 1, false);
			sink += v;
			break;
		case 3:
			bus_dispatch(&pio, 0x64, &v, 1, false);
			sink += v;
			break;
		case 4: {
			uint16_t c = (uint16_t)(data[i] | data[i + 1] << 8);

			sink += (unsigned)kbd.ops->key(kbd.opaque, c & 0x7fff, !(c & 0x8000));
			sink += kbd.ops->active(kbd.opaque);
			break;
		}
		case 5:
			sink += (unsigned)mouse.ops->pointer_rel(mouse.opaque, (int8_t)data[i] * 16,
								 (int8_t)data[i + 1] * 16,
								 (int8_t)data[i + 2], data[i + 3]);
			sink += mouse.ops->active(mouse.opaque);
			break;
		case 6:
			memcpy(&st, data + i, sizeof(st));
			memcpy(&ps, data + i + sizeof(st), sizeof(ps));
			if (ps.version & 0x100) { /* mostly a plausible header, so the rest is checked */
				ps.version = I8042_PS2_VERSION;
				ps.size = sizeof(ps);
			}
			sink += (unsigned)i8042_restore(k, &st, data[i] & 1 ? NULL : &ps);
			break;
		case 7:
			v = 0xd4;
			bus_dispatch(&pio, 0x64, &v, 1, true);
			v = data[i];
			bus_dispatch(&pio, 0x60, &v, 1, true);
			break;
		}
		i += need[op];
		i8042_save(k, &st, &ps);
		if (i8042_state_check(&st, &ps))
			abort();
	}
	i8042_destroy(k);
	bus_destroy(&pio);
	return 0;
}
