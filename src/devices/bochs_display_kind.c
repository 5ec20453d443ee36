/* The bochs-display's device kind (kind.h): `vsrv run --display bochs[,vram=MiB][,rom=PATH]`
 * puts a bochs-display (bochs_display.h) on the VM's PCI host bridge, maps its framebuffer
 * as the VM's display memory slot (VM_SLOT_DISPLAY, with KVM's dirty log) and registers its
 * screen with the VM (vm_display_set) for the VNC server and screenshots. The video BIOS is
 * Debian's SeaBIOS vgabios-bochs-display.bin unless rom= names another (rom= with an empty
 * path: none). */
#include "devices/bochs_display.h"
#include "devices/virtio/kind.h"
#include "util/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BOCHS_ROM_DEFAULT "/usr/share/seabios/vgabios-bochs-display.bin"
#define BOCHS_ROM_MAX (1u << 20)

struct bochs_opts {
	uint32_t vram;     /* bytes */
	char *rom;         /* path, "" for none */
	bool rom_given;
};

static void opts_free(void *p)
{
	struct bochs_opts *o = p;

	if (o)
		free(o->rom);
	free(o);
}

static int parse(const char *spec, void **out)
{
	struct bochs_opts *o = calloc(1, sizeof(*o));
	char *dup = strdup(spec), *save = NULL, *it;
	int ret = 0;

	if (!o || !dup) {
		free(dup);
		opts_free(o);
		return -ENOMEM;
	}
	o->vram = BOCHS_VRAM_DEFAULT;
	it = strtok_r(dup, ",", &save);
	if (!it || strcmp(it, "bochs")) {
		ret = -EINVAL;
		vsrv_log("--display %s: expected bochs[,vram=MiB][,rom=PATH]", spec);
	}
	while (!ret && (it = strtok_r(NULL, ",", &save))) {
		if (!strncmp(it, "vram=", 5)) {
			char *end;
			unsigned long mib = strtoul(it + 5, &end, 10);

			if (!it[5] || *end || !mib || mib > 65536 || (mib & (mib - 1))) {
				vsrv_log("--display %s: vram= takes a power of two of MiB "
					 "(4 to 256), not %s", spec, it + 5);
				ret = -EINVAL;
				break;
			}
			if (mib < BOCHS_VRAM_MIN >> 20 || mib > BOCHS_VRAM_MAX >> 20) {
				unsigned long c = mib < BOCHS_VRAM_MIN >> 20 ?
					BOCHS_VRAM_MIN >> 20 : BOCHS_VRAM_MAX >> 20;

				vsrv_log("--display %s: vram=%lu clamped to %lu MiB", spec, mib, c);
				mib = c;
			}
			o->vram = (uint32_t)(mib << 20);
		} else if (!strncmp(it, "rom=", 4)) {
			free(o->rom);
			o->rom = strdup(it + 4);
			o->rom_given = true;
			if (!o->rom)
				ret = -ENOMEM;
		} else {
			vsrv_log("--display %s: unknown item %s (expected vram=MiB or rom=PATH)",
				 spec, it);
			ret = -EINVAL;
		}
	}
	/* strtok_r skips empty items: "bochs,rom=" still arrives as rom= with "" */
	if (!ret && !o->rom && strstr(spec, ",rom=") && !*(strstr(spec, ",rom=") + 5)) {
		o->rom = strdup("");
		o->rom_given = true;
	}
	free(dup);
	if (ret) {
		opts_free(o);
		return ret;
	}
	*out = o;
	return 0;
}

static int check(const void *opts)
{
	const struct bochs_opts *o = opts;

	if (o->rom_given && *o->rom && access(o->rom, R_OK) < 0) {
		vsrv_log("--display: video BIOS %s: %s", o->rom, strerror(errno));
		return -errno;
	}
	return 0;
}

/* The ROM file into *buf (malloc'd), or *buf NULL when there is none to load: the default
 * missing is one log line (no video BIOS: BIOS text mode stays dark), an explicit one an
 * error. */
