/* Unit tests of the Xen HVM platform's saved state (arch/x86/xen_state.c) and its section in
 * a save file (vmm/savestate_file.c): a platform set up by the hypercalls a Linux guest
 * makes, on real guest memory, is saved (with KVM's timer and runstate times, which the
 * recorder standing for KVM hands out), checked, restored into a fresh platform (which
 * must give KVM everything again, the timer with its expiry) and goes on working; a file
 * of a Xen VM carries the section and reads back the same; hostile states are refused. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/enlight.h"
#include "arch/x86/xen.h"
#include "vmm/mem.h"
#include "vmm/savestate_file.h"

#define MEM   (4u << 20)
#define ARG   0x10000u
#define SHINFO 0x20000u
#define VINFO1 0x30080u
#define RUNST  0x31000u
#define EXPIRES 123456789ULL

static struct guest_mem *mem;
static struct rec {
	struct kvm_xen_hvm_attr vm[32];
	unsigned nvm;
	struct { unsigned vcpu; struct kvm_xen_vcpu_attr a; } vc[64];
	unsigned nvc;
} rec;

static int translate(void *o, unsigned vcpu, uint64_t gva, uint64_t *gpa)
{
	(void)o; (void)vcpu;
	*gpa = gva;
	return 0;
}
static int vm_attr(void *o, const struct kvm_xen_hvm_attr *a)
{
	(void)o;
	if (rec.nvm < 32)
		rec.vm[rec.nvm++] = *a;
	return 0;
}
static int vcpu_attr(void *o, unsigned vcpu, const struct kvm_xen_vcpu_attr *a)
{
	(void)o;
	if (rec.nvc < 64) {
		rec.vc[rec.nvc].vcpu = vcpu;
		rec.vc[rec.nvc++].a = *a;
	}
	return 0;
}
/* KVM's view: vCPU 1's timer armed, its runstate times */
static int vcpu_attr_get(void *o, unsigned vcpu, struct kvm_xen_vcpu_attr *a)
{
	(void)o;
	if (a->type == KVM_XEN_VCPU_ATTR_TYPE_TIMER) {
		a->u.timer.expires_ns = vcpu == 1 ? EXPIRES : 0;
		return 0;
	}
	if (a->type == KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA) {
		a->u.runstate.state = 0;
		a->u.runstate.time_running = 700;
		a->u.runstate.time_runnable = 200;
		a->u.runstate.time_blocked = 100;
		a->u.runstate.state_entry_time = 1000;
		return 0;
	}
	return -EINVAL;
}

static struct x86_xen *mk(void)
{
	struct x86_xen_host h = {
		.mem = mem, .nr_vcpus = 2, .translate = translate, .vm_attr = vm_attr,
		.vcpu_attr = vcpu_attr, .vcpu_attr_get = vcpu_attr_get,
		.caps = X86_XEN_CAPS_NEEDED | KVM_XEN_HVM_CONFIG_RUNSTATE |
			KVM_XEN_HVM_CONFIG_EVTCHN_SEND,
	};
	struct x86_xen *x = NULL;

	memset(&rec, 0, sizeof(rec));
	CHECK_EQ(x86_xen_create(&h, &x), 0);
	return x;
}

static void put32(uint64_t gpa, uint32_t v) { memcpy(mem->host + gpa, &v, 4); }
static void put64(uint64_t gpa, uint64_t v) { memcpy(mem->host + gpa, &v, 8); }
static uint32_t get32(uint64_t gpa) { uint32_t v; memcpy(&v, mem->host + gpa, 4); return v; }

static int64_t hc(struct x86_xen *x, unsigned vcpu, uint64_t nr, uint64_t a0, uint64_t a1,
		  uint64_t a2)
{
	uint64_t p[6] = { a0, a1, a2, 0, 0, 0 };

	return x86_xen_hypercall(x, vcpu, true, nr, p);
}

