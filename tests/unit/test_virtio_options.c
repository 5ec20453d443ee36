/* Parsing of --disk, --net and --device, and which device kind a spec goes to. */
#include "check.h"
#include "devices/virtio/kind.h"
#include "devices/virtio/options.h"

#include <errno.h>
#include <string.h>

static void test_disk(void)
{
	struct vopt_disk d;

	CHECK_EQ(vopt_parse_disk("a.vhd", &d), 0);
	CHECK(!strcmp(d.path, "a.vhd") && !d.format && !d.readonly && !d.bus &&
	      d.transport == VOPT_MMIO);
	vopt_disk_free(&d);
	CHECK_EQ(vopt_parse_disk("/x/b.img,format=raw,readonly=on,bus=scsi,cache=none,"
				 "transport=pci,queues=4,serial=abc", &d), 0);
	CHECK(!strcmp(d.path, "/x/b.img") && !strcmp(d.format, "raw") && d.readonly &&
	      !strcmp(d.bus, "scsi") && d.nocache && d.transport == VOPT_PCI && d.queues == 4 &&
	      !strcmp(d.serial, "abc"));
	vopt_disk_free(&d);
	CHECK_EQ(vopt_parse_disk("", &d), -EINVAL);
	CHECK_EQ(vopt_parse_disk("a,format=qcow2", &d), -EINVAL);
	CHECK_EQ(vopt_parse_disk("a,readonly", &d), -EINVAL);
	CHECK_EQ(vopt_parse_disk("a,queues=0", &d), -EINVAL);
	CHECK_EQ(vopt_parse_disk("a,queues=17", &d), -EINVAL);
	CHECK_EQ(vopt_parse_disk("a,bogus=1", &d), -EINVAL);
	CHECK_EQ(vopt_parse_disk("a,serial=123456789012345678901", &d), -EINVAL);
	/* CD/DVD drives: always read-only, an empty path is an empty drive */
	CHECK_EQ(vopt_parse_disk("c.iso,media=cdrom,readonly=off", &d), 0);
	CHECK(!strcmp(d.path, "c.iso") && d.cdrom && d.readonly);
	vopt_disk_free(&d);
	CHECK_EQ(vopt_parse_disk(",media=cdrom,transport=pci", &d), 0);
	CHECK(!strcmp(d.path, "") && d.cdrom && d.transport == VOPT_PCI);
	vopt_disk_free(&d);
	CHECK_EQ(vopt_parse_disk("a,media=disk", &d), 0);
	CHECK(!d.cdrom && !d.readonly);
	vopt_disk_free(&d);
	CHECK_EQ(vopt_parse_disk(",media=disk", &d), -EINVAL);
	CHECK_EQ(vopt_parse_disk("a,media=tape", &d), -EINVAL);
}

