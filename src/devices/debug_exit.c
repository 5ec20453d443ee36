#include "devices/debug_exit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/host.h"

struct debug_exit {
	const struct device_host *host;
	struct debug_exit_state st;
};

static void debug_exit_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct debug_exit *d = opaque;
	uint32_t v = 0;

	(void)off;
	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	memcpy(&v, data, len > 4 ? 4 : len);
	/* The first stop request wins; the status is truncated to 8 bits as by exit(). */
	d->host->request_stop(d->host->opaque, (int)(((v << 1) | 1) & 0xff));
}

int debug_exit_create(const struct device_host *h, uint16_t port, struct debug_exit **out)
{
	struct debug_exit *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	d->host = h;
	d->st.port = port;
	ret = bus_register(h->pio, port, 1, debug_exit_io, d, "debug-exit");
	if (ret < 0) {
		free(d);
		return ret;
	}
	*out = d;
	return 0;
}

void debug_exit_destroy(struct debug_exit *d)
{
	free(d);
}

void debug_exit_save(const struct debug_exit *d, struct debug_exit_state *st)
{
	*st = d->st;
}

int debug_exit_restore(struct debug_exit *d, const struct debug_exit_state *st)
{
	return st->port == d->st.port ? 0 : -EINVAL;
}
