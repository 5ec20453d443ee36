#include "devices/serial.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "util/log.h"
#include "util/unixsock.h"
#include "devices/host.h"

enum { R_DATA, R_IER, R_IIR, R_LCR, R_MCR, R_LSR, R_MSR, R_SCR };
#define LCR_DLAB   0x80
#define MCR_LOOP   0x10
#define LSR_DR     0x01
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define IER_RDI    0x01
#define IER_THRI   0x02
#define IIR_NONE   0x01
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_FIFO   0xc0
#define FCR_ENABLE 0x01
#define FCR_CLR_RX 0x02
#define UART_FIFO  16     /* the 16550's transmit FIFO */

/* Output goes through a ring drained by the control loop, so a slow reader (a Unix-socket
 * client, a blocked terminal or pipe) never blocks a vCPU and loses nothing: while the ring
 * has no room for a FIFO load, LSR.THRE and TEMT read 0, as a real UART's do while it
 * sends at line speed. At the end of the VM, what is left is written within this time. */
#define SERIAL_TX_RING   (64 * 1024)
#define SERIAL_DRAIN_MS  1000

struct serial {
	const struct device_host *host;
	enum serial_backend be;
	const char *path;     /* during create only */
	uint32_t gsi;
	pthread_mutex_t lock;
	struct serial_state st;
	bool rx_paused;       /* under lock: input not watched because the FIFO is full */
	bool escape;          /* loop thread: Ctrl-A seen on the terminal */
	/* Backend (set up at create, owned; fds used by the loop thread and, for output, by
	 * vCPU threads under the lock). */
	int in_fd, out_fd;    /* -1 when absent */
	int listen_fd;        /* unix: the listening socket */
	/* Transmit ring (under lock): bytes from tx_head, tx_count of them. tx_posted: a
	 * drain is scheduled or waiting for the writer (vCPUs post one when it is not). */
	uint8_t *tx;
	unsigned tx_head, tx_count;
	bool tx_posted;
	unsigned long tx_dropped;  /* written while THRE read 0 (the guest ignored it) */
	/* The writer (loop thread): a non-blocking fd of its own for out_fd (-1: none), and
	 * whether it is watched for EPOLLOUT. */
	int wfd;
	bool w_watched;
	pthread_mutex_t wlock; /* one writer at a time: the loop, or serial_sync */
	bool in_watched;      /* loop thread: in_fd is registered with the loop */
	bool tty_raw;
	struct termios saved_tio;
	char *sock_path;
};

/* ---- interrupt and register logic (under the lock) ---- */
static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->st.fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((s->st.ier & IER_RDI) && s->st.rx_count)
		return fifo | IIR_RDI;
	if ((s->st.ier & IER_THRI) && s->st.thri)
		return fifo | IIR_THRI;
	return fifo | IIR_NONE;
}

static void serial_update_irq(struct serial *s)
{
	bool level = !(serial_iir(s) & IIR_NONE);

	if (level != s->st.irq_level) {
		s->st.irq_level = level;
		s->host->irq_line(s->host->opaque, s->gsi, level);
	}
}

static void rx_push(struct serial *s, uint8_t c)
{
	if (s->st.rx_count == SERIAL_RX_FIFO)
		return; /* overrun: dropped */
	s->st.rx[(s->st.rx_head + s->st.rx_count) % SERIAL_RX_FIFO] = c;
	s->st.rx_count++;
}

static void rx_resume_msg(void *opaque);

static uint8_t rx_pop(struct serial *s)
{
	uint8_t c;

	if (!s->st.rx_count)
		return 0;
	c = s->st.rx[s->st.rx_head];
	s->st.rx_head = (s->st.rx_head + 1) % SERIAL_RX_FIFO;
	s->st.rx_count--;
	if (s->rx_paused && s->st.rx_count == 0) {
		s->rx_paused = false;
		evloop_post(s->host->loop, rx_resume_msg, s);
	}
	return c;
}

static void tx_drain_msg(void *opaque);

/* Room for one more FIFO load: what THRE (and TEMT) report. */
static bool tx_room(const struct serial *s)
{
	return s->wfd < 0 || SERIAL_TX_RING - s->tx_count >= UART_FIFO;
}

