/* The CD/DVD drive's command set (see scsi_mmc.h). Section numbers are MMC-6's. */
#include "devices/virtio/scsi_mmc.h"

#include <errno.h>
#include <string.h>

#define NOT_READY_NO_MEDIUM 0x3a
#define CDROM_PROFILE 0x0008
#define DVDROM_PROFILE 0x0010

static uint16_t be16(const uint8_t *p) { return p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v); }

static void invalid_field(struct scsi_result *r) { scsi_set_sense(r, SK_ILLEGAL_REQUEST, 0x24, 0); }

static uint64_t blocks(const struct scsi_lun *l)
{
	return l->disk ? l->nblocks / (MMC_BLOCK / 512) : 0;
}

static bool has_medium(const struct scsi_lun *l)
{
	return l->disk && l->nblocks && !l->mmc->tray_open;
}

static bool is_dvd(const struct scsi_lun *l)
{
	return blocks(l) > MMC_CD_MAX_BLOCKS;
}

/* NOT READY, MEDIUM NOT PRESENT: TRAY CLOSED or TRAY OPEN (SPC-4 table D.1). */
static void no_medium(const struct scsi_lun *l, struct scsi_result *r)
{
	scsi_set_sense(r, SK_NOT_READY, NOT_READY_NO_MEDIUM, l->mmc->tray_open ? 0x02 : 0x01);
}

void scsi_mmc_init(struct scsi_lun *l, struct scsi_mmc *m, struct disk *disk)
{
	memset(m, 0, sizeof(*m));
	l->mmc = m;
	l->readonly = true;
	l->disk = disk;
	l->nblocks = disk ? scsi_mmc_blocks(disk->size) * (MMC_BLOCK / 512) : 0;
}

void scsi_mmc_load(struct scsi_lun *l, struct disk *disk)
{
	l->disk = disk;
	l->nblocks = scsi_mmc_blocks(disk->size) * (MMC_BLOCK / 512);
	l->mmc->tray_open = false;
	l->mmc->event = MMC_EV_NEW_MEDIA;
	/* a reset's unit attention (asc 0x29) goes first; the guest rereads the disc after it */
	if (l->ua_asc != 0x29) {
		l->ua_asc = 0x28; /* NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED */
		l->ua_ascq = 0;
	}
}

int scsi_mmc_unload(struct scsi_lun *l, bool force, struct disk **old)
{
	*old = NULL;
	if (l->mmc->prevent && !force) {
		l->mmc->event = MMC_EV_EJECT_REQUEST;
		return -EBUSY;
	}
	*old = l->disk;
	l->disk = NULL;
	l->nblocks = 0;
	l->mmc->tray_open = true;
	l->mmc->event = MMC_EV_MEDIA_REMOVAL;
	if (l->ua_asc == 0x28) /* the medium it announced is gone again */
		l->ua_asc = l->ua_ascq = 0;
	return 0;
}

/* LBA to minutes, seconds, frames (75 per second) with the 2-second lead-in (150 frames);
 * beyond 255 minutes (a DVD) the fields saturate. */
static void put_msf(uint8_t *p, uint64_t lba)
{
	uint64_t f = lba + 150;

	p[0] = 0;
	if (f / (75 * 60) > 255) {
		p[1] = 255, p[2] = 59, p[3] = 74;
		return;
	}
	p[1] = f / (75 * 60);
	p[2] = f / 75 % 60;
	p[3] = f % 75;
}

static void put_addr(uint8_t *p, uint64_t lba, bool msf)
{
	if (msf)
		put_msf(p, lba);
	else
		put32(p, (uint32_t)lba);
}

/* READ TOC/PMA/ATIP (6.39): one data track and the lead-out. Format 0 (TOC) and 1 (session
 * information); the format may also come in the two top bits of byte 9 (SFF-8020i). */