static int64_t evtchn(struct x86_xen *x, unsigned vcpu, unsigned cmd, uint32_t a, uint32_t b)
{
	memset(mem->host + ARG, 0, 24);
	put32(ARG, a);
	put32(ARG + 4, b);
	return hc(x, vcpu, XEN_HC_event_channel_op, cmd, ARG, 0);
}

/* What a Linux guest sets up on 2 vCPUs. Returns its IPI port on vCPU 1. */
static uint32_t boot(struct x86_xen *x, uint32_t *timer1)
{
	memset(mem->host + ARG, 0, 24);
	put32(ARG, 0x7ff0);
	put64(ARG + 16, SHINFO >> 12);
	CHECK_EQ(hc(x, 0, XEN_HC_memory_op, 7, ARG, 0), 0);           /* shared info */
	put32(ARG, 0x7ff0);
	put32(ARG + 4, 0);
	put64(ARG + 8, 2ULL << 56 | 0xf3);
	CHECK_EQ(hc(x, 0, XEN_HC_hvm_op, 0, ARG, 0), 0);              /* callback vector */
	put64(ARG, VINFO1 >> 12);
	put32(ARG + 8, VINFO1 & 0xfff);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 10, 1, ARG), 0);            /* vCPU 1's vcpu_info */
	put64(ARG, RUNST);
	CHECK_EQ(hc(x, 1, XEN_HC_vcpu_op, 5, 1, ARG), 0);             /* its runstate area */
	CHECK_EQ(evtchn(x, 0, 1, XEN_VIRQ_TIMER, 0), 0);
	CHECK_EQ(evtchn(x, 0, 1, XEN_VIRQ_TIMER, 1), 0);
	*timer1 = get32(ARG + 8);
	CHECK_EQ(evtchn(x, 0, 7, 1, 0), 0);                           /* an IPI to vCPU 1 */
	x86_xen_vcpu_sync(x, 1);
	return get32(ARG + 4);
}

static const struct kvm_xen_vcpu_attr *vcpu_set(unsigned vcpu, unsigned type)
{
	for (unsigned i = 0; i < rec.nvc; i++)
		if (rec.vc[i].vcpu == vcpu && rec.vc[i].a.type == type)
			return &rec.vc[i].a;
	return NULL;
}

static const struct kvm_xen_hvm_attr *vm_set(unsigned type)
{
	for (unsigned i = 0; i < rec.nvm; i++)
		if (rec.vm[i].type == type)
			return &rec.vm[i];
	return NULL;
}

