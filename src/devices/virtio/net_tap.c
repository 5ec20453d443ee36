/* The TAP backend of virtio-net: /dev/net/tun with IFF_VNET_HDR, so the virtio-net header
 * (checksum and segmentation offloads) passes straight through; with several queue pairs,
 * IFF_MULTI_QUEUE and one fd per pair (the kernel spreads flows over them). */
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

static int tap_send(struct net_backend *b, unsigned q, const struct iovec *iov, int n,
		    size_t len)
{
	ssize_t w = writev(b->fd[q < b->nfd ? q : 0], iov, n);

	/* A full TAP queue drops the frame, as a real NIC would. */
	return w == (ssize_t)len ? 0 : -EIO;
}

static int tap_set_offload(struct net_backend *b, unsigned flags)
{
	/* the offloads belong to the device, not to one queue */
	return ioctl(b->fd[0], TUNSETOFFLOAD, flags) ? -errno : 0;
}

static void tap_destroy(struct net_backend *b)
{
	unsigned k;

	for (k = 0; k < b->nfd; k++)
		close(b->fd[k]);
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

/* Open queue k of the TAP (k == 0: create or open name, else join t->ifname). */
static int tap_open_queue(struct tap *t, unsigned k, unsigned queues, const char *name)
{
	struct ifreq ifr;
	int hdr = VNET_HDR_LEN, fd, ret;
	const char *want = k ? t->ifname : name ? name : "vsrv%d";

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		vsrv_log("--net: cannot open /dev/net/tun: %s", strerror(errno));
		return ret;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (queues > 1 ? IFF_MULTI_QUEUE : 0);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", want);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		ret = -errno;
		if (queues > 1)
			vsrv_log("--net: cannot open queue %u of %u of TAP %s: %s (an existing TAP "
				 "must have been made with multi_queue)", k + 1, queues, want,
				 strerror(errno));
		else
			vsrv_log("--net: cannot create or open TAP %s: %s", want, strerror(errno));
		goto err;
	}
	if (k == 0) {
		memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ);
		t->ifname[IFNAMSIZ - 1] = '\0';
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) || (k == 0 && ioctl(fd, TUNSETOFFLOAD, 0))) {
		ret = -errno;
		vsrv_log("--net: TAP %s: cannot set the virtio-net header: %s", t->ifname,
			 strerror(errno));
		goto err;
	}
	t->b.fd[k] = fd;
	t->b.nfd = k + 1;
	return 0;
err:
	close(fd);
	return ret;
}

int net_tap_open(const char *name, const char *bridge, unsigned queues,
		 struct net_backend **out)
{
	struct tap *t;
	unsigned k;
	int ret;

	if (queues < 1 || queues > VNET_MAX_PAIRS)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->b.kind = "tap";
	t->b.vnet_hdr = true;
	t->b.send = tap_send;
	t->b.set_offload = tap_set_offload;
	t->b.destroy = tap_destroy;
	for (k = 0; k < queues; k++) {
		ret = tap_open_queue(t, k, queues, name);
		if (ret)
			goto err;
	}
	memcpy(t->b.ifname, t->ifname, sizeof(t->b.ifname));
	t->b.ifname[sizeof(t->b.ifname) - 1] = '\0';
	ret = if_up_and_bridge(t->ifname, bridge);
	if (ret) {
		vsrv_log("--net: TAP %s: cannot bring it up%s%s: %s", t->ifname,
			 bridge ? " on bridge " : "", bridge ? bridge : "", strerror(-ret));
		goto err;
	}
	*out = &t->b;
	return 0;
err:
	tap_destroy(&t->b);
	return ret;
}