static void read_toc(struct scsi_lun *l, const uint8_t *cdb, const struct scsi_buf *in,
		     struct scsi_result *res)
{
	uint8_t b[4 + 8 * 2];
	bool msf = cdb[1] & 0x02;
	unsigned format = cdb[2] & 0x0f, track = cdb[6], n = 4;

	if (!format && cdb[9] >> 6)
		format = cdb[9] >> 6;
	memset(b, 0, sizeof(b));
	b[2] = b[3] = 1; /* first and last track (format 1: session) */
	if (format == 0) {
		if (track > 1 && track != 0xaa) {
			invalid_field(res);
			return;
		}
		if (track <= 1) {
			b[n + 1] = 0x14; /* ADR 1 (Q sub-channel: position), control 4: data track */
			b[n + 2] = 1;
			put_addr(b + n + 4, 0, msf);
			n += 8;
		}
		b[n + 1] = 0x14;
		b[n + 2] = 0xaa; /* the lead-out starts after the last block */
		put_addr(b + n + 4, blocks(l), msf);
		n += 8;
	} else if (format == 1) {
		b[n + 1] = 0x14;
		b[n + 2] = 1; /* first track of the last session, and where it starts */
		put_addr(b + n + 4, 0, msf);
		n += 8;
	} else {
		invalid_field(res);
		return;
	}
	put16(b, n - 2);
	scsi_reply(in, b, n, be16(cdb + 7), res);
}

/* One feature descriptor's header (5.3): code, version, persistent, current, length. */
static unsigned feature(uint8_t *p, uint16_t code, unsigned version, bool persistent,
			bool current, unsigned len)
{
	put16(p, code);
	p[2] = version << 2 | persistent << 1 | current;
	p[3] = len;
	return 4 + len;
}

/* GET CONFIGURATION (6.6): the feature descriptors from the starting feature on, all (RT 0),
 * the current ones (RT 1) or the one asked for (RT 2). */
static void get_configuration(struct scsi_lun *l, const uint8_t *cdb, const struct scsi_buf *in,
			      struct scsi_result *res)
{
	uint8_t b[128];
	unsigned rt = cdb[1] & 3, start = be16(cdb + 2), n = 8, f;
	bool medium = has_medium(l), dvd = medium && is_dvd(l), cd = medium && !dvd;
	static const uint16_t codes[] = { 0x0000, 0x0001, 0x0002, 0x0003, 0x0010, 0x001e, 0x001f };

	if (rt == 3) {
		invalid_field(res);
		return;
	}
	memset(b, 0, sizeof(b));
	put16(b + 6, dvd ? DVDROM_PROFILE : cd ? CDROM_PROFILE : 0);
	for (f = 0; f < sizeof(codes) / sizeof(codes[0]); f++) {
		uint16_t code = codes[f];
		bool current = code == 0x0010 ? medium : code == 0x001e ? cd :
			       code == 0x001f ? dvd : true;
		uint8_t *p = b + n;

		if (code < start || (rt == 1 && !current) || (rt == 2 && code != start))
			continue;
		switch (code) {
		case 0x0000: /* Profile List: DVD-ROM, CD-ROM */
			n += feature(p, code, 0, true, true, 8);
			put16(p + 4, DVDROM_PROFILE);
			p[6] = dvd;
			put16(p + 8, CDROM_PROFILE);
			p[10] = cd;
			break;
		case 0x0001: /* Core: the SCSI family of interfaces */
			n += feature(p, code, 1, true, true, 8);
			put32(p + 4, 1);
			break;
		case 0x0002: /* Morphing: events by polling only (ASYNC 0, OCEvent 0) */
			n += feature(p, code, 1, true, true, 4);
			break;
		case 0x0003: /* Removable Medium: a tray that ejects and locks */
			n += feature(p, code, 0, true, true, 4);
			p[4] = 1 << 5 | 0x08 | 0x01; /* loading mechanism 001 (tray), Eject, Lock */
			break;
		case 0x0010: /* Random Readable: 2048-byte blocks, one per ECC unit on a CD */
			n += feature(p, code, 0, false, current, 8);
			put32(p + 4, MMC_BLOCK);
			put16(p + 8, dvd ? 16 : 1);
			break;
		case 0x001e: /* CD Read: no CD-Text, no C2 pointers, no digital audio */
			n += feature(p, code, 2, false, current, 4);
			break;
		case 0x001f: /* DVD Read */
			n += feature(p, code, 1, false, current, 4);
			break;
		}
	}
	put32(b, n - 4);
	scsi_reply(in, b, n, be16(cdb + 7), res);
}

