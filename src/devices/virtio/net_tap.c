/* The TAP backend of virtio-net: /dev/net/tun with IFF_VNET_HDR, so the virtio-net header
 * (checksum and segmentation offloads) passes straight through. */
#include "devices/virtio/net.h"

#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct tap {
	struct net_backend b;
	char ifname[IFNAMSIZ];
};

static int tap_send(struct net_backend *b, const struct iovec *iov, int n, size_t len)
{
	ssize_t w = writev(b->fd, iov, n);

	/* A full TAP queue drops the frame, as a real NIC would. */
	return w == (ssize_t)len ? 0 : -EIO;
}

static int tap_set_offload(struct net_backend *b, unsigned flags)
{
	return ioctl(b->fd, TUNSETOFFLOAD, flags) ? -errno : 0;
}

static void tap_destroy(struct net_backend *b)
{
	close(b->fd);
	free(b);
}

static int if_up_and_bridge(const char *ifname, const char *bridge)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr))
			ret = -errno;
	}
	if (!ret && bridge) {
		int idx;

		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
		if (ioctl(s, SIOCGIFINDEX, &ifr)) {
			ret = -errno;
		} else {
			idx = ifr.ifr_ifindex;
			memset(&ifr, 0, sizeof(ifr));
			snprintf(ifr.ifr_name, IFNAMSIZ, "%s", bridge);
			ifr.ifr_ifindex = idx;
			if (ioctl(s, SIOCBRADDIF, &ifr))
				ret = -errno;
		}
	}
	close(s);
	return ret;
}

int net_tap_open(const char *name, const char *bridge, struct net_backend **out)
{
	struct tap *t = calloc(1, sizeof(*t));
	struct ifreq ifr;
	int hdr = VNET_HDR_LEN, ret;

	if (!t)
		return -ENOMEM;
	t->b.kind = "tap";
	t->b.vnet_hdr = true;
	t->b.send = tap_send;
	t->b.set_offload = tap_set_offload;
	t->b.destroy = tap_destroy;
	t->b.fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (t->b.fd < 0) {
		ret = -errno;
		vsrv_log("--net: cannot open /dev/net/tun: %s", strerror(errno));
		goto err_free;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name ? name : "vsrv%d");
	if (ioctl(t->b.fd, TUNSETIFF, &ifr)) {
		ret = -errno;
		vsrv_log("--net: cannot create or open TAP %s: %s", name ? name : "vsrv%d",
			 strerror(errno));
		goto err_fd;
	}
	memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ);
	memcpy(t->b.ifname, ifr.ifr_name, sizeof(t->b.ifname));
	t->b.ifname[sizeof(t->b.ifname) - 1] = '\0';
	if (ioctl(t->b.fd, TUNSETVNETHDRSZ, &hdr) || ioctl(t->b.fd, TUNSETOFFLOAD, 0)) {
		ret = -errno;
		vsrv_log("--net: TAP %s: cannot set the virtio-net header: %s", t->ifname,
			 strerror(errno));
		goto err_fd;
	}
	ret = if_up_and_bridge(t->ifname, bridge);
	if (ret) {
		vsrv_log("--net: TAP %s: cannot bring it up%s%s: %s", t->ifname,
			 bridge ? " on bridge " : "", bridge ? bridge : "", strerror(-ret));
		goto err_fd;
	}
	*out = &t->b;
	return 0;
err_fd:
	close(t->b.fd);
err_free:
	free(t);
	return ret;
}
