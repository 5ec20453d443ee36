/* Dynamic memory's loop (src/server/sup_dynmem.c) against the VMM's own balloon and control
 * socket, without KVM: a VM built by hand with `--device balloon,deflate-on-oom=on`, its
 * control loop on a thread listening where the server looks for VM 1's socket
 * (DATA/vms/1/control.sock), the test driver (vdrv.h) playing the guest's balloon driver
 * (its statistics), and the server's side on a real SQLite inventory with VM 1 recorded
 * running under a supervisor that lists it. Each step is sup_dynmem_step's, on this thread.
 * Checked: no statistics leave the VM alone; an idle guest's target comes down one bounded
 * step (the guest's config says so) with its event; the next step holds while it settles;
 * absurd statistics are not acted on; a manual target is left alone until handed back;
 * dynamic memory turned off brings all of the memory back; a restart ends a manual target;
 * what the API shows of it.
 * Linked with the server's objects and the VMM's (mk/tests.mk). */
#include "check.h"
#include "handvm.h"
#include "vdrv.h"
#include "devices/virtio/balloon.h"
#include "devices/virtio/devstate.h"
#include "devices/virtio/mmio.h"
#include "vmm/control.h"
#include "vmm/vm.h"
#include "server/dynmem.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/server.h"
#include "server/sup.h"
#include "server/sup_int.h"
#include "server/vmctl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM (256ULL << 20)

static struct vm *vm;
static struct vdrv drv;
static struct server srv;
static struct dbc *c;
static unsigned slot;

static void *loop_thread(void *arg)
{
	(void)arg;
	evloop_run(vm->loop);
	return NULL;
}

/* The VMM's balloon reply, through the server's side. */
static json_t *balloon(void)
{
	json_t *r = NULL;

	if (vmctl_call(&srv, 1, "balloon", 5000, &r)) {
		json_decref(r);
		return json_object();
	}
	return r;
}