/* GET EVENT STATUS NOTIFICATION (6.7), polled: the media class only; its pending event is
 * reported once. */
static void get_event_status(struct scsi_lun *l, const uint8_t *cdb, const struct scsi_buf *in,
			     struct scsi_result *res)
{
	uint8_t b[8];
	unsigned n = 4;

	if (!(cdb[1] & 1)) { /* asynchronous notification: not supported */
		invalid_field(res);
		return;
	}
	memset(b, 0, sizeof(b));
	b[3] = 1 << 4; /* supported classes: media */
	if (cdb[4] & (1 << 4)) {
		b[2] = 4; /* media class */
		b[4] = l->mmc->event;
		b[5] = (l->mmc->tray_open ? 0x01 : 0) | (has_medium(l) ? 0x02 : 0);
		n = 8;
		l->mmc->event = MMC_EV_NONE;
	} else {
		b[2] = 0x80; /* NEA: no event of the classes asked for */
	}
	put16(b, n - 2);
	scsi_reply(in, b, n, be16(cdb + 7), res);
}

/* MODE SENSE (6) and (10): read/write error recovery (0x01), CD device parameters (0x0d),
 * capabilities and mechanical status (0x2a), or all three (0x3f); no block descriptors. */
static void mode_sense(struct scsi_lun *l, const uint8_t *cdb, bool ten,
		       const struct scsi_buf *in, struct scsi_result *res)
{
	uint8_t b[96];
	unsigned page = cdb[2] & 0x3f, pc = cdb[2] >> 6, n = ten ? 8 : 4;
	size_t alloc = ten ? be16(cdb + 7) : cdb[4];
	bool changeable = pc == 1;

	if (pc == 3) { /* saved values */
		scsi_set_sense(res, SK_ILLEGAL_REQUEST, 0x39, 0);
		return;
	}
	if ((page != 0x01 && page != 0x0d && page != 0x2a && page != 0x3f) || cdb[3]) {
		invalid_field(res);
		return;
	}
	memset(b, 0, sizeof(b));
	if (page == 0x01 || page == 0x3f) {
		b[n] = 0x01;
		b[n + 1] = 0x0a;
		if (!changeable)
			b[n + 3] = 5; /* read retry count */
		n += 12;
	}
	if (page == 0x0d || page == 0x3f) {
		b[n] = 0x0d;
		b[n + 1] = 0x06;
		if (!changeable) {
			put16(b + n + 4, 60); /* S units per M */
			put16(b + n + 6, 75); /* F units per S */
		}
		n += 8;
	}
	if ((page == 0x2a || page == 0x3f) && !changeable) {
		uint8_t *p = b + n;

		p[0] = 0x2a;
		p[1] = 0x14;
		p[2] = 0x3b;  /* reads CD-R, CD-RW, method 2, DVD-ROM, DVD-R, DVD-RAM */
		p[4] = 0x70;  /* mode 2 form 1 and 2, multi-session */
		p[6] = 0x29 | (l->mmc->prevent ? 0x02 : 0); /* tray, eject, lock (and its state) */
		put16(p + 8, 706 * 4);   /* maximum read speed, KB/s (obsolete) */
		put16(p + 12, 512);      /* buffer size, KB */
		put16(p + 14, 706 * 4);  /* current read speed (obsolete) */
		n += 22;
	} else if (page == 0x2a || page == 0x3f) {
		b[n] = 0x2a;
		b[n + 1] = 0x14;
		n += 22;
	}
	if (ten)
		put16(b, n - 2);
	else
		b[0] = n - 1;
	scsi_reply(in, b, n, alloc, res);
}