static void test_net(void)
{
	struct vopt_net n;

	CHECK_EQ(vopt_parse_net("user", &n), 0);
	CHECK(n.kind == VOPT_NET_USER && !n.has_mac && !n.no_host_loopback);
	vopt_net_free(&n);
	CHECK_EQ(vopt_parse_net("user,net=10.9.0.0/24,hostloop=off", &n), 0);
	CHECK(n.kind == VOPT_NET_USER && n.no_host_loopback);
	vopt_net_free(&n);
	CHECK_EQ(vopt_parse_net("user,hostloop=on", &n), 0);
	CHECK(!n.no_host_loopback);
	vopt_net_free(&n);
	CHECK_EQ(vopt_parse_net("user,hostloop=no", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("user,hostloop", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("tap=t0,hostloop=off", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("tap=tap0,mac=52:54:00:12:34:56", &n), 0);
	CHECK(n.kind == VOPT_NET_TAP && !strcmp(n.ifname, "tap0") && n.has_mac &&
	      n.mac[5] == 0x56);
	vopt_net_free(&n);
	CHECK_EQ(vopt_parse_net("bridge=br0,transport=pci", &n), 0);
	CHECK(n.kind == VOPT_NET_BRIDGE && n.transport == VOPT_PCI && n.queues == 1);
	vopt_net_free(&n);
	CHECK_EQ(vopt_parse_net("tap=t0,queues=8", &n), 0);
	CHECK(n.kind == VOPT_NET_TAP && n.queues == 8);
	vopt_net_free(&n);
	CHECK_EQ(vopt_parse_net("bridge=br0,queues=2", &n), 0);
	CHECK_EQ(n.queues, 2);
	vopt_net_free(&n);
	CHECK_EQ(vopt_parse_net("user,queues=1", &n), 0);
	vopt_net_free(&n);
	CHECK_EQ(vopt_parse_net("user,queues=2", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("tap=t0,queues=0", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("tap=t0,queues=9", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("tap=t0,queues=", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("tap=t0,queues=2x", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("tap=", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("user,tap=x", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("user,mac=01:00:00:00:00:00", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("user,mac=52:54:00:12:34", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("tap=abcdefghijklmnopq", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("user,model=e1000", &n), 0);
	CHECK(!strcmp(n.model, "e1000") && !n.has_transport);
	vopt_net_free(&n);
	CHECK_EQ(vopt_parse_net("tap=t0,model=virtio,transport=mmio", &n), 0);
	CHECK(!strcmp(n.model, "virtio") && n.has_transport);
	vopt_net_free(&n);
	CHECK_EQ(vopt_parse_net("user,model=rtl8139", &n), -EINVAL);
	CHECK_EQ(vopt_parse_net("user,model=", &n), -EINVAL);
}

static void test_dev(void)
{
	static const char *const keys[] = { "socket", NULL };
	const struct device_kind *k;
	struct vopt_kv kv;
	void *o;

	CHECK_EQ(vopt_parse_kv("console,socket=/tmp/c.sock,transport=pci", keys, &kv), 0);
	CHECK(!strcmp(kv.val[0], "/tmp/c.sock") && kv.transport == VOPT_PCI);
	vopt_kv_free(&kv);
	CHECK_EQ(vopt_parse_kv("x,socket=", keys, &kv), -EINVAL);
	CHECK_EQ(vopt_parse_kv("x,other=1", keys, &kv), -EINVAL);
	CHECK_EQ(vopt_parse_kv("x,transport=usb", keys, &kv), -EINVAL);
	k = device_kind_for("device", "rng");
	CHECK(k && !strcmp(k->name, "virtio-rng"));
	CHECK_EQ(k->parse("rng", &o), 0);
	k->opts_free(o);
	CHECK_EQ(k->parse("rng,socket=x", &o), -EINVAL);
	k = device_kind_for("device", "console,socket=/tmp/c.sock,transport=pci");
	CHECK(k && !strcmp(k->name, "virtio-console"));
	CHECK_EQ(k->parse("console", &o), -EINVAL);
	CHECK(!device_kind_for("device", "gpu"));
	CHECK(!device_kind_for("device", ""));
}

/* The word that picks a --disk's kind is its bus= value (none: virtio-blk), a --net's its
 * model= value. */
static void test_kind_for(void)
{
	const struct device_kind *k;
	void *o;

	k = device_kind_for("disk", "a.vhd");
	CHECK(k && !strcmp(k->name, "virtio-blk"));
	k = device_kind_for("disk", "a.vhd,bus=blk,transport=pci");
	CHECK(k && !strcmp(k->name, "virtio-blk"));
	k = device_kind_for("disk", "a.vhd,format=raw,bus=scsi");
	CHECK(k && k->bus == DEVICE_BUS_NONE);
	CHECK(!device_kind_for("disk", "a.vhd,bus=floppy"));
	k = device_kind_for("disk", "a.iso,media=cdrom");
	CHECK(k && k->media && !strcmp(k->option, "disk"));
	CHECK(device_kind_for("disk", "a.iso,bus=scsi,media=cdrom") == k);
	CHECK(device_kind_for("disk", ",media=cdrom") == k);
	k = device_kind_for("disk", "a.iso,media=cdromx");
	CHECK(k && !strcmp(k->name, "virtio-blk")); /* not the word: its parser refuses it */
	k = device_kind_for("net", "user");
	CHECK(k && !strcmp(k->name, "virtio-net"));
	/* and a --net's its model= value (none: virtio-net) */
	k = device_kind_for("net", "user,model=virtio");
	CHECK(k && !strcmp(k->name, "virtio-net"));
	k = device_kind_for("net", "tap=t0,model=e1000,mac=52:54:00:00:00:01");
	CHECK(k && !strcmp(k->name, "e1000") && k->bus == DEVICE_BUS_PCI);
	CHECK(!device_kind_for("net", "user,model=ne2k"));
	k = device_kind_for("net", "model=e1000,user");     /* the word may come first */
	CHECK(k && !strcmp(k->name, "e1000"));
	CHECK_EQ(k->parse("model=e1000,user", &o), 0);
	k->opts_free(o);
	CHECK_EQ(k->parse("user", &o), -EINVAL);             /* not its spec */
	k = device_kind_for("net", "user");
	CHECK_EQ(k->parse("user,model=e1000", &o), -EINVAL); /* nor this one's */
	CHECK(!device_kind_for("serial", "x"));
}

int main(void)
{
	RUN(test_disk);
	RUN(test_net);
	RUN(test_dev);
	RUN(test_kind_for);
	return check_done();
}
