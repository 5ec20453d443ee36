/* The control socket's balloon command end to end, without KVM: a VM built by hand whose
 * device level makes the balloon from `--device balloon,...`, its control loop on a thread
 * with the control socket attached, a client on the socket, and the test driver (vdrv.h)
 * playing the guest's balloon driver: the target the client sets reaches the guest's config
 * (with a config interrupt), the guest's answer (actual, inflated pages, statistics) comes
 * back in balloon and stats, and bad requests are refused. A VM without a balloon says so. */
#include "check.h"
#include "handvm.h"
#include "vdrv.h"
#include "devices/virtio/balloon.h"
#include "devices/virtio/devstate.h"
#include "devices/virtio/mmio.h"
#include "vmm/control.h"
#include "vmm/vm.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MEM (64 << 20)

static struct vm *vm;
static struct vdrv drv;
static FILE *cl;

static void *loop_thread(void *arg)
{
	(void)arg;
	evloop_run(vm->loop);
	return NULL;
}

static bool start(struct vm_config *cfg, const char *sock, struct control **ctl, pthread_t *th)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	vm = handvm_new(cfg, MEM);
	CHECK(vm != NULL);
	if (!vm)
		return false;
	CHECK_EQ(vm_devices_init(vm), 0);
	CHECK_EQ(control_open(sock, ctl), 0);
	CHECK_EQ(control_attach(*ctl, vm), 0);
	CHECK_EQ(pthread_create(th, NULL, loop_thread, NULL), 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cl = fdopen(fd, "r+");
	return cl != NULL;
}

static void stop(struct control *ctl, pthread_t th)
{
	evloop_stop(vm->loop, 0);
	pthread_join(th, NULL);
	control_detach(ctl);
	control_close(ctl);
	vm_devices_exit(vm);
	handvm_free(vm);
	fclose(cl);
}

static json_t *q(const char *line)
{
	char buf[8192];

	fprintf(cl, "%s\n", line);
	fflush(cl);
	if (!fgets(buf, sizeof(buf), cl))
		return json_object();
	return json_loads(buf, 0, NULL);
}

static bool ok_of(json_t *r)
{
	return json_is_true(json_object_get(r, "ok"));
}

static long long num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *err_of(json_t *r)
{
	const char *e = json_string_value(json_object_get(r, "error"));

	return e ? e : "";
}