/* READ DISC INFORMATION (6.22), standard disc information: a finalized disc, one session,
 * one track. */
static void read_disc_info(struct scsi_lun *l, const uint8_t *cdb, const struct scsi_buf *in,
			   struct scsi_result *res)
{
	uint8_t b[34];

	(void)l;
	if (cdb[1] & 7) {
		invalid_field(res);
		return;
	}
	memset(b, 0, sizeof(b));
	put16(b, sizeof(b) - 2);
	b[2] = 3 << 2 | 2;  /* last session complete, disc finalized */
	b[3] = 1;           /* first track */
	b[4] = 1;           /* sessions */
	b[5] = 1;           /* first track in the last session */
	b[6] = 1;           /* last track in the last session */
	b[7] = 0x20;        /* URU: unrestricted use */
	b[8] = 0x00;        /* disc type: CD-DA or CD-ROM */
	memset(b + 16, 0xff, 8); /* no lead-in of a next session, no last possible lead-out */
	scsi_reply(in, b, sizeof(b), be16(cdb + 7), res);
}

/* READ TRACK INFORMATION (6.27): track 1, by an LBA within it, its number, or session 1. */
static void read_track_info(struct scsi_lun *l, const uint8_t *cdb, const struct scsi_buf *in,
			    struct scsi_result *res)
{
	uint8_t b[36];
	uint32_t addr = be32(cdb + 2);
	unsigned type = cdb[1] & 3;

	if (type == 3 || (type == 0 && addr >= blocks(l)) || (type != 0 && addr != 1)) {
		invalid_field(res);
		return;
	}
	memset(b, 0, sizeof(b));
	put16(b, sizeof(b) - 2);
	b[2] = 1;           /* track number */
	b[3] = 1;           /* session number */
	b[5] = 0x04;        /* track mode: data, recorded uninterrupted */
	b[6] = 0x01;        /* data mode 1 */
	put32(b + 24, (uint32_t)blocks(l));      /* track size */
	put32(b + 28, (uint32_t)blocks(l) - 1);  /* last recorded address */
	scsi_reply(in, b, sizeof(b), be16(cdb + 7), res);
}

/* READ DVD STRUCTURE (6.30), DVD media only: physical format information (0) of a
 * single-layer DVD-ROM and copyright information (1: no protection). */
static void read_dvd_structure(struct scsi_lun *l, const uint8_t *cdb, const struct scsi_buf *in,
			       struct scsi_result *res)
{
	uint8_t b[4 + 2048];
	unsigned format = cdb[7], n;

	if ((cdb[1] & 0x0f) || (format != 0 && format != 1) || cdb[6]) {
		invalid_field(res); /* another media type, format or layer */
		return;
	}
	if (!is_dvd(l)) { /* CANNOT READ MEDIUM, INCOMPATIBLE FORMAT */
		scsi_set_sense(res, SK_ILLEGAL_REQUEST, 0x30, 0x02);
		return;
	}
	memset(b, 0, sizeof(b));
	if (format == 0) {
		b[4] = 0x01;             /* book type DVD-ROM, part version 1 */
		b[5] = 0x0f;             /* 120 mm, maximum rate not specified */
		b[6] = 0x01;             /* one layer, embossed data */
		put32(b + 8, 0x30000);   /* first physical sector of the data area */
		put32(b + 12, 0x30000 + (uint32_t)blocks(l) - 1);
		n = 4 + 2048;
	} else {
		n = 8;                   /* no copy protection, all regions */
	}
	put16(b, n - 2);
	scsi_reply(in, b, n, be16(cdb + 8), res);
}

