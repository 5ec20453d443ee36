#include "vmm/input_sinks.h"

#include "devices/i8042.h"
#include "devices/virtio/input.h"
#include "devices/virtio/kind.h"
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