static void test_balloon_command(void)
{
	const char *devs[1] = { "balloon,deflate-on-oom=on,stats-interval=0" };
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM, .serial = VM_SERIAL_NONE,
				 .devices = devs, .nr_devices = 1 };
	struct control *ctl = NULL;
	struct vdevs *v;
	char sock[64];
	uint32_t pfn[256];
	uint8_t st[20];
	uint16_t tag;
	uint64_t val;
	pthread_t th;
	json_t *r, *s;

	snprintf(sock, sizeof(sock), "/tmp/vsrv-ctl-balloon.%d", getpid());
	if (!start(&cfg, sock, &ctl, &th))
		return;
	v = vm->devices_priv;
	CHECK(v && v->n == 1 && v->e[0].mmio);
	if (!v || v->n != 1 || !v->e[0].mmio)
		return;
	drv = (struct vdrv){ .bus = &vm->mmio, .mem = vm->mem, .base = v->e[0].mmio->base };
	CHECK_EQ(vdrv_rd(&drv, 8, 4), VIRTIO_ID_BALLOON);
	CHECK_EQ(vdrv_setup(&drv, ~0ULL, 3), 15);

	/* before the guest did anything */
	r = q("{\"cmd\":\"balloon\",\"id\":3}");
	CHECK(ok_of(r));
	CHECK_EQ(num(r, "ram_mib"), 64);
	CHECK_EQ(num(r, "target_mib"), 64);
	CHECK_EQ(num(r, "actual_mib"), 64);
	CHECK_EQ(num(r, "id"), 3);
	CHECK(json_is_true(json_object_get(r, "driver")));
	CHECK(json_is_true(json_object_get(r, "deflate_on_oom")));
	CHECK(json_is_false(json_object_get(r, "free_page_reporting")));
	CHECK_EQ(json_object_size(json_object_get(r, "stats")), 0);
	json_decref(r);

	/* a target: the guest's config says 16 MiB of balloon, with a config interrupt */
	vdrv_wr(&drv, 0x64, 4, vdrv_rd(&drv, 0x60, 4));
	r = q("{\"cmd\":\"balloon\",\"target_mib\":48}");
	CHECK(ok_of(r));
	CHECK_EQ(num(r, "target_mib"), 48);
	CHECK_EQ(num(r, "actual_mib"), 64);
	json_decref(r);
	CHECK_EQ(vdrv_rd(&drv, 0x100, 4), (16 << 20) / 4096);
	CHECK(vdrv_rd(&drv, 0x60, 4) & VIRTIO_ISR_CONFIG);

	/* the guest inflates 1 MiB, says so in actual, and sends statistics */
	for (unsigned i = 0; i < 256; i++)
		pfn[i] = (32 << 20) / 4096 + i;
	memcpy(vm->mem->host + VDRV_DATA, pfn, sizeof(pfn));
	{
		struct vdrv_buf b = { VDRV_DATA, sizeof(pfn), false };

		vdrv_submit(&drv, 0, &b, 1);
		CHECK_EQ(vdrv_wait(&drv, 0, NULL), 0);
	}
	vdrv_wr(&drv, 0x104, 4, 256);
	tag = VBALLOON_S_MEMFREE, val = 40ULL << 20;
	memcpy(st, &tag, 2), memcpy(st + 2, &val, 8);
	tag = VBALLOON_S_MEMTOT, val = 60ULL << 20;
	memcpy(st + 10, &tag, 2), memcpy(st + 12, &val, 8);
	memcpy(vm->mem->host + VDRV_DATA + 0x2000, st, sizeof(st));
	{
		struct vdrv_buf b = { VDRV_DATA + 0x2000, sizeof(st), false };

		vdrv_submit(&drv, 2, &b, 1);
	}
	for (int i = 0; i < 5000; i++) {
		r = q("{\"cmd\":\"balloon\"}");
		if (num(r, "stats_updates"))
			break;
		json_decref(r);
		r = NULL;
		usleep(1000);
	}
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ(num(r, "actual_mib"), 63);
		CHECK_EQ(num(r, "balloon_mib"), 1);
		CHECK_EQ(num(r, "inflated_pages"), 256);
		s = json_object_get(r, "stats");
		CHECK_EQ(num(s, "free"), 40LL << 20);
		CHECK_EQ(num(s, "total"), 60LL << 20);
		CHECK(json_is_real(json_object_get(s, "age_seconds")));
		json_decref(r);
	}
	/* stats carries the same object */
	r = q("{\"cmd\":\"stats\"}");
	CHECK(ok_of(r));
	CHECK_EQ(num(json_object_get(r, "balloon"), "actual_mib"), 63);
	CHECK_EQ(num(json_object_get(json_object_get(r, "balloon"), "stats"), "free"), 40LL << 20);
	json_decref(r);

	/* refusals: more than RAM, zero, negative, not a number; nothing changes */
	r = q("{\"cmd\":\"balloon\",\"target_mib\":65}");
	CHECK(!ok_of(r) && strstr(err_of(r), "more than"));
	json_decref(r);
	r = q("{\"cmd\":\"balloon\",\"target_mib\":0}");
	CHECK(!ok_of(r));
	json_decref(r);
	r = q("{\"cmd\":\"balloon\",\"target_mib\":-5}");
	CHECK(!ok_of(r));
	json_decref(r);
	r = q("{\"cmd\":\"balloon\",\"target_mib\":\"10\"}");
	CHECK(!ok_of(r));
	json_decref(r);
	CHECK_EQ(vdrv_rd(&drv, 0x100, 4), (16 << 20) / 4096);
	/* the whole RAM: no balloon wanted */
	r = q("{\"cmd\":\"balloon\",\"target_mib\":64}");
	CHECK(ok_of(r));
	json_decref(r);
	CHECK_EQ(vdrv_rd(&drv, 0x100, 4), 0);
	stop(ctl, th);
}

static void test_no_balloon(void)
{
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM, .serial = VM_SERIAL_NONE };
	struct control *ctl = NULL;
	char sock[64];
	pthread_t th;
	json_t *r;

	snprintf(sock, sizeof(sock), "/tmp/vsrv-ctl-noballoon.%d", getpid());
	if (!start(&cfg, sock, &ctl, &th))
		return;
	r = q("{\"cmd\":\"balloon\"}");
	CHECK(!ok_of(r) && strstr(err_of(r), "no memory balloon"));
	json_decref(r);
	r = q("{\"cmd\":\"balloon\",\"target_mib\":10}");
	CHECK(!ok_of(r) && strstr(err_of(r), "no memory balloon"));
	json_decref(r);
	r = q("{\"cmd\":\"stats\"}");
	CHECK(ok_of(r) && !json_object_get(r, "balloon"));
	json_decref(r);
	stop(ctl, th);
}

/* The spec's refusals (before any VM): bad values, a second balloon. */
static void test_balloon_specs(void)
{
	const char *bad[] = { "balloon,deflate-on-oom=maybe", "balloon,stats-interval=-1",
			      "balloon,stats-interval=99999", "balloon,size=3", "balloon,stats-interval=" };
	const char *two[2] = { "balloon", "virtio-balloon" };
	const char *good[1] = { "virtio-balloon,free-page-reporting=on,transport=pci" };
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.devices = &bad[i];
		cfg.nr_devices = 1;
		CHECK_EQ(vm_devices_check(&cfg), -EINVAL);
	}
	cfg.devices = good;
	CHECK_EQ(vm_devices_check(&cfg), 0);
	cfg.devices = two;
	cfg.nr_devices = 2;
	CHECK_EQ(vm_devices_check(&cfg), 0); /* each parses; the VM refuses the second */
	vm = handvm_new(&cfg, MEM);
	CHECK(vm != NULL);
	if (!vm)
		return;
	CHECK(vm_devices_init(vm) < 0);
	vm_devices_exit(vm);
	handvm_free(vm);
}

int main(void)
{
	RUN(test_balloon_command);
	RUN(test_no_balloon);
	RUN(test_balloon_specs);
	return check_done();
}