/* READ(10), READ(12), READ CD: 2048-byte blocks from the image. */
static void read_blocks(struct scsi_lun *l, uint64_t lba, uint64_t nb, const struct scsi_buf *in,
			struct scsi_result *res)
{
	if (lba > blocks(l) || nb > blocks(l) - lba) {
		scsi_set_sense(res, SK_ILLEGAL_REQUEST, 0x21, 0); /* LBA OUT OF RANGE */
		return;
	}
	if (nb > UINT32_MAX / (MMC_BLOCK / 512)) { /* more than any data-in buffer holds */
		invalid_field(res);
		return;
	}
	scsi_read_blocks(l, lba * (MMC_BLOCK / 512), (uint32_t)nb * (MMC_BLOCK / 512), in, res);
}

/* START STOP UNIT (6.43) with LoEj: open the tray (refused while the guest prevents
 * removal) or close it. Without LoEj it only spins the (virtual) disc. */
static void start_stop(struct scsi_lun *l, const uint8_t *cdb, struct scsi_result *res)
{
	struct scsi_mmc *m = l->mmc;
	bool loej = cdb[4] & 0x02, start = cdb[4] & 0x01;

	if (!loej || (cdb[4] >> 4))
		return;
	if (!start) {
		if (m->prevent) { /* MEDIUM REMOVAL PREVENTED */
			scsi_set_sense(res, SK_ILLEGAL_REQUEST, 0x53, 0x02);
			return;
		}
		if (!m->tray_open && l->disk)
			m->event = MMC_EV_MEDIA_REMOVAL;
		m->tray_open = true;
	} else if (m->tray_open) {
		m->tray_open = false;
		if (l->disk)
			m->event = MMC_EV_NEW_MEDIA;
	}
}

static bool is_write(uint8_t op)
{
	switch (op) {
	case 0x04: /* FORMAT UNIT */
	case 0x0a: case 0x2a: case 0xaa: case 0x8a: /* WRITE (6, 10, 12, 16) */
	case 0x2e: /* WRITE AND VERIFY (10) */
	case 0x53: /* RESERVE TRACK */
	case 0x54: /* SEND OPC INFORMATION */
	case 0x5b: /* CLOSE TRACK/SESSION */
	case 0x5d: /* SEND CUE SHEET */
	case 0xa1: /* BLANK */
		return true;
	default:
		return false;
	}
}

/* Commands that need a medium (the others work with an empty drive too). */
static bool needs_medium(uint8_t op)
{
	switch (op) {
	case 0x00: /* TEST UNIT READY */
	case 0x25: case 0x28: case 0xa8: case 0xbe: case 0x2b: /* capacity, reads, seek */
	case 0x43: case 0x51: case 0x52: case 0xad: /* TOC, disc, track, DVD structure */
		return true;
	default:
		return is_write(op);
	}
}

/* REQUEST SENSE: a pending unit attention (cleared), else NOT READY without a medium, else
 * no sense. */
static void request_sense(struct scsi_lun *l, const uint8_t *cdb, const struct scsi_buf *in,
			  struct scsi_result *res)
{
	struct scsi_result r = { 0 };

	if (l->ua_asc) {
		scsi_set_sense(&r, SK_UNIT_ATTENTION, l->ua_asc, l->ua_ascq);
		l->ua_asc = l->ua_ascq = 0;
	} else if (!has_medium(l)) {
		no_medium(l, &r);
	} else {
		scsi_set_sense(&r, SK_NO_SENSE, 0, 0);
	}
	scsi_reply(in, r.sense, SCSI_SENSE_LEN, cdb[4], res);
}

