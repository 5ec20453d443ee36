#include "devices/virtio/scsi.h"
#include "devices/virtio/kind.h"

#include "util/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q_CTRL 0
#define Q_EVENT 1
#define Q_REQ 2
#define NREQ 1

#define CDB_SIZE 32
#define SENSE_SIZE 96
#define REQ_HDR (8 + 8 + 3 + CDB_SIZE)   /* lun, id, task_attr, prio, crn, cdb */
#define RESP_HDR (4 + 4 + 2 + 1 + 1 + SENSE_SIZE)

#define S_OK 0
#define S_BAD_TARGET 3
#define S_FAILURE 9
#define S_FUNCTION_REJECTED 11

#define TMF_I_T_NEXUS_RESET 4
#define TMF_LUN_RESET 5

struct scsi_config {
	uint32_t num_queues, seg_max, max_sectors, cmd_per_lun, event_info_size;
	uint32_t sense_size, cdb_size;
	uint16_t max_channel, max_target;
	uint32_t max_lun;
} __attribute__((packed));

struct virtio_scsi {
	struct virtio_dev dev;
	struct scsi_config cfg;
	struct scsi_lun luns[VSCSI_MAX_TARGETS][SCSI_MAX_LUNS];
	struct virtq_elem el;
	struct iovec tmp_out[VIRTQ_MAX_SIZE], tmp_in[VIRTQ_MAX_SIZE];
	bool logged;
};

static void scsi_config(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len,
			bool is_write)
{
	struct virtio_scsi *s = d->priv;

	if (!is_write) /* sense_size and cdb_size writes are accepted and ignored: fixed */
		virtio_config_copy(&s->cfg, sizeof(s->cfg), off, data, len);
}

/* The buffers of e after skipping skip bytes of the readable (or writable) part. */
static int slice(const struct virtq_elem *e, bool writable, size_t skip, struct iovec *out)
{
	unsigned i = writable ? e->n_out : 0, end = writable ? e->n_out + e->n_in : e->n_out;
	int n = 0;

	for (; i < end; i++) {
		size_t l = e->iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		out[n].iov_base = (uint8_t *)e->iov[i].iov_base + skip;
		out[n++].iov_len = l - skip;
		skip = 0;
	}
	return n;
}

static uint32_t do_cmd(struct virtio_scsi *s)
{
	struct virtq_elem *e = &s->el;
	uint8_t req[REQ_HDR], resp[RESP_HDR];
	struct scsi_buf out, in;
	struct scsi_result r;
	unsigned target, lun;
	uint32_t resid;

	memset(resp, 0, sizeof(resp));
	if (e->out_len < REQ_HDR || e->in_len < RESP_HDR) {
		if (!s->logged)
			vsrv_log("%s: request without its headers; failing it", s->dev.name);
		s->logged = true;
		if (e->in_len >= 12) {
			resp[11] = S_FAILURE;
			virtq_elem_write(e, 0, resp, 12);
			return 12;
		}
		return 0;
	}
	virtq_elem_read(e, 0, req, REQ_HDR);
	target = req[1];
	lun = ((req[2] << 8) | req[3]) & 0x3fff;
	if (req[0] != 1 || target >= VSCSI_MAX_TARGETS || !scsi_lun_present(&s->luns[target][0])) {
		resp[11] = S_BAD_TARGET;
		virtq_elem_write(e, 0, resp, RESP_HDR);
		return RESP_HDR;
	}
	out.n = slice(e, false, REQ_HDR, s->tmp_out);
	out.iov = s->tmp_out;
	out.len = e->out_len - REQ_HDR;
	in.n = slice(e, true, RESP_HDR, s->tmp_in);
	in.iov = s->tmp_in;
	in.len = e->in_len - RESP_HDR;
	scsi_exec(s->luns[target], SCSI_MAX_LUNS, lun, req + 19, CDB_SIZE, &out, &in, &r);
	/* sense_len, resid, status_qualifier, status, response, sense */
	memcpy(resp, &r.sense_len, 4);
	resid = out.len ? 0 : (uint32_t)(in.len - r.in_done);
	memcpy(resp + 4, &resid, 4);
	resp[10] = r.status;
	resp[11] = S_OK;
	memcpy(resp + 12, r.sense, r.sense_len);
	virtq_elem_write(e, 0, resp, RESP_HDR);
	return RESP_HDR + r.in_done;
}

