/* The user-mode NAT backend of virtio-net: libslirp, loaded with dlopen on first use so
 * that `vsrv run` without --net user never loads it (nor GLib behind it). Network
 * 10.0.2.0/24 as in QEMU: gateway 10.0.2.2, DNS 10.0.2.3, DHCP from 10.0.2.15.
 * libslirp is not thread-safe: every call into it is made under the backend's lock, from
 * the slirp thread (poll loop and timers) or the device's I/O thread (guest frames). */
#include "devices/virtio/net.h"

#include "util/log.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <slirp/libslirp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_TIMERS 32
#define MAX_POLL 256

struct slirp_api {
	Slirp *(*new_)(const SlirpConfig *, const SlirpCb *, void *);
	void (*cleanup)(Slirp *);
	void (*pollfds_fill)(Slirp *, uint32_t *, SlirpAddPollCb, void *);
	void (*pollfds_poll)(Slirp *, int, SlirpGetREventsCb, void *);
	void (*input)(Slirp *, const uint8_t *, int);
	void (*handle_timer)(Slirp *, SlirpTimerId, void *);
};

struct stimer {
	bool used, armed;
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms;
};

struct slirp_be {
	struct net_backend b;
	struct slirp_api api;
	void *dl;
	Slirp *slirp;
	net_rx_fn rx;
	void *nic;
	pthread_mutex_t lock;
	pthread_t thread;
	bool started;
	int wakefd;
	volatile bool stop;
	struct stimer timers[MAX_TIMERS];
	struct pollfd pfd[MAX_POLL];
	unsigned npfd;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_be *s = opaque;

	if (s->rx)
		s->rx(s->nic, buf, len); /* dropped when the guest has no buffers */
	return len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	(void)opaque;
	vsrv_log("--net user: guest error: %s", msg);
}

static int64_t cb_clock(void *opaque)
{
	(void)opaque;
	return now_ns();
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct slirp_be *s = opaque;
	unsigned i;

	for (i = 0; i < MAX_TIMERS; i++) {
		if (!s->timers[i].used) {
			s->timers[i] = (struct stimer){ .used = true, .id = id, .cb_opaque = cb_opaque };
			return &s->timers[i];
		}
	}
	vsrv_log("--net user: out of timers");
	return NULL;
}

static void cb_timer_free(void *t, void *opaque)
{
	(void)opaque;
	if (t)
		((struct stimer *)t)->used = false;
}

static void cb_timer_mod(void *t, int64_t expire_ms, void *opaque)
{
	struct slirp_be *s = opaque;
	uint64_t one = 1;

	if (!t)
		return;
	((struct stimer *)t)->expire_ms = expire_ms;
	((struct stimer *)t)->armed = true;
	if (write(s->wakefd, &one, 8) < 0)
		return;
}

static void cb_notify(void *opaque)
{
	struct slirp_be *s = opaque;
	uint64_t one = 1;

	if (write(s->wakefd, &one, 8) < 0)
		return;
}

/* libslirp opened a socket (a guest's TCP connect, a new UDP flow, ICMP): the slirp
 * thread's poll set does not hold it yet, so wake the thread to fill the set again, or the
 * connect's completion waits for the next timeout and the guest retransmits its SYN. */
static void cb_register_poll_fd(int fd, void *opaque)
{
	(void)fd;
	cb_notify(opaque);
}

static void cb_unregister_poll_fd(int fd, void *opaque) { (void)fd; (void)opaque; }

static int add_poll(int fd, int events, void *opaque)
{
	struct slirp_be *s = opaque;
	short e = 0;

	if (s->npfd >= MAX_POLL)
		return -1;
	if (events & SLIRP_POLL_IN) e |= POLLIN;
	if (events & SLIRP_POLL_OUT) e |= POLLOUT;
	if (events & SLIRP_POLL_PRI) e |= POLLPRI;
	s->pfd[s->npfd] = (struct pollfd){ .fd = fd, .events = e };
	return s->npfd++;
}

static int get_revents(int idx, void *opaque)
{
	struct slirp_be *s = opaque;
	short r;
	int e = 0;

	if (idx < 0 || (unsigned)idx >= s->npfd)
		return 0;
	r = s->pfd[idx].revents;
	if (r & POLLIN) e |= SLIRP_POLL_IN;
	if (r & POLLOUT) e |= SLIRP_POLL_OUT;
	if (r & POLLPRI) e |= SLIRP_POLL_PRI;
	if (r & POLLERR) e |= SLIRP_POLL_ERR;
	if (r & POLLHUP) e |= SLIRP_POLL_HUP;
	return e;
}