static void test_roundtrip(void)
{
	static struct x86_xen_state st, st2;
	struct x86_xen *x, *y;
	const struct kvm_xen_vcpu_attr *a;
	const struct kvm_xen_hvm_attr *h;
	const char *why = "";
	uint32_t ipi, timer1;

	memset(mem->host, 0, MEM);
	x = mk();
	ipi = boot(x, &timer1);
	CHECK_EQ(guest_mem_track_start(mem), 0);
	CHECK_EQ(x86_xen_save(x, &st), 0);
	guest_mem_track_stop(mem);
	/* the pages KVM writes behind its dirty log go in a migration's last round */
	CHECK(mem->track[(SHINFO >> 12) / 64] & (1ULL << ((SHINFO >> 12) % 64)));
	CHECK(mem->track[(VINFO1 >> 12) / 64] & (1ULL << ((VINFO1 >> 12) % 64)));
	CHECK(mem->track[(RUNST >> 12) / 64] & (1ULL << ((RUNST >> 12) % 64)));
	CHECK(!(mem->track[0] & 1));
	CHECK_EQ(st.version, X86_XEN_STATE_VERSION);
	CHECK_EQ(st.size, sizeof(st));
	CHECK_EQ(st.vcpus[1].timer_expires_ns, EXPIRES);
	CHECK_EQ(st.vcpus[1].runstate[1], 1000);
	CHECK_EQ(st.vcpus[0].runstate[1], 0);                 /* no area: nothing kept */
	CHECK_EQ(x86_xen_state_check(&st, 2, mem, &why), 0);
	CHECK_EQ(x86_xen_state_check(&st, 2, NULL, &why), 0);

	/* restored into a fresh platform: KVM hears everything again */
	y = mk();
	CHECK_EQ(x86_xen_restore(y, &st), 0);
	h = vm_set(KVM_XEN_ATTR_TYPE_LONG_MODE);
	CHECK(h && h->u.long_mode == 1);
	h = vm_set(KVM_XEN_ATTR_TYPE_SHARED_INFO);
	CHECK(h && h->u.shared_info.gfn == SHINFO >> 12);
	h = vm_set(KVM_XEN_ATTR_TYPE_UPCALL_VECTOR);
	CHECK(h && h->u.vector == 0xf3);
	h = vm_set(KVM_XEN_ATTR_TYPE_EVTCHN);
	CHECK(h && h->u.evtchn.send_port == ipi && h->u.evtchn.deliver.port.vcpu == 1);
	a = vcpu_set(0, KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO);
	CHECK(a && a->u.gpa == SHINFO);                        /* the default one */
	a = vcpu_set(1, KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO);
	CHECK(a && a->u.gpa == VINFO1);
	a = vcpu_set(1, KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR);
	CHECK(a && a->u.gpa == RUNST);
	a = vcpu_set(1, KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA);
	CHECK(a && a->u.runstate.state_entry_time == 1000 && a->u.runstate.time_running == 700);
	a = vcpu_set(1, KVM_XEN_VCPU_ATTR_TYPE_TIMER);
	CHECK(a && a->u.timer.port == timer1 && a->u.timer.expires_ns == EXPIRES &&
	      a->u.timer.priority == KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL);
	a = vcpu_set(0, KVM_XEN_VCPU_ATTR_TYPE_TIMER);
	CHECK(a && a->u.timer.expires_ns == 0);
	/* ... and goes on as the saved one would */
	CHECK_EQ(evtchn(y, 0, 1, XEN_VIRQ_TIMER, 1), -XEN_EEXIST);
	CHECK_EQ(evtchn(y, 0, 5, 0x7ff0, ipi), 0);
	CHECK_EQ(get32(ARG + 8), 5);                           /* EVTCHNSTAT_ipi */
	put64(ARG, VINFO1 >> 12);
	CHECK_EQ(hc(y, 0, XEN_HC_vcpu_op, 10, 1, ARG), -XEN_EINVAL); /* registered already */
	CHECK_EQ(x86_xen_save(y, &st2), 0);
	st2.vcpus[1].timer_expires_ns = st.vcpus[1].timer_expires_ns;
	CHECK(!memcmp(&st, &st2, sizeof(st)));
	x86_xen_destroy(y);
	x86_xen_destroy(x);
}