/* A task management function (type, subtype, lun[8], tag). Commands complete before the
 * next one is taken, so aborts find nothing; the resets leave a unit attention on the
 * LUNs they reset, as SAM requires. Returns the response code. */
static uint8_t tmf(struct virtio_scsi *s, const struct virtq_elem *e)
{
	uint8_t req[16];
	unsigned target, lun, l;

	if (virtq_elem_read(e, 0, req, 16) != 16)
		return S_OK; /* a short request asks for nothing we could do */
	target = req[9];
	lun = ((req[10] << 8) | req[11]) & 0x3fff;
	if (req[4] != TMF_LUN_RESET && req[4] != TMF_I_T_NEXUS_RESET)
		return S_OK;
	if (req[8] != 1 || target >= VSCSI_MAX_TARGETS || !scsi_lun_present(&s->luns[target][0]))
		return S_BAD_TARGET;
	for (l = 0; l < SCSI_MAX_LUNS; l++) {
		struct scsi_lun *x = &s->luns[target][l];

		if (!scsi_lun_present(x) || (req[4] == TMF_LUN_RESET && l != lun))
			continue;
		x->ua_asc = 0x29; /* BUS DEVICE RESET FUNCTION / I_T NEXUS LOSS OCCURRED */
		x->ua_ascq = req[4] == TMF_LUN_RESET ? 0x03 : 0x07;
	}
	return S_OK;
}

static uint32_t do_ctrl(struct virtio_scsi *s)
{
	struct virtq_elem *e = &s->el;
	uint32_t type = 0;
	uint8_t resp[5] = { 0 };

	virtq_elem_read(e, 0, &type, 4);
	if (type == 0) { /* task management: nothing is ever outstanding, so it succeeds */
		resp[0] = tmf(s, e);
		return virtq_elem_write(e, 0, resp, 1);
	}
	if (type == 1 || type == 2) { /* asynchronous notification query/subscribe: none */
		return virtq_elem_write(e, 0, resp, 5);
	}
	resp[0] = S_FUNCTION_REJECTED;
	return virtq_elem_write(e, 0, resp, 1);
}

static void scsi_queue(struct virtio_dev *d, unsigned q)
{
	struct virtio_scsi *s = d->priv;
	uint32_t gen;
	bool any = false;

	if (q == Q_EVENT)
		return; /* buffers stay with us until there is an event (never, for now) */
	while (virtio_pop(d, q, &s->el, &gen) == 1) {
		uint32_t len = q == Q_CTRL ? do_ctrl(s) : do_cmd(s);

		virtio_push(d, q, gen, s->el.head, len);
		any = true;
	}
	if (any)
		virtio_notify(d, q);
}

static const struct virtio_dev_ops scsi_ops = {
	.device_id = VIRTIO_ID_SCSI,
	.config_access = scsi_config,
	.queue_notify = scsi_queue,
};