static void *slirp_main(void *arg)
{
	struct slirp_be *s = arg;

	while (!s->stop) {
		uint32_t timeout = 1000;
		int64_t now_ms = now_ns() / 1000000;
		unsigned i;
		int n;

		pthread_mutex_lock(&s->lock);
		s->npfd = 0;
		add_poll(s->wakefd, SLIRP_POLL_IN, s);
		s->api.pollfds_fill(s->slirp, &timeout, add_poll, s);
		for (i = 0; i < MAX_TIMERS; i++) {
			struct stimer *t = &s->timers[i];

			if (t->used && t->armed) {
				int64_t d = t->expire_ms - now_ms;

				if (d < 0)
					d = 0;
				if ((uint64_t)d < timeout)
					timeout = d;
			}
		}
		pthread_mutex_unlock(&s->lock);
		n = poll(s->pfd, s->npfd, timeout);
		if (s->pfd[0].revents & POLLIN) {
			uint64_t v;

			if (read(s->wakefd, &v, 8) < 0 && errno != EAGAIN)
				break;
		}
		pthread_mutex_lock(&s->lock);
		s->api.pollfds_poll(s->slirp, n < 0, get_revents, s);
		now_ms = now_ns() / 1000000;
		for (i = 0; i < MAX_TIMERS; i++) {
			struct stimer *t = &s->timers[i];

			if (t->used && t->armed && t->expire_ms <= now_ms) {
				t->armed = false;
				s->api.handle_timer(s->slirp, t->id, t->cb_opaque);
			}
		}
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static int slirp_send(struct net_backend *b, unsigned q, const struct iovec *iov, int n,
		      size_t len)
{
	struct slirp_be *s = (struct slirp_be *)b;

	(void)q; /* one queue pair */
	if (n != 1 || len > INT32_MAX)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->api.input(s->slirp, iov[0].iov_base, (int)len);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int slirp_start(struct net_backend *b, net_rx_fn rx, void *nic)
{
	struct slirp_be *s = (struct slirp_be *)b;
	int ret;

	pthread_mutex_lock(&s->lock);
	s->rx = rx;
	s->nic = nic;
	pthread_mutex_unlock(&s->lock);
	ret = pthread_create(&s->thread, NULL, slirp_main, s);
	if (ret)
		return -ret;
	s->started = true;
	return 0;
}

static void slirp_stop(struct net_backend *b)
{
	struct slirp_be *s = (struct slirp_be *)b;

	if (s->started) {
		s->stop = true;
		cb_notify(s);
		pthread_join(s->thread, NULL);
		s->started = false;
	}
}

static void slirp_destroy(struct net_backend *b)
{
	struct slirp_be *s = (struct slirp_be *)b;

	slirp_stop(b);
	if (s->slirp)
		s->api.cleanup(s->slirp);
	close(s->wakefd);
	/* the library stays loaded: unloading GLib-based code is not safe */
	free(s);
}

static const SlirpCb callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new_opaque,
};

int net_slirp_open(uint32_t net, uint32_t mask, uint32_t dhcp, struct net_backend **out)
{
	return net_slirp_open_boot(net, mask, dhcp, NULL, NULL, false, out);
}

int net_slirp_open_boot(uint32_t net, uint32_t mask, uint32_t dhcp, const char *tftp,
			const char *bootfile, bool no_host_loopback, struct net_backend **out)
{
	struct slirp_be *s;
	SlirpConfig cfg;
	char *root = NULL;
	struct stat st;
	void *dl;

	/* libslirp serves files under the path it is given: make it absolute, so it does not
	 * depend on the working directory, and check it is a directory now */
	if (tftp) {
		root = realpath(tftp, NULL);
		if (!root || stat(root, &st) || !S_ISDIR(st.st_mode)) {
			int ret = root ? -ENOTDIR : -errno;

			vsrv_log("--net user,tftp=%s: %s", tftp, strerror(-ret));
			free(root);
			return ret;
		}
	}

	dl = dlopen("libslirp.so.0", RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		vsrv_log("--net user: cannot load libslirp (install Debian's libslirp0): %s",
			 dlerror());
		free(root);
		return -ENOTSUP;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		free(root);
		return -ENOMEM;
	}
	s->dl = dl;
	*(void **)&s->api.new_ = dlsym(dl, "slirp_new");
	*(void **)&s->api.cleanup = dlsym(dl, "slirp_cleanup");
	*(void **)&s->api.pollfds_fill = dlsym(dl, "slirp_pollfds_fill");
	*(void **)&s->api.pollfds_poll = dlsym(dl, "slirp_pollfds_poll");
	*(void **)&s->api.input = dlsym(dl, "slirp_input");
	*(void **)&s->api.handle_timer = dlsym(dl, "slirp_handle_timer");
	if (!s->api.new_ || !s->api.cleanup || !s->api.pollfds_fill || !s->api.pollfds_poll ||
	    !s->api.input || !s->api.handle_timer) {
		vsrv_log("--net user: libslirp lacks the 4.x API");
		free(root);
		free(s);
		return -ENOTSUP;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = 4;
	cfg.in_enabled = true;
	cfg.disable_host_loopback = no_host_loopback;
	if (!net) {
		net = 0x0a000200;
		mask = 0xffffff00;
	}
	cfg.vnetwork.s_addr = htonl(net);
	cfg.vnetmask.s_addr = htonl(mask);
	cfg.vhost.s_addr = htonl(net | 2);
	cfg.vdhcp_start.s_addr = htonl(dhcp ? dhcp : net | 15);
	cfg.vnameserver.s_addr = htonl(net | 3);
	cfg.vhostname = "vsrv";
	cfg.if_mtu = 1500;
	cfg.if_mru = 1500;
	cfg.tftp_path = root;      /* libslirp copies both */
	cfg.bootfile = bootfile;
	s->slirp = s->wakefd >= 0 ? s->api.new_(&cfg, &callbacks, s) : NULL;
	free(root);
	if (!s->slirp) {
		vsrv_log("--net user: cannot start the user-mode network");
		if (s->wakefd >= 0)
			close(s->wakefd);
		free(s);
		return -ENOMEM;
	}
	s->b.kind = "user";
	s->b.vnet_hdr = false;
	s->b.nfd = 0; /* frames arrive through callbacks */
	s->b.send = slirp_send;
	s->b.start = slirp_start;
	s->b.stop = slirp_stop;
	s->b.destroy = slirp_destroy;
	*out = &s->b;
	return 0;
}
