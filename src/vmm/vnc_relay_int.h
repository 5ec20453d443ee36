/* Inside the VNC relay (vnc_relay.c: the thread, the output side, the sweep; vnc_relay_in.c:
 * the client's input, framed into whole messages): a connection's state, all of it the relay
 * thread's. */
#ifndef VSRV_VMM_VNC_RELAY_INT_H
#define VSRV_VMM_VNC_RELAY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/vnc_frame.h"
#include "vmm/vnc_int.h"

#define RELAY_KEEP    (1024 * 1024) /* an input buffer kept while in use; larger ones freed */
#define RELAY_CHUNK   (256 * 1024) /* the most read from LibVNCServer at once */
#define RELAY_OUT_MIN 65536        /* a backlog's first buffer */
#define RELAY_IN_CHUNK 65536       /* the room for a read from the client */
#define RELAY_IN_HOLD 65536        /* the client is not read while LibVNCServer has this much */

struct relay_conn;
struct relay_end {
	struct relay_conn *c;
	bool client;
};

struct relay_conn {
	struct relay_end ce, be;
	int cfd, bfd;              /* -1 once closed */
	uint32_t cev, bev;         /* the events watched */
	uint8_t *out;              /* from LibVNCServer, not yet taken by the client (NULL when
				    * it took all) */
	size_t out_off, out_len, out_cap;
	/* from the client: [in_off, in_pass) whole messages LibVNCServer has not taken,
	 * [in_pass, in_len) the start of the next one */
	uint8_t *in;
	size_t in_off, in_pass, in_len, in_cap;
	struct vnc_frame fr;       /* where the client's messages end (vnc_frame.h) */
	uint64_t msg_len;          /* the partial message's length (0: not known yet) */
	uint64_t skip;             /* bytes of a clipboard too long still to throw away */
	int64_t msg_start_ms;      /* the partial (or skipped) message's first byte came (0: none) */
	int64_t msg_last_ms;       /* ... and its last one */
	int64_t held_ms;           /* not read since (LibVNCServer behind; 0: read): the two
				    * above and progress_ms move on by the time held when it
				    * ends */
	bool b_shut;               /* the client's end passed on to LibVNCServer */
	struct vnc_relay_limits lim;
	int64_t progress_ms;       /* the client last took bytes (or its backlog started) */
	bool c_eof;                /* the client will send nothing more */
	bool c_full;               /* its socket took no more: no send before EPOLLOUT */
	bool c_ready;              /* its socket may have bytes: no read after EAGAIN before
				    * EPOLLIN */
	bool b_ready;              /* the same for LibVNCServer's end (after a short read) */
	bool c_hup;                /* the client hung up: its socket out of epoll, its output
				    * dropped, what it sent before still read */
	struct vnc_ws *ws;         /* a WebSocket's frames, once its request passed (vnc_ws.h) */
	bool ws_closed;            /* it sent a close frame */
	uint64_t id;
	bool dead;                 /* to free after this round of events */
	struct relay_conn *next;
};

struct vnc_relay {
	int epfd;
	int cmd[2];                /* pipe: [1] the loop's, [0] this thread's */
	pthread_t th;
	struct relay_conn *conns;
	uint64_t busy_id;          /* LibVNCServer reads this connection's message (0: none) */
	int64_t busy_until_ms;     /* ... and the connection is closed if it still does then */
	size_t total_max;          /* the most that may wait for all clients (SIZE_MAX: any) */
	size_t peak;               /* the most that waited for them after that bound */
	uint64_t drops;            /* clients dropped for it */
	struct vnc_out_stats st; /* published (atomics) for vnc_relay_get_stats */
	/* the working buffers, all clients': the relay's while it has one (allocated with the
	 * first, freed with the last: a VM with no viewer pays nothing for them) */
	uint8_t *out_chunk;        /* RELAY_CHUNK: LibVNCServer's output, read */
	uint8_t *scratch;          /* RELAY_IN_CHUNK, vnc_relay_in.c: a WebSocket's frames, read */
	size_t *lens;              /* vnc_relay_in.c: a WebSocket's whole messages being framed */
	size_t nlens, lens_cap;
};

/* CLOCK_MONOTONIC in ms. */
int64_t relay_now_ms(void);

/* Bytes of whole messages waiting for LibVNCServer. */
static inline size_t relay_pending(const struct relay_conn *c)
{
	return c->in_pass - c->in_off;
}

/* LibVNCServer closed its end (or cannot take more): nothing more either way from it. */
void relay_close_b(struct vnc_relay *r, struct relay_conn *c);

/* vnc_relay_in.c: the client's whole messages to LibVNCServer, and its bytes read while
 * LibVNCServer is not behind (RELAY_IN_HOLD). false: the client is gone, or sent a message
 * LibVNCServer does not take. */
bool relay_give_input(struct vnc_relay *r, struct relay_conn *c);

#endif