int virtio_scsi_create(struct virtio_host *h, const char *name, struct virtio_scsi **out)
{
	struct virtio_scsi *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	s->cfg.num_queues = NREQ;
	s->cfg.seg_max = 254;
	s->cfg.max_sectors = 65536;
	s->cfg.cmd_per_lun = 128;
	s->cfg.sense_size = SENSE_SIZE;
	s->cfg.cdb_size = CDB_SIZE;
	s->cfg.max_target = VSCSI_MAX_TARGETS - 1;
	s->cfg.max_lun = SCSI_MAX_LUNS - 1;
	ret = virtio_dev_init(&s->dev, &scsi_ops, s, h, name, 2 + NREQ, 256, 0);
	if (ret) {
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

const struct vdisk_stats *virtio_scsi_stats(const struct virtio_scsi *s, unsigned target,
					    unsigned lun)
{
	if (target >= VSCSI_MAX_TARGETS || lun >= SCSI_MAX_LUNS ||
	    !scsi_lun_present(&s->luns[target][lun]))
		return NULL;
	return &s->luns[target][lun].st;
}

static int attach(struct virtio_scsi *s, unsigned target, unsigned lun, struct disk *disk,
		  struct scsi_mmc *mmc, const char *serial)
{
	struct scsi_lun *l;
	size_t n;

	if (target >= VSCSI_MAX_TARGETS || lun >= SCSI_MAX_LUNS)
		return -EINVAL;
	l = &s->luns[target][lun];
	if (scsi_lun_present(l))
		return -EEXIST;
	if (mmc) {
		scsi_mmc_init(l, mmc, disk);
	} else {
		l->disk = disk;
		l->nblocks = disk->size / 512;
		l->readonly = disk->readonly;
	}
	n = strlen(serial) < sizeof(l->serial) - 1 ? strlen(serial) : sizeof(l->serial) - 1;
	memcpy(l->serial, serial, n);
	l->naa = 0x6001405000000000ULL | (uint64_t)target << 8 | lun;
	return 0;
}

int virtio_scsi_attach(struct virtio_scsi *s, unsigned target, unsigned lun, struct disk *disk,
		       const char *serial)
{
	return attach(s, target, lun, disk, NULL, serial);
}

int virtio_scsi_attach_cd(struct virtio_scsi *s, unsigned target, unsigned lun,
			  struct scsi_mmc *mmc, struct disk *medium, const char *serial)
{
	return attach(s, target, lun, medium, mmc, serial);
}

struct scsi_lun *virtio_scsi_lun(struct virtio_scsi *s, unsigned target, unsigned lun)
{
	if (target >= VSCSI_MAX_TARGETS || lun >= SCSI_MAX_LUNS)
		return NULL;
	return &s->luns[target][lun];
}

int virtio_scsi_start(struct virtio_scsi *s)
{
	return virtio_dev_start(&s->dev);
}

struct virtio_dev *virtio_scsi_dev(struct virtio_scsi *s)
{
	return &s->dev;
}

void virtio_scsi_destroy(struct virtio_scsi *s)
{
	unsigned t, l;

	if (!s)
		return;
	virtio_dev_destroy(&s->dev);
	for (t = 0; t < VSCSI_MAX_TARGETS; t++)
		for (l = 0; l < SCSI_MAX_LUNS; l++)
			if (s->luns[t][l].disk)
				disk_flush(s->luns[t][l].disk);
	free(s);
}

int virtio_scsi_save(struct virtio_scsi *s, struct virtio_scsi_state *st)
{
	unsigned t, l;
	int ret, qret;

	memset(st, 0, sizeof(*st));
	qret = virtio_dev_quiesce(&s->dev); /* the LUN state is the I/O thread's */
	if (qret == -EDEADLK)
		return qret;
	ret = virtio_dev_save(&s->dev, &st->dev);
	for (t = 0; t < VSCSI_MAX_TARGETS; t++) {
		for (l = 0; l < SCSI_MAX_LUNS; l++) {
			const struct scsi_lun *x = &s->luns[t][l];

			st->lun[t][l].present = scsi_lun_present(x);
			/* a CD's medium is its drive's state (scsi_cd.c), and may change */
			st->lun[t][l].nblocks = x->mmc ? 0 : x->nblocks;
			st->lun[t][l].ua_asc = x->ua_asc;
			st->lun[t][l].ua_ascq = x->ua_ascq;
		}
	}
	st->sense_size = s->cfg.sense_size;
	st->cdb_size = s->cfg.cdb_size;
	virtio_dev_resume(&s->dev);
	return qret ? qret : ret;
}

static int scsi_check(struct virtio_scsi *s, const struct virtio_scsi_state *st)
{
	unsigned t, l;

	if (st->sense_size != s->cfg.sense_size || st->cdb_size != s->cfg.cdb_size)
		return -EINVAL;
	for (t = 0; t < VSCSI_MAX_TARGETS; t++) {
		for (l = 0; l < SCSI_MAX_LUNS; l++) {
			const struct virtio_scsi_lun_state *x = &st->lun[t][l];
			const struct scsi_lun *y = &s->luns[t][l];

			if (x->present != scsi_lun_present(y) ||
			    x->nblocks != (y->mmc ? 0 : y->nblocks) || x->pad)
				return -EINVAL; /* not the disks the guest knew */
			if ((x->ua_asc == 0 && x->ua_ascq) || (x->ua_asc && !x->present))
				return -EINVAL;
		}
	}
	return virtio_dev_check(&s->dev, &st->dev);
}

int virtio_scsi_restore(struct virtio_scsi *s, const struct virtio_scsi_state *st)
{
	unsigned t, l;
	int ret = scsi_check(s, st);

	if (ret)
		return ret;
	ret = virtio_dev_quiesce(&s->dev);
	if (ret == -EDEADLK)
		return ret;
	for (t = 0; t < VSCSI_MAX_TARGETS; t++) {
		for (l = 0; l < SCSI_MAX_LUNS; l++) {
			s->luns[t][l].ua_asc = st->lun[t][l].ua_asc;
			s->luns[t][l].ua_ascq = st->lun[t][l].ua_ascq;
		}
	}
	ret = virtio_dev_restore(&s->dev, &st->dev);
	virtio_dev_resume(&s->dev);
	return ret;
}

/* --- the device kinds (kind.h): --disk PATH,bus=scsi adds a disk (an entry without a
 * transport of its own) to the VM's one controller, created with the first of them (on
 * its transport) and given its own entry after every spec (finish). --- */

struct scsi_vm {
	struct virtio_scsi *scsi;
	bool has_entry;              /* the controller's entry exists (it destroys it) */
	enum vopt_transport transport;
	unsigned targets;            /* disks attached */
};

extern const struct device_kind virtio_scsi_kind, virtio_scsi_disk_kind;

int virtio_scsi_vm_add(struct vdevs *v, struct device_entry *e, enum vopt_transport transport,
		      struct disk *disk, struct scsi_mmc *mmc, const char *serial,
		      struct virtio_scsi **ctrl, struct scsi_lun **lun)
{
	struct scsi_vm *sv = devices_kind_priv(v, &virtio_scsi_disk_kind);
	unsigned n, t, l;
	int ret;

	if (!sv)
		return -ENOMEM;
	n = sv->targets;
	if (n >= VSCSI_MAX_TARGETS * SCSI_MAX_LUNS) {
		vsrv_log("%s: more than %d SCSI disks and drives", e->label,
			 VSCSI_MAX_TARGETS * SCSI_MAX_LUNS);
		return -ENOSPC;
	}
	if (!sv->scsi) {
		ret = virtio_scsi_create(&v->host, "virtio-scsi", &sv->scsi);
		if (ret)
			return ret;
		sv->transport = transport;
	}
	/* one target per disk, then further LUNs on the same targets */
	t = n % VSCSI_MAX_TARGETS, l = n / VSCSI_MAX_TARGETS;
	ret = attach(sv->scsi, t, l, disk, mmc, serial);
	if (ret)
		return ret;
	snprintf(e->name, sizeof(e->name), "virtio-scsi %u:%u", t, l);
	e->dstats = virtio_scsi_stats(sv->scsi, t, l);
	sv->targets++;
	if (ctrl)
		*ctrl = sv->scsi;
	if (lun)
		*lun = &sv->scsi->luns[t][l];
	return 0;
}

void virtio_scsi_vm_release(struct vdevs *v)
{
	struct scsi_vm *sv = devices_kind_priv(v, &virtio_scsi_disk_kind);

	/* a controller that never got its entry goes before the disks it borrows */
	if (sv && sv->scsi && !sv->has_entry) {
		virtio_scsi_destroy(sv->scsi);
		sv->scsi = NULL;
	}
}

static int sdisk_create(struct vdevs *v, struct device_entry *e, const void *opts,
			unsigned idx)
{
	const struct vopt_disk *o = opts;
	const char *base;
	int ret;

	ret = devices_open_disk(v, e, o, idx);
	if (ret)
		return ret;
	e->bus_or_backend = "scsi";
	base = strrchr(o->path, '/');
	base = o->serial ? o->serial : base ? base + 1 : o->path;
	return virtio_scsi_vm_add(v, e, o->transport, e->disk, NULL, base, NULL, NULL);
}

/* The controller gets an entry of its own, at the end. */
static int sdisk_finish(struct vdevs *v)
{
	struct scsi_vm *sv = devices_kind_priv(v, &virtio_scsi_disk_kind);
	struct device_entry *e;
	int ret;

	if (!sv || !sv->scsi)
		return 0;
	e = devices_entry_new(v);
	if (!e)
		return -ENOSPC;
	e->kind = &virtio_scsi_kind;
	e->priv = sv->scsi;
	sv->has_entry = true;
	e->dev = virtio_scsi_dev(sv->scsi);
	e->transport = sv->transport;
	ret = devices_attach(v, e);
	if (!ret)
		ret = virtio_scsi_start(sv->scsi);
	return ret;
}

static void sdisk_destroy(struct vdevs *v, struct device_entry *e)
{
	(void)e;
	virtio_scsi_vm_release(v);
}

static void scsi_kind_destroy(struct vdevs *v, struct device_entry *e)
{
	struct scsi_vm *sv = devices_kind_priv(v, &virtio_scsi_disk_kind);

	/* the controller's entry is the last: it goes before the disks it uses are closed */
	virtio_scsi_destroy(e->priv);
	if (sv)
		sv->scsi = NULL;
}

static int scsi_kind_save(struct device_entry *e, void *st)
{
	return virtio_scsi_save(e->priv, st);
}

static int scsi_kind_restore(struct device_entry *e, const void *st)
{
	return virtio_scsi_restore(e->priv, st);
}

_Static_assert(offsetof(struct virtio_scsi_state, dev) == 0, "the core's state comes first");
_Static_assert(sizeof(struct virtio_scsi_state) <= VDEV_STATE_MAX, "fits a state entry");

/* The controller: added by the disks' finish. */
const struct device_kind virtio_scsi_kind = {
	.name = "virtio-scsi",
	.id = 6,
	.bus = DEVICE_BUS_VIRTIO,
	.pci_class = 0x010000,
	.destroy = scsi_kind_destroy,
	.state_size = sizeof(struct virtio_scsi_state),
	.save = scsi_kind_save,
	.restore = scsi_kind_restore,
};

/* A disk on the controller: saved with it. */
const struct device_kind virtio_scsi_disk_kind = {
	.name = "SCSI disk",
	.id = 5,
	.option = "disk",
	.words = (const char *const[]){ "scsi", "virtio-scsi", NULL },
	.usage = "PATH,bus=scsi",
	.bus = DEVICE_BUS_NONE,
	.vm_priv_size = sizeof(struct scsi_vm),
	.parse = devices_parse_disk,
	.check = devices_check_disk,
	.opts_free = devices_free_disk_opts,
	.create = sdisk_create,
	.finish = sdisk_finish,
	.destroy = sdisk_destroy,
};
