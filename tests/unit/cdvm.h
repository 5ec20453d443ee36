/* The scaffolding of the media tests (test_control_media.c, vmcd_media.c), without KVM: a VM
 * built by hand with two CD/DVD drives through the device level, its control loop on a
 * thread with the control socket attached, and the test driver (vdrv.h) playing the guest on
 * the virtio-scsi controller. One includer per program (the VM and the driver are its). */
#ifndef VSRV_TESTS_UNIT_CDVM_H
#define VSRV_TESTS_UNIT_CDVM_H

#include "check.h"
#include "handvm.h"
#include "vdrv.h"
#include "devices/virtio/devstate.h"
#include "devices/virtio/mmio.h"
#include "vmm/control.h"
#include "vmm/vm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MEM (16 << 20)
#define REQ (VDRV_DATA)
#define RESP (VDRV_DATA + 0x200)
#define BUF (VDRV_DATA + 0x1000)

static struct vm *vm;
static struct vdrv drv;

static void *cdvm_loop_thread(void *arg)
{
	(void)arg;
	evloop_run(vm->loop);
	return NULL;
}

/* One SCSI command to target t; returns the SCSI status; sense at RESP + 12. */
static int scsi(unsigned t, const uint8_t *cdb, unsigned len, uint32_t in)
{
	uint8_t *r = vm->mem->host + REQ;
	struct vdrv_buf b[3] = { { REQ, 51, false }, { RESP, 108, true }, { BUF, in, true } };

	memset(r, 0, 51);
	r[0] = 1;
	r[1] = t;
	memcpy(r + 19, cdb, len);
	vdrv_submit(&drv, 2, b, in ? 3 : 2);
	vdrv_wait(&drv, 2, NULL);
	return vm->mem->host[RESP + 10];
}

static const uint8_t TUR[6] = { 0 };

/* The volume id of the disc in target t ("" when the read fails). */
static const char *volume(unsigned t)
{
	static char id[33];
	const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1 };
	int n;

	id[0] = 0;
	if (scsi(t, r10, 10, 2048) != 0 || memcmp(vm->mem->host + BUF + 1, "CD001", 5))
		return id;
	memcpy(id, vm->mem->host + BUF + 40, 32);
	for (n = 32; n > 0 && id[n - 1] == ' '; n--)
		;
	id[n] = 0;
	return id;
}

/* Build vm with cfg (two CD/DVD drives; cfg stays the caller's and must outlive vm), its
 * control socket open at sock and attached (*ctl), its loop running on *th, the driver set up
 * on the controller. false (the failure CHECKed, vm left as it is) when the devices are not
 * the two drives and their controller. */
static bool cdvm_start(struct vm_config *cfg, const char *sock, struct control **ctl,
		       pthread_t *th)
{
	struct vdevs *v;

	vm = handvm_new_devices(cfg, MEM);
	CHECK(vm != NULL);
	if (!vm)
		return false;
	v = vm->devices_priv;
	CHECK(v && v->n == 3 && v->e[2].mmio); /* two drives, then their controller */
	if (!v || v->n != 3)
		return false;
	drv = (struct vdrv){ .bus = &vm->mmio, .mem = vm->mem, .base = v->e[2].mmio->base };
	CHECK_EQ(vdrv_setup(&drv, ~0ULL, 3), 15);
	CHECK_EQ(control_open(sock, ctl), 0);
	CHECK_EQ(control_attach(*ctl, vm), 0);
	CHECK_EQ(pthread_create(th, NULL, cdvm_loop_thread, NULL), 0);
	return true;
}

/* Stop the loop on th, then close ctl and free vm (cdvm_start's). */
static void cdvm_stop(struct control *ctl, pthread_t th)
{
	evloop_stop(vm->loop, 0);
	pthread_join(th, NULL);
	control_detach(ctl);
	control_close(ctl);
	handvm_free_devices(vm);
}

#endif