static int load_rom(const struct bochs_opts *o, uint8_t **buf, size_t *len)
{
	const char *path = o->rom_given ? o->rom : BOCHS_ROM_DEFAULT;
	struct stat st;
	ssize_t n;
	int fd, ret;

	*buf = NULL;
	*len = 0;
	if (!*path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (!o->rom_given && ret == -ENOENT) {
			vsrv_log("bochs-display: no video BIOS (%s is missing: apt install "
				 "seabios); firmware will not show text on it", path);
			return 0;
		}
		vsrv_log("bochs-display: video BIOS %s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !st.st_size ||
	    st.st_size > BOCHS_ROM_MAX) {
		vsrv_log("bochs-display: video BIOS %s: not a ROM image (empty, too big or not "
			 "a file)", path);
		close(fd);
		return -EINVAL;
	}
	*buf = malloc((size_t)st.st_size);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	n = pread(fd, *buf, (size_t)st.st_size, 0);
	ret = n == st.st_size ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	if (ret) {
		vsrv_log("bochs-display: video BIOS %s: read: %s", path, strerror(-ret));
		free(*buf);
		*buf = NULL;
		return ret;
	}
	*len = (size_t)st.st_size;
	return 0;
}

static int slot_map(void *ctx, uint64_t gpa, uint64_t size, void *host)
{
	return vm_mem_slot_set(ctx, VM_SLOT_DISPLAY, gpa, size, host, true);
}

static int slot_dirty(void *ctx, uint64_t *bitmap)
{
	return vm_mem_slot_dirty(ctx, VM_SLOT_DISPLAY, bitmap);
}

static int create(struct vdevs *v, struct device_entry *e, const void *opts, unsigned idx)
{
	const struct bochs_opts *o = opts;
	struct bochs_display_host host = { slot_map, slot_dirty, v->vm };
	struct bochs_display *b;
	uint8_t *rom;
	size_t rom_len;
	int ret;

	snprintf(e->name, sizeof(e->name), "bochs-display%u", idx);
	if (vm_display_get(v->vm)) {
		vsrv_log("--display: a VM has one display");
		return -EBUSY;
	}
	ret = load_rom(o, &rom, &rom_len);
	if (ret)
		return ret;
	ret = bochs_display_create(o->vram, rom, rom_len, v->vm->vm_fd >= 0 ? &host : NULL, &b);
	free(rom);
	if (ret) {
		vsrv_log("%s: %s", e->name, strerror(-ret));
		return ret;
	}
	e->priv = b;
	e->pcidev = bochs_display_pci(b);
	vm_display_set(v->vm, bochs_display_display(b));
	return 0;
}

static void destroy(struct vdevs *v, struct device_entry *e)
{
	if (e->priv && vm_display_get(v->vm) == bochs_display_display(e->priv))
		vm_display_set(v->vm, NULL);
	bochs_display_destroy(e->priv);
}

static int save(struct device_entry *e, void *st)
{
	return bochs_display_save(e->priv, st);
}

static int restore(struct device_entry *e, const void *st)
{
	return bochs_display_restore(e->priv, st);
}

static int state_check(struct device_entry *e, const void *st)
{
	return bochs_display_check(e->priv, st);
}

static uint8_t *devmem(struct device_entry *e, size_t *len)
{
	return bochs_display_vram(e->priv, len);
}

_Static_assert(sizeof(struct bochs_display_state) <= VDEV_STATE_MAX, "fits a state entry");

const struct device_kind bochs_display_kind = {
	.name = "bochs-display",
	.id = 13,
	.option = "display",
	.words = (const char *const[]){ "bochs", NULL },
	.usage = "bochs[,vram=MiB][,rom=PATH]",
	.bus = DEVICE_BUS_PCI,
	.parse = parse,
	.opts_free = opts_free,
	.check = check,
	.create = create,
	.destroy = destroy,
	.state_size = sizeof(struct bochs_display_state),
	.save = save,
	.restore = restore,
	.state_check = state_check,
	.devmem = devmem,
};
