#include "devices/virtio/options.h"

#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Split buf in place at the next ',': returns the current item and advances *p. */
static char *next_item(char **p)
{
	char *s = *p, *c;

	if (!s)
		return NULL;
	c = strchr(s, ',');
	if (c) {
		*c = 0;
		*p = c + 1;
	} else {
		*p = NULL;
	}
	return s;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_transport(const char *v, enum vopt_transport *t)
{
	if (!strcmp(v, "mmio"))
		*t = VOPT_MMIO;
	else if (!strcmp(v, "pci"))
		*t = VOPT_PCI;
	else
		return -EINVAL;
	return 0;
}

static int parse_mac(const char *v, uint8_t mac[6])
{
	unsigned b[6], i;
	char end;

	if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		mac[i] = b[i];
	if (mac[0] & 1) /* multicast bit: not a station address */
		return -EINVAL;
	return 0;
}

static int bad(const char *opt, const char *spec, const char *what)
{
	vsrv_log("--%s %s: %s", opt, spec, what);
	return -EINVAL;
}

int vopt_parse_disk(const char *spec, struct vopt_disk *o)
{
	char *p, *it;

	memset(o, 0, sizeof(*o));
	o->buf = strdup(spec);
	if (!o->buf)
		return -ENOMEM;
	p = o->buf;
	o->path = next_item(&p);
	if (!o->path)
		goto err_path;
	while ((it = next_item(&p))) {
		char *v = strchr(it, '=');

		if (!v)
			goto err_item;
		*v++ = 0;
		if (!strcmp(it, "format")) {
			if (strcmp(v, "vhd") && strcmp(v, "raw"))
				goto err_item;
			o->format = v;
		} else if (!strcmp(it, "readonly")) {
			if (parse_bool(v, &o->readonly))
				goto err_item;
		} else if (!strcmp(it, "bus")) {
			o->bus = v; /* the device kinds know the names (kind.h) */
		} else if (!strcmp(it, "cache")) {
			if (!strcmp(v, "none"))
				o->nocache = true;
			else if (!strcmp(v, "writeback"))
				o->nocache = false;
			else
				goto err_item;
		} else if (!strcmp(it, "transport")) {
			if (parse_transport(v, &o->transport))
				goto err_item;
		} else if (!strcmp(it, "queues")) {
			char *end;
			unsigned long n = strtoul(v, &end, 10);

			if (*end || n < 1 || n > 16)
				goto err_item;
			o->queues = n;
		} else if (!strcmp(it, "media")) {
			if (strcmp(v, "cdrom") && strcmp(v, "disk"))
				goto err_item;
			o->cdrom = !strcmp(v, "cdrom");
		} else if (!strcmp(it, "serial")) {
			if (strlen(v) > 20)
				goto err_item;
			o->serial = v;
		} else {
			goto err_item;
		}
	}
	if (!*o->path && !o->cdrom)
		goto err_path;
	if (o->cdrom)
		o->readonly = true;
	return 0;
err_path:
	vopt_disk_free(o);
	return bad("disk", spec, "expected PATH[,format=vhd|raw][,readonly=on]"
		   "[,bus=virtio-blk|scsi|ahci|ide][,media=disk|cdrom][,cache=none|writeback][,transport=mmio|pci][,queues=N]"
		   "[,serial=S]");
err_item:
	vopt_disk_free(o);
	return bad("disk", spec, "bad option (format=vhd|raw, readonly=on|off, "
		   "bus=virtio-blk|scsi|ahci|ide, media=disk|cdrom, cache=none|writeback, transport=mmio|pci, "
		   "queues=1..16, serial=up to 20 chars)");
}

int vopt_parse_net(const char *spec, struct vopt_net *o)
{
	char *p, *it;
	bool kind = false;

	memset(o, 0, sizeof(*o));
	o->buf = strdup(spec);
	if (!o->buf)
		return -ENOMEM;
	p = o->buf;
	while ((it = next_item(&p))) {
		char *v = strchr(it, '=');

		if (v)
			*v++ = 0;
		if (!strcmp(it, "user") && !v) {
			o->kind = VOPT_NET_USER;
		} else if (!strcmp(it, "tap") && v && *v && strlen(v) < 16) {
			o->kind = VOPT_NET_TAP;
			o->ifname = v;
		} else if (!strcmp(it, "bridge") && v && *v && strlen(v) < 16) {
			o->kind = VOPT_NET_BRIDGE;
			o->ifname = v;
		} else if (!strcmp(it, "net") && v) {
			unsigned a, b, c, d, n;
			char t;

			if (sscanf(v, "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &n, &t) != 5 || a > 255 ||
			    b > 255 || c > 255 || d > 255 || n < 8 || n > 28)
				goto err;
			o->user_mask = ~0u << (32 - n);
			o->user_net = (a << 24 | b << 16 | c << 8 | d) & o->user_mask;
			continue;
		} else if (!strcmp(it, "dhcpstart") && v) {
			unsigned a, b, c, d;
			char t;

			if (sscanf(v, "%u.%u.%u.%u%c", &a, &b, &c, &d, &t) != 4 || a > 255 ||
			    b > 255 || c > 255 || d > 255)
				goto err;
			o->user_dhcp = a << 24 | b << 16 | c << 8 | d;
			continue;
		} else if (!strcmp(it, "mac") && v) {
			if (parse_mac(v, o->mac))
				goto err;
			o->has_mac = true;
			continue;
		} else if (!strcmp(it, "transport") && v) {
			if (parse_transport(v, &o->transport))
				goto err;
			o->has_transport = true;
			continue;
		} else if (!strcmp(it, "model") && v) {
			/* the NIC model: it picks the device kind (devices.c) */
			if (strcmp(v, "virtio") && strcmp(v, "e1000"))
				goto err;
			o->model = v;
			continue;
		} else if (!strcmp(it, "queues") && v) {
			char *end;
			unsigned long n = strtoul(v, &end, 10);

			if (!*v || *end || n < 1 || n > 8)
				goto err;
			o->queues = n;
			continue;
		} else if (!strcmp(it, "romfile") && v) {
			/* as QEMU's romfile=: empty for none (and none, for readable scripts) */
			o->has_romfile = true;
			o->romfile = *v && strcmp(v, "none") ? v : NULL;
			continue;
		} else if (!strcmp(it, "hostloop") && v && (!strcmp(v, "on") || !strcmp(v, "off"))) {
			o->no_host_loopback = !strcmp(v, "off");
			continue;
		} else if ((!strcmp(it, "tftp") || !strcmp(it, "bootfile")) && v && *v) {
			if (it[0] == 't')
				o->tftp = v;
			else if (strlen(v) < 128) /* the BOOTP file field */
				o->bootfile = v;
			else
				goto err;
			continue;
		} else {
			goto err;
		}
		if (kind)
			goto err; /* two backends */
		kind = true;
	}
	if (!kind || ((o->user_net || o->user_dhcp || o->no_host_loopback) && o->kind != VOPT_NET_USER))
		goto err;
	if ((o->tftp || o->bootfile) && o->kind != VOPT_NET_USER) {
		vopt_net_free(o);
		return bad("net", spec, "tftp= and bootfile= are the user-mode network's (user): "
			   "with tap= or bridge=, the LAN's DHCP and TFTP servers do it");
	}
	if (o->kind == VOPT_NET_USER && o->queues > 1) {
		vopt_net_free(o);
		return bad("net", spec, "user-mode NAT (user) has one queue pair: queues=N needs "
			   "tap= or bridge=");
	}
	if (!o->queues)
		o->queues = 1;
	if (o->user_dhcp) {
		uint32_t net = o->user_net ? o->user_net : 0x0a000200, mask = o->user_net ?
			       o->user_mask : 0xffffff00;
		/* inside the network, past the gateway (.2) and DNS (.3), not broadcast */
		if ((o->user_dhcp & mask) != net || (o->user_dhcp & ~mask) < 4 ||
		    (o->user_dhcp & ~mask) + 16 > ~mask)
			goto err;
	}
	return 0;
err:
	vopt_net_free(o);
	return bad("net", spec, "expected tap=NAME|bridge=BR|user[,net=A.B.C.D/N][,dhcpstart=IP]"
		   "[,mac=XX:XX:XX:XX:XX:XX][,model=virtio|e1000]"
		   "[,transport=mmio|pci][,queues=1..8][,romfile=PATH|none]"
		   "[,tftp=DIR][,bootfile=NAME (up to 127 characters)][,hostloop=on|off] (interface "
		   "names up to 15 "
		   "characters)");
}

int vopt_parse_kv(const char *spec, const char *const *keys, struct vopt_kv *o)
{
	char *p, *it, *v;
	unsigned k;

	memset(o, 0, sizeof(*o));
	o->buf = strdup(spec);
	if (!o->buf)
		return -ENOMEM;
	p = o->buf;
	next_item(&p); /* the kind's name */
	while ((it = next_item(&p))) {
		v = strchr(it, '=');
		if (!v)
			goto err;
		*v++ = 0;
		if (!strcmp(it, "transport")) {
			if (parse_transport(v, &o->transport))
				goto err;
			continue;
		}
		for (k = 0; k < VOPT_KV_MAX && keys[k] && strcmp(it, keys[k]); k++)
			;
		if (k == VOPT_KV_MAX || !keys[k] || !*v)
			goto err;
		o->val[k] = v;
	}
	return 0;
err:
	vopt_kv_free(o);
	return -EINVAL;
}

void vopt_disk_free(struct vopt_disk *o)
{
	free(o->buf);
	o->buf = NULL;
}

void vopt_net_free(struct vopt_net *o)
{
	free(o->buf);
	o->buf = NULL;
}

void vopt_kv_free(struct vopt_kv *o)
{
	free(o->buf);
	o->buf = NULL;
}
