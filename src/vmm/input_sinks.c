#include "vmm/input_sinks.h"

#include <errno.h>

#include "devices/i8042.h"
#include "devices/virtio/input.h"
#include "devices/virtio/kind.h"
#include "vmm/input_router.h"
#include "vmm/vm.h"

extern const struct device_kind virtio_input_kind;

static void add(struct input_sink *out, unsigned max, unsigned *n, struct input_sink s)
{
	if (*n < max)
		out[*n] = s;
	(*n)++;
}

unsigned vm_input_sinks(struct vm *vm, struct input_sink *out, unsigned max)
{
	struct vdevs *v = vm->devices_priv;
	struct input_sink s, m;
	unsigned n = 0;

	for (unsigned i = 0; v && i < v->n; i++) {
		if (v->e[i].kind != &virtio_input_kind || !v->e[i].priv)
			continue;
		virtio_input_sink(v->e[i].priv, &s);
		add(out, max, &n, s);
	}
	if (vm->i8042) {
		i8042_input_sinks(vm->i8042, &s, &m);
		add(out, max, &n, s);
		add(out, max, &n, m);
	}
	return n;
}

int vm_input_connect(struct vm *vm)
{
	struct input_sink s[INPUT_ROUTER_MAX_SINKS];
	unsigned n = vm_input_sinks(vm, s, INPUT_ROUTER_MAX_SINKS), ps2 = vm->i8042 ? 2 : 0, i;
	int ret = 0;

	if (!vm->input)
		return 0;
	if (n > INPUT_ROUTER_MAX_SINKS) {
		ret = -ENOSPC;
		n = INPUT_ROUTER_MAX_SINKS;
		ps2 = 0;  /* the PS/2 pair, listed last, did not fit */
	}
	for (i = 0; i < n; i++) {
		int r = input_router_add_sink(vm->input, &s[i],
					      i + ps2 >= n ? INPUT_PRIO_PS2 : INPUT_PRIO_VIRTIO);

		if (r < 0 && !ret)
			ret = r;
	}
	return ret;
}