static void tx_byte(struct serial *s, uint8_t c)
{
	if (s->st.mcr & MCR_LOOP) {
		rx_push(s, c);
		return;
	}
	if (s->wfd < 0)
		return; /* no backend (none, or no client on the socket) */
	if (s->tx_count == SERIAL_TX_RING) {
		s->tx_dropped++;
		return;
	}
	s->tx[(s->tx_head + s->tx_count) % SERIAL_TX_RING] = c;
	s->tx_count++;
	if (!s->tx_posted)
		s->tx_posted = evloop_post(s->host->loop, tx_drain_msg, s) == 0;
}

static void serial_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial *s = opaque;
	bool dlab;
	uint8_t v = data[0];

	if (!is_write)
		memset(data, 0, len);
	pthread_mutex_lock(&s->lock);
	dlab = s->st.lcr & LCR_DLAB;
	switch (off) {
	case R_DATA:
		if (dlab) {
			if (is_write) s->st.dll = v; else data[0] = s->st.dll;
		} else if (is_write) {
			tx_byte(s, v);
			/* Transmission is instantaneous while the ring has room; otherwise
			 * THRI comes when the loop has written some out (tx_drain). */
			s->st.thri = tx_room(s);
		} else {
			data[0] = rx_pop(s);
		}
		break;
	case R_IER:
		if (dlab) {
			if (is_write) s->st.dlm = v; else data[0] = s->st.dlm;
		} else if (is_write) {
			/* Enabling THRI with an empty transmitter raises it at once. */
			if ((v & IER_THRI) && !(s->st.ier & IER_THRI) && tx_room(s))
				s->st.thri = true;
			s->st.ier = v & 0x0f;
		} else {
			data[0] = s->st.ier;
		}
		break;
	case R_IIR:
		if (is_write) {
			s->st.fcr = v & 0xc9;
			if (v & FCR_CLR_RX)
				s->st.rx_count = 0;
		} else {
			data[0] = serial_iir(s);
			if ((data[0] & 0x0f) == IIR_THRI)
				s->st.thri = false; /* reading IIR acknowledges THRI */
		}
		break;
	case R_LCR:
		if (is_write) s->st.lcr = v; else data[0] = s->st.lcr;
		break;
	case R_MCR:
		if (is_write) s->st.mcr = v & 0x1f; else data[0] = s->st.mcr;
		break;
	case R_LSR:
		if (!is_write)
			data[0] = (tx_room(s) ? LSR_THRE | LSR_TEMT : 0) | (s->st.rx_count ? LSR_DR : 0);
		break;
	case R_MSR:
		if (!is_write) {
			if (s->st.mcr & MCR_LOOP) /* DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
				data[0] = (uint8_t)(((s->st.mcr & 0x01) << 5) | ((s->st.mcr & 0x02) << 3) |
						    ((s->st.mcr & 0x04) << 4) | ((s->st.mcr & 0x08) << 4));
			else
				data[0] = 0xb0; /* DCD, DSR, CTS */
		}
		break;
	case R_SCR:
		if (is_write) s->st.scr = v; else data[0] = s->st.scr;
		break;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

/* ---- output (loop thread) ---- */
static void tx_writable(void *opaque, uint32_t events);

static void watch_output(struct serial *s, bool on)
{
	if (on == s->w_watched || s->wfd < 0)
		return;
	if (on)
		s->w_watched = evloop_add(s->host->loop, s->wfd, EPOLLOUT, tx_writable, s) == 0;
	else {
		evloop_del(s->host->loop, s->wfd);
		s->w_watched = false;
	}
}

/* Write what the ring holds until it is empty or the writer would block. Returns 0 when
 * empty, -EAGAIN when the writer is full, another -errno when output is lost (the bytes
 * are discarded). The ring's bytes are read outside the lock: vCPUs only append behind
 * them. */
static int tx_write_some(struct serial *s)
{
	int ret = 0;

	pthread_mutex_lock(&s->wlock);
	pthread_mutex_lock(&s->lock);
	while (s->tx_count && s->wfd >= 0) {
		unsigned head = s->tx_head, chunk = s->tx_count;
		bool had_room = tx_room(s);
		ssize_t n;

		if (chunk > SERIAL_TX_RING - head)
			chunk = SERIAL_TX_RING - head;
		pthread_mutex_unlock(&s->lock);
		n = write(s->wfd, s->tx + head, chunk);
		ret = n < 0 ? -errno : 0;
		pthread_mutex_lock(&s->lock);
		if (n < 0 && (errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			n = s->tx_count; /* the reader is gone: discard */
		s->tx_head = (s->tx_head + (unsigned)n) % SERIAL_TX_RING;
		s->tx_count -= (unsigned)n;
		if (!had_room && tx_room(s)) {
			s->st.thri = true; /* the FIFO has room again */
			serial_update_irq(s);
		}
	}
	if (ret != -EAGAIN)
		s->tx_posted = false;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->wlock);
	return ret;
}

/* The VM calls this (device_host.add_sync) before a message about why it ends. */
static void serial_sync(void *opaque)
{
	struct serial *s = opaque;
	int ret;

	ret = tx_write_some(s);
	/* Empty now: a drain posted earlier finds nothing to do. Still full: the loop (which
	 * has a drain posted or is watching the writer) goes on. */
	(void)ret;
}

static void tx_drain(struct serial *s)
{
	watch_output(s, tx_write_some(s) == -EAGAIN);
}

static void tx_drain_msg(void *opaque)
{
	tx_drain(opaque);
}

static void tx_writable(void *opaque, uint32_t events)
{
	(void)events;
	tx_drain(opaque);
}

/* Give the writer its own non-blocking open file description of fd (setting O_NONBLOCK on
 * a shared terminal or pipe would change it for other processes too): a socket is dup'ed
 * (its description is ours), a regular file never blocks, anything else is reopened
 * through /proc. Returns the new fd, or -1 (output then dropped). */
static int writer_open(int fd)
{
	char path[64];
	struct stat st;
	int w;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	if (S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode))
		return fcntl(fd, F_DUPFD_CLOEXEC, 3);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	w = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (w < 0)
		w = fcntl(fd, F_DUPFD_CLOEXEC, 3); /* blocking: the loop may wait on it */
	return w;
}

/* Loop thread, under wlock then lock (no write may be in flight on the old fd, and the
 * ring's indices are reset): replace the writer (a new socket client, or none). Pending
 * output goes with the old one. */
static void writer_set(struct serial *s, int fd)
{
	watch_output(s, false);
	if (s->wfd >= 0)
		close(s->wfd);
	s->wfd = writer_open(fd);
	s->tx_count = 0;
	s->tx_posted = false;
}

/* At the end: write what is left, waiting up to SERIAL_DRAIN_MS for a slow reader. */
static void tx_final_drain(struct serial *s)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	while (tx_write_some(s) == -EAGAIN) {
		struct pollfd p = { .fd = s->wfd, .events = POLLOUT };
		long left;

		clock_gettime(CLOCK_MONOTONIC, &b);
		left = SERIAL_DRAIN_MS - ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			vsrv_log("serial: %u bytes of console output not written (the reader is too slow)",
				 s->tx_count);
			break;
		}
	}
	if (s->tx_dropped)
		vsrv_log("serial: the guest wrote %lu bytes while the transmitter was full (dropped)",
			 s->tx_dropped);
}

