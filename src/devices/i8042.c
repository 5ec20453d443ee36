#include "devices/i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "devices/host.h"

#define STATUS_OBF   0x01 /* output buffer full */
#define STATUS_SYS   0x04 /* system flag: self-test passed */
#define STATUS_CMD   0x08 /* last write was a command */

struct i8042 {
	const struct device_host *host;
	pthread_mutex_t lock;
	struct i8042_state st;
};

static void i8042_reply(struct i8042 *k, uint8_t v)
{
	k->st.out = v;
	k->st.out_full = true;
}

/* Returns true when the guest asked for a reset. Called under the lock. */
static bool i8042_command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case 0x20: i8042_reply(k, k->st.cmd_byte); break;      /* read command byte */
	case 0x60: case 0xd1: case 0xd2: case 0xd3: case 0xd4:
		k->st.pending = cmd; break;                      /* a data byte follows */
	case 0xa7: k->st.cmd_byte |= 0x20; break;              /* disable aux */
	case 0xa8: k->st.cmd_byte &= ~0x20; break;             /* enable aux */
	case 0xa9: case 0xab: i8042_reply(k, 0x00); break;     /* interface tests: OK */
	case 0xaa: i8042_reply(k, 0x55); break;                /* self-test: OK */
	case 0xad: k->st.cmd_byte |= 0x10; break;              /* disable keyboard */
	case 0xae: k->st.cmd_byte &= ~0x10; break;             /* enable keyboard */
	case 0xd0: i8042_reply(k, k->st.outport); break;       /* read output port */
	case 0xfe: return true;                                /* pulse reset line */
	default: break;
	}
	return false;
}

/* Returns true when the guest asked for a reset. Called under the lock. */
static bool i8042_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->st.pending;

	k->st.pending = 0;
	switch (cmd) {
	case 0x60: k->st.cmd_byte = v; break;
	case 0xd1:
		k->st.outport = v;
		return !(v & 1); /* bit 0 low: CPU reset */
	case 0xd2: case 0xd3: i8042_reply(k, v); break;         /* loop back */
	case 0xd4: i8042_reply(k, 0xfe); break;                 /* no mouse: resend */
	default:   i8042_reply(k, 0xfe); break;                 /* no keyboard attached */
	}
	return false;
}

static void i8042_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	/* off: 0 the data port, 4 the command/status port */
	struct i8042 *k = opaque;
	bool reset = false;

	pthread_mutex_lock(&k->lock);
	if (!is_write) {
		memset(data, 0, len);
		if (off == 0) {
			data[0] = k->st.out;
			k->st.out_full = false;
		} else {
			data[0] = STATUS_SYS | (k->st.out_full ? STATUS_OBF : 0) |
				  (k->st.pending ? STATUS_CMD : 0);
		}
	} else if (off == 4) {
		reset = i8042_command(k, data[0]);
	} else if (off == 0) {
		reset = i8042_data(k, data[0]);
	}
	pthread_mutex_unlock(&k->lock);
	if (reset)
		k->host->request_stop(k->host->opaque, DEVICE_STOP_RESET);
}

static void i8042_data_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)off;
	i8042_io(opaque, 0, data, len, is_write);
}

static void i8042_cmd_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)off;
	i8042_io(opaque, 4, data, len, is_write);
}

int i8042_create(const struct device_host *h, struct i8042 **out)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return -ENOMEM;
	k->host = h;
	pthread_mutex_init(&k->lock, NULL);
	k->st.cmd_byte = 0x45; /* keyboard interrupt, system flag, translation */
	k->st.outport = 0x01;  /* reset line high (inactive) */
	/* Two single ports: 0x61 between them belongs to the in-kernel PIT (speaker). */
	ret = bus_register(h->pio, 0x60, 1, i8042_data_io, k, "i8042");
	if (!ret) {
		ret = bus_register(h->pio, 0x64, 1, i8042_cmd_io, k, "i8042");
		if (ret < 0)
			bus_unregister(h->pio, 0x60);
	}
	if (ret < 0) {
		pthread_mutex_destroy(&k->lock);
		free(k);
		return ret;
	}
	*out = k;
	return 0;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

void i8042_save(struct i8042 *k, struct i8042_state *st)
{
	pthread_mutex_lock(&k->lock);
	*st = k->st;
	pthread_mutex_unlock(&k->lock);
}

int i8042_restore(struct i8042 *k, const struct i8042_state *st)
{
	pthread_mutex_lock(&k->lock);
	k->st = *st;
	pthread_mutex_unlock(&k->lock);
	return 0;
}