/* States from a hostile file or stream: each broken one way, each refused with a reason. */
static void test_check(void)
{
	static struct x86_xen_state good, st;
	struct x86_xen *x;
	const char *why;
	uint32_t ipi, timer1;

	memset(mem->host, 0, MEM);
	x = mk();
	ipi = boot(x, &timer1);
	CHECK_EQ(x86_xen_save(x, &good), 0);
	x86_xen_destroy(x);
#define BAD(stmt) do { st = good; stmt; why = ""; \
		CHECK_EQ(x86_xen_state_check(&st, 2, mem, &why), -EINVAL); CHECK(why[0]); } while (0)
	BAD(st.version = 2);
	BAD(st.size = 8);
	BAD(st.nr_vcpus = 3);
	BAD(st.long_mode = 7);
	BAD(st.shinfo_gpa = MEM);                              /* past RAM */
	BAD(st.shinfo_gpa = SHINFO + 8);                       /* not a page */
	BAD(st.shinfo_gpa = UINT64_MAX - 4095);
	BAD(st.callback_param = 9);                            /* a GSI */
	BAD(st.callback_param = 2ULL << 56 | 3);               /* an exception */
	BAD(st.vcpus[1].vcpu_info_gpa = MEM - 32);
	BAD(st.vcpus[1].vcpu_info_gpa = VINFO1 + 4);           /* misaligned */
	BAD(st.vcpus[1].vcpu_info_gpa = 0x30fe0);              /* crosses a page */
	BAD(st.vcpus[1].runstate_gpa = UINT64_MAX - 8);
	BAD(st.vcpus[1].time_info_gpa = MEM);
	BAD(st.vcpus[1].vcpu_info_registered = 2);
	BAD(st.vcpus[1].runstate[0] = 4);
	BAD(st.vcpus[2].vcpu_info_gpa = 0x1000);               /* a vCPU the VM has not */
	BAD(st.vcpus[1].virq_port[XEN_VIRQ_TIMER] = ipi);      /* not a VIRQ port */
	BAD(st.vcpus[1].virq_port[XEN_VIRQ_TIMER] = XEN_MAX_PORTS);
	BAD(st.vcpus[0].virq_port[3] = timer1);                /* another VIRQ's */
	BAD(st.ports[0].type = XEN_PORT_IPI);
	BAD(st.ports[ipi].type = 9);
	BAD(st.ports[ipi].vcpu = 2);
	BAD(st.ports[timer1].virq = 5);                        /* its VIRQ does not name it */
	BAD(st.ports[700].vcpu = 1);                           /* a free port with a vCPU */
	BAD((st.ports[701].type = XEN_PORT_VIRQ, st.ports[701].virq = 30));
#undef BAD
	st = good;
	CHECK_EQ(x86_xen_state_check(&st, 1, mem, &why), -EINVAL); /* VM of another size */
}

/* A save file of a Xen VM carries the XEN section (right after DEVICES) and reads back the
 * same; a file whose section is hostile or empty is refused. */
static void test_file(void)
{
	static uint8_t ram[4 << 20];
	char path[] = "/tmp/vsrv-xen-state.XXXXXX";
	struct savestate *s = NULL, *r = NULL;
	struct x86_xen *x;
	const char *why = "";
	uint32_t timer1;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	memset(mem->host, 0, MEM);
	x = mk();
	boot(x, &timer1);
	CHECK_EQ(savestate_alloc(2, &s), 0);
	s->config.mem_size = sizeof(ram);
	s->config.enlightenments = X86_ENLIGHT_XEN;
	CHECK_EQ(x86_xen_save(x, &s->xen), 0);
	CHECK_EQ(savestate_write(fd, s, ram, NULL), 0);
	CHECK_EQ(savestate_read(fd, &r, &why), 0);
	CHECK(r && !memcmp(&r->xen, &s->xen, sizeof(s->xen)));
	CHECK(r && r->config.enlightenments == X86_ENLIGHT_XEN);
	CHECK(r && savestate_check(r, &why) == 0);
	savestate_free(r);
	r = NULL;

	/* a hostile section: refused by name */
	s->xen.ports[5].type = 9;
	CHECK_EQ(ftruncate(fd, 0), 0);
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(savestate_write(fd, s, ram, NULL), 0);
	CHECK_EQ(savestate_read(fd, &r, &why), -EINVAL);
	CHECK(strstr(why, "Xen") != NULL);
	CHECK(r == NULL);
	CHECK_EQ(savestate_check(s, &why), -EINVAL);           /* a migration's state too */

	/* a Xen VM's file whose section was never filled in (version 0) */
	memset(&s->xen, 0, sizeof(s->xen));
	CHECK_EQ(ftruncate(fd, 0), 0);
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(savestate_write(fd, s, ram, NULL), 0);
	CHECK_EQ(savestate_read(fd, &r, &why), -EINVAL);
	CHECK(strstr(why, "Xen") != NULL);
	savestate_free(s);
	x86_xen_destroy(x);
	close(fd);
	unlink(path);
}

int main(void)
{
	if (guest_mem_create(MEM, &mem))
		return 1;
	RUN(test_roundtrip);
	RUN(test_check);
	RUN(test_file);
	guest_mem_destroy(mem);
	return check_done();
}