/* ---- input (loop thread) ---- */
static void serial_input(void *opaque, uint32_t events);

static void watch_input(struct serial *s, bool on)
{
	if (on == s->in_watched || s->in_fd < 0)
		return;
	if (on)
		s->in_watched = evloop_add(s->host->loop, s->in_fd, EPOLLIN, serial_input, s) == 0;
	else {
		evloop_del(s->host->loop, s->in_fd);
		s->in_watched = false;
	}
}

static void rx_resume_msg(void *opaque)
{
	watch_input(opaque, true);
}

/* Loop thread, under wlock then lock. */
static void close_client(struct serial *s)
{
	watch_input(s, false);
	writer_set(s, -1);
	close(s->in_fd);
	s->in_fd = s->out_fd = -1;
}

static void serial_input(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint8_t buf[SERIAL_RX_FIFO];
	ssize_t n, i;
	size_t room;

	(void)events;
	pthread_mutex_lock(&s->lock);
	room = SERIAL_RX_FIFO - s->st.rx_count;
	if (!room)
		s->rx_paused = true; /* the vCPU that drains the FIFO posts rx_resume_msg */
	pthread_mutex_unlock(&s->lock);
	if (!room) {
		watch_input(s, false);
		return;
	}
	n = read(s->in_fd, buf, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* End of input: a Unix client left, or stdin closed. */
		if (s->listen_fd >= 0) {
			pthread_mutex_lock(&s->wlock);
			pthread_mutex_lock(&s->lock);
			close_client(s);
			pthread_mutex_unlock(&s->lock);
			pthread_mutex_unlock(&s->wlock);
		} else {
			watch_input(s, false);
		}
		return;
	}
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < n; i++) {
		if (s->tty_raw) {
			/* Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A. */
			if (s->escape) {
				s->escape = false;
				if (buf[i] == 'x') {
					pthread_mutex_unlock(&s->lock);
					vsrv_log("terminated from the console (Ctrl-A x)");
					s->host->request_stop(s->host->opaque, 1);
					return;
				}
			} else if (buf[i] == 0x01) {
				s->escape = true;
				continue;
			}
		}
		rx_push(s, buf[i]);
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	s->host->writes_soon(s->host->opaque); /* the echo should not wait for the slow flush */
}