void scsi_mmc_exec(struct scsi_lun *l, const uint8_t *cdb, size_t cdb_len,
		   const struct scsi_buf *out, const struct scsi_buf *in, struct scsi_result *res)
{
	struct scsi_mmc *m = l->mmc;
	uint8_t op = cdb[0], b[8];

	(void)cdb_len; /* scsi_exec checked it against the command's group */
	(void)out;
	if (op == 0x03) {
		request_sense(l, cdb, in, res);
		return;
	}
	/* a unit attention goes with the first command but those that report status (6.6.1,
	 * 6.7.1: GET CONFIGURATION and GET EVENT STATUS NOTIFICATION do not report it) */
	if (l->ua_asc && op != 0x46 && op != 0x4a) {
		scsi_set_sense(res, SK_UNIT_ATTENTION, l->ua_asc, l->ua_ascq);
		l->ua_asc = l->ua_ascq = 0;
		return;
	}
	if (needs_medium(op) && !has_medium(l)) {
		no_medium(l, res);
		return;
	}
	if (is_write(op)) {
		scsi_set_sense(res, SK_DATA_PROTECT, 0x27, 0); /* WRITE PROTECTED */
		return;
	}
	switch (op) {
	case 0x00: /* TEST UNIT READY */
	case 0xbb: /* SET CD SPEED: any speed is the same here */
	case 0x35: /* SYNCHRONIZE CACHE: nothing is cached for writing */
		return;
	case 0x25: /* READ CAPACITY (10): the last block and 2048 */
		if (be32(cdb + 2) || (cdb[8] & 1)) { /* PMI and its LBA are obsolete */
			invalid_field(res);
			return;
		}
		put32(b, (uint32_t)(blocks(l) - 1 > 0xffffffffu ? 0xffffffffu : blocks(l) - 1));
		put32(b + 4, MMC_BLOCK);
		scsi_reply(in, b, 8, 8, res);
		return;
	case 0x28: /* READ (10) */
		read_blocks(l, be32(cdb + 2), be16(cdb + 7), in, res);
		return;
	case 0xa8: /* READ (12) */
		read_blocks(l, be32(cdb + 2), be32(cdb + 6), in, res);
		return;
	case 0xbe: /* READ CD: user data of mode 1 / mode 2 form 1 sectors only */
		/* expected sector type any, mode 1 or mode 2 form 1; no header, no sub-channel */
		if (((cdb[1] >> 2) & 7) % 2 || ((cdb[1] >> 2) & 7) > 4 || cdb[9] != 0x10 ||
		    (cdb[10] & 0x07)) {
			invalid_field(res);
			return;
		}
		read_blocks(l, be32(cdb + 2), (uint32_t)cdb[6] << 16 | be16(cdb + 7), in, res);
		return;
	case 0x2b: /* SEEK (10) */
		if (be32(cdb + 2) >= blocks(l))
			scsi_set_sense(res, SK_ILLEGAL_REQUEST, 0x21, 0);
		return;
	case 0x43:
		read_toc(l, cdb, in, res);
		return;
	case 0x46:
		get_configuration(l, cdb, in, res);
		return;
	case 0x4a:
		get_event_status(l, cdb, in, res);
		return;
	case 0x1a: case 0x5a:
		mode_sense(l, cdb, op == 0x5a, in, res);
		return;
	case 0x51:
		read_disc_info(l, cdb, in, res);
		return;
	case 0x52:
		read_track_info(l, cdb, in, res);
		return;
	case 0xad:
		read_dvd_structure(l, cdb, in, res);
		return;
	case 0xbd: /* MECHANISM STATUS (6.11): no changer, idle, the door */
		memset(b, 0, sizeof(b));
		b[1] = m->tray_open ? 0x10 : 0;
		scsi_reply(in, b, 8, be16(cdb + 8), res);
		return;
	case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL: bit 0 locks the tray */
		m->prevent = cdb[4] & 0x01;
		return;
	case 0x1b:
		start_stop(l, cdb, res);
		return;
	default: /* INVALID COMMAND OPERATION CODE */
		scsi_set_sense(res, SK_ILLEGAL_REQUEST, 0x20, 0);
		return;
	}
}
