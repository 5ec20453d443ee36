/* Inside the VNC server: the state shared by vnc.c (screen, clients, updates) and
 * vnc_listen.c (the spec, the listening socket, the password). */
#ifndef VSRV_VMM_VNC_INT_H
#define VSRV_VMM_VNC_INT_H

#include <rfb/rfb.h>
#include <stdbool.h>

#include "vmm/vnc.h"

struct vnc {
	char *spec;                /* for messages (owned copy) */
	char *unix_path;           /* unix: the socket file to remove at close, else NULL */
	bool tcp;                  /* a TCP listener (a browser's page can reach it) */
	int lfd;                   /* listening socket */
	int timer;                 /* timerfd, armed while clients are connected */
	char *passwords[2];        /* VNC authentication: { password, NULL }, or { NULL } */

	/* While attached */
	struct evloop *loop;
	const struct display *disp;
	struct input_router *in;
	rfbScreenInfoPtr screen;
	rfbClientPtr clients[VNC_MAX_CLIENTS];
	int client_fd[VNC_MAX_CLIENTS];
	bool ext_ack[VNC_MAX_CLIENTS]; /* the extended key event's acknowledgement is due */
	int64_t since_ms[VNC_MAX_CLIENTS]; /* when each connected (CLOCK_MONOTONIC) */
	int handshake_ms;          /* VNC_HANDSHAKE_MS; tests may shorten it */
	int stall_ms;              /* VNC_STALL_MS for clients accepted from now; tests too */
	int message_ms;            /* VNC_CLIENT_WAIT_MS: the most LibVNCServer may read for; tests too */
	int partial_ms;            /* VNC_PARTIAL_MS for clients accepted from now; tests too */
	uint64_t client_id[VNC_MAX_CLIENTS]; /* the relay's names of the clients */
	uint64_t next_id;
	struct vnc_relay *relay;   /* the clients' sockets (vnc_relay.c) */
	unsigned nr_clients;
	bool timer_on;
	bool listen_paused;        /* accept failed (out of fds): not watched until the next tick */
	uint32_t buttons;          /* pointer buttons last sent */

	/* The framebuffer as served */
	bool have_fb;
	bool blank;
	struct display_mode mode;
	const uint8_t *pixels;     /* the display's, when not blank */
	uint32_t width, height;
	uint8_t *shadow;           /* BGRX copy (converted formats, blank), or NULL */
	uint8_t *prev;             /* the display's last bytes, when it cannot report dirty pages */
	uint64_t *dirty;           /* get_dirty's bitmap */
	size_t npages;
	struct vnc_stats stats;
};

/* vnc_listen.c: open the listening socket of spec into v (v->lfd, v->unix_path, password).
 * 0 or -errno after logging. */
int vnc_listen_open(struct vnc *v, const char *spec);

/* vnc_relay.c: a thread between the clients' sockets and LibVNCServer's ends of a socket
 * pair each, so that LibVNCServer's writes never wait for a client. Start and stop on the
 * loop's thread (stop closes every connection the thread still has). */
struct vnc_relay;
int vnc_relay_start(struct vnc_relay **out);
void vnc_relay_stop(struct vnc_relay *r);

/* A connection's limits. The client is disconnected when more than max_backlog bytes wait
 * for it, or when it took none of what waits for stall_ms; when a message of its own stays
 * partial partial_ms without a byte, or longer than partial_ms and its length at 32 KiB/s in
 * all; and when it sends a message LibVNCServer does not take (vnc_frame.h; logged).
 * password: the server asks for VNC authentication (the handshake's messages depend on it). */
struct vnc_relay_limits {
	size_t max_backlog;
	size_t max_total;          /* for all the relay's connections (the last one added sets
				    * it; vnc_relay_set_bound): the one with the most waiting is
				    * disconnected while more wait (logged) */
	int stall_ms;
	int partial_ms;
	bool password;
};

/* Hand cfd (the client's socket) and bfd (the pair's other end from LibVNCServer's) to the
 * relay, which owns both from then on (on failure the caller keeps them); id (not 0) names
 * the connection for vnc_relay_busy and in log lines. LibVNCServer gets the client's
 * messages whole (vnc_frame.h): it never waits on a slow client's message. 0 or -EIO. */
int vnc_relay_add(struct vnc_relay *r, int cfd, int bfd, uint64_t id,
		  const struct vnc_relay_limits *lim);

/* New backlog bounds for every connection and for all (the screen's size changed). */
void vnc_relay_set_bound(struct vnc_relay *r, size_t max_backlog, size_t max_total);

/* What the relay holds for the clients (vnc.h), read on any thread. A client's output buffer
 * is freed once it took all, its input buffer once LibVNCServer took all: idle clients cost
 * none. */
void vnc_relay_get_stats(struct vnc_relay *r, struct vnc_out_stats *out);

/* LibVNCServer is about to read from connection id (a message, or a new client's first
 * bytes): if it still is after max_ms, the relay disconnects that client, which ends the
 * read. vnc_relay_idle: it is done. */
void vnc_relay_busy(struct vnc_relay *r, uint64_t id, int max_ms);
void vnc_relay_idle(struct vnc_relay *r);

#endif