static void serial_accept(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	int fd;

	(void)events;
	fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	pthread_mutex_lock(&s->wlock);
	pthread_mutex_lock(&s->lock);
	if (s->in_fd >= 0)
		close_client(s); /* the newest client wins */
	s->in_fd = s->out_fd = fd;
	writer_set(s, fd);
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->wlock);
	watch_input(s, true);
}

/* ---- backends ---- */
static int open_unix(struct serial *s, const char *path)
{
	int fd, ret;

	ret = unixsock_listen(path, 4, true, &fd); /* a stale socket from an earlier run goes */
	if (ret)
		return ret;
	s->listen_fd = fd;
	s->sock_path = strdup(path);
	ret = evloop_add(s->host->loop, fd, EPOLLIN, serial_accept, s);
	return ret;
}

static int open_backend(struct serial *s)
{
	struct termios raw;

	switch (s->be) {
	case SERIAL_NONE:
		return 0;
	case SERIAL_FILE:
		s->out_fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		return s->out_fd < 0 ? -errno : 0;
	case SERIAL_UNIX:
		return open_unix(s, s->path);
	case SERIAL_STDIO:
		s->out_fd = STDOUT_FILENO;
		s->in_fd = STDIN_FILENO;
		if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &s->saved_tio) == 0) {
			raw = s->saved_tio;
			cfmakeraw(&raw);
			if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0)
				s->tty_raw = true;
		}
		watch_input(s, true); /* not every stdin can be watched (a regular file) */
		return 0;
	}
	return -EINVAL;
}

int serial_create(const struct device_host *h, enum serial_backend be, const char *path,
		  uint16_t base, uint32_t gsi, struct serial **out)
{
	struct serial *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	s->host = h;
	s->be = be;
	s->path = path;
	s->gsi = gsi;
	s->in_fd = s->out_fd = s->listen_fd = s->wfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->wlock, NULL);
	s->tx = malloc(SERIAL_TX_RING);
	if (!s->tx) {
		free(s);
		return -ENOMEM;
	}
	s->st.lsr = LSR_THRE | LSR_TEMT;
	s->st.msr = 0xb0;
	s->st.dll = 0x0c; /* 9600 baud */
	ret = open_backend(s);
	if (ret < 0) {
		vsrv_log("serial: cannot open %s: %s", path ? path : "the console", strerror(-ret));
		goto err;
	}
	if (s->out_fd >= 0 && (s->wfd = writer_open(s->out_fd)) < 0) {
		ret = -errno;
		vsrv_log("serial: cannot set up console output: %s", strerror(errno));
		goto err;
	}
	ret = bus_register(h->pio, base, 8, serial_io, s, "serial");
	if (ret < 0) {
		vsrv_log("serial: cannot claim ports %#x-%#x: %s", base, base + 7, strerror(-ret));
		goto err;
	}
	/* the guest's last output goes out before the VM says why it ends */
	ret = h->add_sync(h->opaque, serial_sync, s);
	if (ret < 0) {
		vsrv_log("serial: %s", strerror(-ret));
		bus_unregister(h->pio, base);
		goto err;
	}
	s->path = NULL;
	*out = s;
	return 0;
err:
	serial_destroy(s);
	return ret;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	tx_final_drain(s);
	watch_output(s, false);
	if (s->wfd >= 0)
		close(s->wfd);
	watch_input(s, false);
	if (s->tty_raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &s->saved_tio);
	if (s->listen_fd >= 0) {
		evloop_del(s->host->loop, s->listen_fd);
		close(s->listen_fd);
		if (s->in_fd >= 0)
			close(s->in_fd);
		if (s->sock_path)
			unlink(s->sock_path);
	} else if (s->out_fd > STDERR_FILENO) {
		close(s->out_fd);
	}
	free(s->sock_path);
	free(s->tx);
	pthread_mutex_destroy(&s->wlock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void serial_save(struct serial *s, struct serial_state *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}

int serial_restore(struct serial *s, const struct serial_state *st)
{
	if (st->rx_head >= SERIAL_RX_FIFO || st->rx_count > SERIAL_RX_FIFO)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->st = *st;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