static long long num(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* The balloon (in MiB) the host asks the guest for: the device's num_pages. */
static long long asked_mib(void)
{
	return (long long)vdrv_rd(&drv, 0x100, 4) * 4096 >> 20;
}

/* The guest sends its statistics (MiB) and the device has them. */
static void guest_stats(uint64_t total, uint64_t avail, uint64_t fr)
{
	const uint16_t tags[3] = { VBALLOON_S_MEMTOT, VBALLOON_S_AVAIL, VBALLOON_S_MEMFREE };
	const uint64_t vals[3] = { total << 20, avail << 20, fr << 20 };
	uint64_t gpa = VDRV_DATA + 0x2000 + 0x100 * (slot++ % 16);
	uint8_t st[30];
	long long before;
	json_t *r = balloon();

	before = num(r, "stats_updates");
	json_decref(r);
	for (int i = 0; i < 3; i++) {
		memcpy(st + 10 * i, &tags[i], 2);
		memcpy(st + 10 * i + 2, &vals[i], 8);
	}
	memcpy(vm->mem->host + gpa, st, sizeof(st));
	vdrv_submit(&drv, 2, &(struct vdrv_buf){ gpa, sizeof(st), false }, 1);
	for (int i = 0; i < 5000; i++) {
		r = balloon();
		if (num(r, "stats_updates") > before) {
			json_decref(r);
			return;
		}
		json_decref(r);
		usleep(1000);
	}
	CHECK(!"the device took the statistics");
}

/* What GET /api/v1/vms/1 shows as dynamic_memory (the VM's JSON as api_vmget.c has it). */
static json_t *shown(void)
{
	struct inv_vm_hw hw;
	json_t *vmj, *dm;

	inv_vm_hw_get(c, 1, &hw);
	vmj = json_pack("{s:I,s:I,s:i,s:b,s:s,s:{s:o}}", "memory_mib", (json_int_t)256,
			"memory_min_mib", (json_int_t)(hw.memory_min_mib ? hw.memory_min_mib : 256),
			"memory_buffer_pct", hw.memory_buffer_pct, "balloon", 1, "state", "running",
			"runtime", "balloon", balloon());
	dm = sup_dynmem_json(&srv, 1, vmj);
	json_decref(vmj);
	return dm;
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

/* The newest vm-memory-target event's data (a new reference; an empty object: none). */
static int last_target(const struct inv_event *e, void *arg)
{
	if (!strcmp(e->type, "vm-memory-target") && e->data) {
		json_decref(*(json_t **)arg);
		*(json_t **)arg = json_loads(e->data, 0, NULL);
	}
	return 0;
}

static json_t *last_event(int64_t *count)
{
	json_t *d = json_object();
	int64_t last = 0;

	inv_event_each(c, -1, 1000, last_target, &d);
	inv_event_last(c, &last);
	if (count)
		*count = last;
	return d;
}

static void set_min(int64_t min)
{
	struct inv_vm_hw hw;

	CHECK_EQ(inv_vm_hw_get(c, 1, &hw), 0);
	hw.memory_min_mib = min;
	CHECK_EQ(inv_vm_hw_put(c, 1, &hw), 0);
}

static void test_loop(void)
{
	const char *devs[1] = { "balloon,deflate-on-oom=on,stats-interval=0" };
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM, .serial = VM_SERIAL_NONE,
				 .devices = devs, .nr_devices = 1 };
	struct inv_vm v = { .cpus = 1, .memory_mib = 256, .kernel = "/k", .cmdline = "",
			    .description = "", .cpu_weight = 100, .name = "dm",
			    .restart_policy = "never", .undo_disks = "off" };
	struct supervisor sup = { .srv = &srv };
	struct runvm rv = { .id = 1, .pidfd = -1, .name = "dm" };
	struct control *ctl = NULL;
	char sock[128], path[160];
	struct vdevs *vd;
	int64_t id = 0, n0, n1;
	json_t *e, *dm;
	pthread_t th;

	snprintf(path, sizeof(path), "%s/inventory.db", srv.data_dir);
	CHECK_EQ(inv_open(path, &srv.db), 0);
	CHECK_EQ(events_create(&srv.ev), 0);
	c = srv.db ? inv_get(srv.db) : NULL;
	CHECK(c != NULL);
	if (!c || !srv.ev)
		return;
	CHECK_EQ(inv_vm_create(c, &v, &id), 0);
	CHECK_EQ(id, 1);
	set_min(96);
	CHECK_EQ(inv_vm_set_state(c, 1, INV_VM_RUNNING, getpid(), NULL), 0);
	pthread_mutex_init(&sup.lock, NULL);
	rv.mon_pid = getpid();
	sup.vms = &rv;
	srv.sup = &sup;
	CHECK_EQ(sup_dynmem_start(&sup, false), 0);

	/* the VMM, where the server looks for VM 1's control socket */
	CHECK_EQ(vmctl_path(&srv, 1, sock, sizeof(sock)), 0);
	vm = handvm_new(&cfg, MEM);
	CHECK(vm != NULL);
	if (!vm)
		return;
	CHECK_EQ(vm_devices_init(vm), 0);
	CHECK_EQ(control_open(sock, &ctl), 0);
	CHECK_EQ(control_attach(ctl, vm), 0);
	CHECK_EQ(pthread_create(&th, NULL, loop_thread, NULL), 0);
	vd = vm->devices_priv;
	CHECK(vd && vd->n == 1 && vd->e[0].mmio);
	if (!vd || vd->n != 1 || !vd->e[0].mmio)
		return;
	drv = (struct vdrv){ .bus = &vm->mmio, .mem = vm->mem, .base = vd->e[0].mmio->base };
	CHECK_EQ(vdrv_setup(&drv, ~0ULL, 3), 15);

	/* no statistics yet: left alone */
	sup_dynmem_step(&sup);
	dm = shown();
	CHECK(!strcmp(str(dm, "decision"), "no-stats"));
	CHECK(!strcmp(str(dm, "mode"), "policy"));
	CHECK_EQ(num(dm, "target_mib"), 256);
	CHECK_EQ(asked_mib(), 0);
	json_decref(dm);

	/* an idle guest: total 240 (16 hidden), available 200: it uses 40 and wants
	 * 16 + 40 + 8, below its minimum 96; one step of max(32, 10%) down */
	guest_stats(240, 200, 180);
	sup_dynmem_step(&sup);
	e = last_event(&n0);
	dm = shown();
	if (!strcmp(str(e, "reason"), "shrink")) {
		CHECK_EQ(num(e, "target_mib"), 224);
		CHECK_EQ(asked_mib(), 32);
	} else {
		/* a host short of memory (pressure) takes it further, never below 96 */
		CHECK(!strcmp(str(e, "reason"), "pressure"));
		CHECK(num(e, "target_mib") >= 96 && num(e, "target_mib") < 256);
	}
	CHECK(!strcmp(str(e, "by"), "policy"));
	CHECK_EQ(num(e, "previous_mib"), 256);
	CHECK_EQ(num(e, "guest_used_mib"), 40);
	CHECK_EQ(num(e, "want_mib"), 96);
	CHECK_EQ(num(dm, "target_mib"), 256 - asked_mib());
	CHECK_EQ(num(dm, "guest_used_mib"), 40);
	CHECK_EQ(num(dm, "guest_free_mib"), 180);
	CHECK_EQ(num(dm, "want_mib"), 96);
	CHECK(json_is_number(json_object_get(dm, "changed")));
	json_decref(e);
	json_decref(dm);

	/* right after: it settles (no second step, no event) */
	{
		long long asked = asked_mib();

		sup_dynmem_step(&sup);
		json_decref(last_event(&n1));
		CHECK_EQ(n1, n0);
		CHECK_EQ(asked_mib(), asked);
	}

	/* absurd statistics: more available than total; nothing is done */
	guest_stats(240, 4000, 180);
	{
		long long asked = asked_mib();

		sup_dynmem_step(&sup);
		dm = shown();
		CHECK(!strcmp(str(dm, "decision"), "absurd"));
		CHECK_EQ(asked_mib(), asked);
		json_decref(dm);
	}

	/* a manual target: dynamic memory turned off (min = max) would give all of it back,
	 * but a user set 200 MiB with these settings: left alone */
	guest_stats(240, 200, 180);
	set_min(0);
	e = balloon();
	json_decref(e);
	{
		json_t *reply = NULL;

		CHECK_EQ(sup_balloon_target(&srv, c, 1, "dm", 200, "alice", NULL, &reply), 0);
		json_decref(reply);
	}
	sup_dynmem_manual(&srv, 1, true, 0, DYNMEM_BUFFER_DEFAULT, 256);
	json_decref(last_event(&n0));
	sup_dynmem_step(&sup);
	json_decref(last_event(&n1));
	dm = shown();
	CHECK_EQ(asked_mib(), 56);
	CHECK_EQ(n1, n0);
	CHECK(!strcmp(str(dm, "mode"), "manual"));
	CHECK(json_is_null(json_object_get(dm, "decision")));
	json_decref(dm);

	/* handed back: off, so all of its memory again (a clamp) */
	sup_dynmem_manual(&srv, 1, false, 0, 0, 0);
	sup_dynmem_step(&sup);
	e = last_event(NULL);
	dm = shown();
	CHECK_EQ(asked_mib(), 0);
	CHECK(!strcmp(str(e, "reason"), "clamp"));
	CHECK_EQ(num(e, "target_mib"), 256);
	CHECK(!strcmp(str(dm, "mode"), "off"));
	json_decref(e);
	json_decref(dm);

	/* a manual target whose settings change after it: the change ends it */
	set_min(128);
	{
		json_t *reply = NULL;

		CHECK_EQ(sup_balloon_target(&srv, c, 1, "dm", 100, "alice", NULL, &reply), 0);
		json_decref(reply);
	}
	sup_dynmem_manual(&srv, 1, true, 128, DYNMEM_BUFFER_DEFAULT, 256);
	set_min(160);
	sup_dynmem_step(&sup);
	dm = shown();
	CHECK(!strcmp(str(dm, "mode"), "policy"));
	CHECK_EQ(num(dm, "target_mib"), 160);
	json_decref(dm);

	/* a manual target holds through steps of the same run; another run (a restart) ends it */
	{
		json_t *reply = NULL;

		CHECK_EQ(sup_balloon_target(&srv, c, 1, "dm", 120, "alice", NULL, &reply), 0);
		json_decref(reply);
	}
	sup_dynmem_manual(&srv, 1, true, 160, DYNMEM_BUFFER_DEFAULT, 256);
	sup_dynmem_step(&sup);
	sup_dynmem_step(&sup);
	CHECK_EQ(asked_mib(), 256 - 120);
	pthread_mutex_lock(&sup.lock);
	rv.mon_pid = getpid() + 1;
	pthread_mutex_unlock(&sup.lock);
	sup_dynmem_step(&sup);
	dm = shown();
	CHECK(!strcmp(str(dm, "mode"), "policy"));
	CHECK_EQ(num(dm, "target_mib"), 160);
	json_decref(dm);

	evloop_stop(vm->loop, 0);
	pthread_join(th, NULL);
	control_detach(ctl);
	control_close(ctl);
	vm_devices_exit(vm);
	handvm_free(vm);
	sup_dynmem_stop(&sup);
	srv.sup = NULL;
	inv_put(c);
	inv_close(srv.db);
	events_destroy(srv.ev);
}

int main(void)
{
	char dir[64], cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/vsrv-dynloop.%d", getpid());
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/vms/1", dir);
	if (system(cmd) != 0) {
		printf("FAIL setup: %s\n", cmd);
		return 1;
	}
	srv.data_dir = dir;
	RUN(test_loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return check_done();
}
