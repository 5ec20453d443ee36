/* `vsrv img info FILE` of a saved-VM file (docs/savestate.md): what it holds, checked as a
 * restore checks it (savestate_read: everything but the page data), and the VM's
 * configuration it carries (the RUN section), as text or JSON. */
#include "cli/img.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/kind.h"
#include "vmm/savestate_file.h"

static const char *kind_name(uint32_t id)
{
	for (size_t i = 0; device_kinds[i]; i++)
		if (device_kinds[i]->id == id)
			return device_kinds[i]->name;
	return "unknown";
}

bool img_is_savestate(const char *path)
{
	char magic[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool is;

	if (fd < 0)
		return false;
	is = pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	     !memcmp(magic, SAVESTATE_MAGIC, sizeof(magic));
	close(fd);
	return is;
}

int img_info_savestate(const char *path, bool json)
{
	struct savestate *s = NULL;
	const char *why = "";
	uint64_t created = 0;
	json_t *o, *devs, *run;
	off_t size;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		img_err("info: %s: %s", path, strerror(errno));
		return 1;
	}
	size = lseek(fd, 0, SEEK_END);
	ret = savestate_read(fd, &s, &why);
	if (!ret && pread(fd, &created, sizeof(created), 32) != (ssize_t)sizeof(created))
		created = 0; /* the header's time of the save */
	close(fd);
	if (ret) {
		img_err("info: %s: a vsrv save file, but %s", path, why);
		return 1;
	}
	devs = json_array();
	for (uint32_t i = 0; i < s->config.nr_devs; i++)
		json_array_append_new(devs, json_pack("{s:s,s:s}", "kind",
			kind_name(s->config.dev[i].kind), "transport",
			s->config.dev[i].on_pci ? "pci" : "mmio"));
	run = s->run_parsed.n ? json_array() : json_null();
	for (uint32_t i = 0; i < s->run_parsed.n; i++)
		json_array_append_new(run, json_string(s->run_parsed.args[i]));
	o = json_pack("{s:s,s:s,s:I,s:I,s:i,s:I,s:I,s:o,s:b,s:o}", "filename", path, "format",
		      "vsrv-save", "actual-size", (json_int_t)size, "saved-at",
		      (json_int_t)created, "vcpus", (int)s->config.nr_cpus, "memory",
		      (json_int_t)s->config.mem_size, "memory-pages-stored",
		      (json_int_t)s->mem.nr_data_pages, "devices", devs, "firmware",
		      s->has_fw != 0, "run-configuration", run);
	if (json) {
		json_dumpf(o, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("\n");
	} else {
		time_t t = (time_t)created;
		char when[64] = "unknown";

		if (created)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", localtime(&t));
		printf("file: %s\nfile format: vsrv saved VM\nfile size: %lld bytes\n"
		       "saved at: %s\nvCPUs: %u\nmemory: %llu MiB (%llu pages stored)\n"
		       "firmware: %s\n", path, (long long)size, when, s->config.nr_cpus,
		       (unsigned long long)(s->config.mem_size >> 20),
		       (unsigned long long)s->mem.nr_data_pages, s->has_fw ? "yes" : "no");
		for (uint32_t i = 0; i < s->config.nr_devs; i++)
			printf("device %u: %s on virtio-%s\n", i, kind_name(s->config.dev[i].kind),
			       s->config.dev[i].on_pci ? "pci" : "mmio");
		if (!s->run_parsed.n)
			printf("run configuration: none (saved before files kept it: give "
			       "--restore the VM's options)\n");
		for (uint32_t i = 0; i < s->run_parsed.n; i++)
			printf("%s%s\n", i ? "    " : "run configuration: ", s->run_parsed.args[i]);
	}
	json_decref(o);
	savestate_free(s);
	return fflush(stdout) ? 1 : 0;
}
