/* The control socket refuses to save or migrate a VM with --enlightenments xen (its Xen
 * platform state is not in a save), with the reason, before the vCPUs stop or any memory
 * is sent: a VM built by hand without KVM (handvm.h) with the Xen platform's state
 * (arch/x86/xen.h) on its guest memory, the real control socket on its control loop. */
#include "check.h"
#include "handvm.h"
#include "arch/x86/enlight.h"
#include "arch/x86/xen.h"
#include "vmm/control.h"
#include "vmm/vm.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MEM (16 << 20)

static struct vm *vm;
static FILE *cl;

static int translate(void *o, unsigned vcpu, uint64_t gva, uint64_t *gpa)
{
	(void)o; (void)vcpu;
	*gpa = gva;
	return 0;
}

static void *loop_thread(void *arg)
{
	(void)arg;
	evloop_run(vm->loop);
	return NULL;
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

static bool refused(json_t *r)
{
	json_t *e = json_object_get(r, "error");
	const char *m = json_is_string(e) ? json_string_value(e) :
			json_string_value(json_object_get(e, "message"));

	return r && !json_is_true(json_object_get(r, "ok")) && m &&
	       strstr(m, "--enlightenments xen") && strstr(m, "cannot be saved or migrated");
}

static void test_save_and_migrate_refused(void)
{
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM,
				 .enlightenments = X86_ENLIGHT_XEN };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct x86_xen_host h = { .nr_vcpus = 1, .translate = translate };
	struct control *ctl = NULL;
	char sock[64], path[96], line[256];
	struct stat st;
	pthread_t th;
	json_t *r;
	int fd;

	vm = handvm_new(&cfg, MEM);
	CHECK(vm != NULL);
	if (!vm)
		return;
	h.mem = vm->mem;
	CHECK_EQ(x86_xen_create(&h, &vm->xen), 0);
	snprintf(sock, sizeof(sock), "/tmp/vsrv-ctl-xen.%d", getpid());
	snprintf(path, sizeof(path), "/tmp/vsrv-ctl-xen.%d.save", getpid());
	CHECK_EQ(control_open(sock, &ctl), 0);
	CHECK_EQ(control_attach(ctl, vm), 0);
	CHECK_EQ(pthread_create(&th, NULL, loop_thread, NULL), 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cl = fdopen(fd, "r+");
	CHECK(cl != NULL);
	if (cl) {
		snprintf(line, sizeof(line), "{\"cmd\":\"save\",\"path\":\"%s\"}", path);
		r = q(line);
		CHECK(refused(r));
		json_decref(r);
		CHECK(stat(path, &st) < 0 && errno == ENOENT);
		r = q("{\"cmd\":\"migrate\",\"to\":\"unix:/nonexistent/vsrv-xen-dst\"}");
		CHECK(refused(r));
		json_decref(r);
		r = q("{\"cmd\":\"status\"}");          /* the VM goes on */
		CHECK(r && !json_object_get(r, "error"));
		json_decref(r);
		fclose(cl);
	}
	evloop_stop(vm->loop, 0);
	pthread_join(th, NULL);
	control_detach(ctl);
	control_close(ctl);
	x86_xen_destroy(vm->xen);
	vm->xen = NULL;
	handvm_free(vm);
	unlink(path);
}

int main(void)
{
	RUN(test_save_and_migrate_refused);
	return check_done();
}
