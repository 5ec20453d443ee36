/* The VM's VNC server (`vsrv run --vnc SPEC`), on LibVNCServer without its threads: the
 * listening socket, each client's socket and an update timer are watched by the VM's
 * control loop (vmm/evloop.h), which calls into LibVNCServer when one is ready.
 *
 * SPEC: unix:PATH (a socket created mode 0600) or tcp:HOST:PORT, then optionally
 * ,password-file=FILE (VNC authentication with the file's first line; only its first 8
 * characters count, as in every VNC server). A TCP address that is not loopback is refused
 * without a password file. WebSocket clients (LibVNCServer tells them apart by their first
 * bytes) are served on Unix sockets, and on TCP only with a password (a web page in the
 * host's browser can reach a loopback port).
 *
 * The screen is the VM's display (vmm/display.h): pixels in XRGB8888 with a stride of exactly
 * width * 4 are served straight from guest memory; other formats are converted into a
 * shadow buffer. While at least one client is connected a timer asks the display about 30
 * times a second for the pages that changed (get_dirty) and marks only their lines as
 * modified; a new mode is a DesktopSize (or a new ServerInit); without a mode the screen is
 * 640 x 480 black. With no client there is no timer.
 *
 * Input: RFB key events (keysyms, a US layout) and the QEMU extended key event (XT
 * scancodes, no layout guessing) become Linux key codes, pointer events absolute positions
 * scaled to 0..INPUT_ABS_MAX (buttons 4 and 5: the wheel), all through the VM's input
 * router (vmm/input_router.h).
 *
 * LibVNCServer reads a client's message in one piece once its first byte is there, waiting
 * for the rest on the control loop: the relay below hands it only whole messages (it knows
 * their lengths: vnc_frame.h), so a message on a slow link (a clipboard paste of 1 MiB at a
 * few hundred KB/s) costs the loop nothing while it comes. A client whose message stays
 * partial VNC_PARTIAL_MS without a byte, or longer than VNC_PARTIAL_MS and its length at
 * 32 KiB/s in all, is dropped, as is one that sends a message LibVNCServer does not take
 * (with a log line); a clipboard over LibVNCServer's 1 MiB is thrown away, the client stays.
 * Those clocks, and VNC_STALL_MS's below, stop while the relay does not read the client
 * because LibVNCServer has not taken its earlier messages (the loop stalled): only a client
 * that was read can be slow (one that blocks in its sends reads nothing meanwhile).
 * A WebSocket client is framed the same way: its request passes whole, the relay decodes
 * its frames (vnc_ws.h) and hands LibVNCServer each whole message in a frame of its own, so
 * that a message cut across frames, or half of one, never holds the loop either (the loop
 * still ends a read that lasts VNC_CLIENT_WAIT_MS, as a last guard). A
 * client that has not finished the handshake (and authentication) after VNC_HANDSHAKE_MS is
 * dropped, so idle connections cannot hold every place; a new connection holds the loop up
 * to 100 ms (LibVNCServer waits that long to tell a WebSocket from a plain client).
 *
 * Writes never wait for a client: LibVNCServer speaks on one end of a Unix socket pair per
 * client and a relay thread (vnc_relay.c) copies between the other end and the client's
 * socket, keeping what the client has not taken yet (LibVNCServer 0.9.14 itself waits in
 * steps of 5 s on a full socket, whatever maxClientWait says). A client is disconnected when
 * more than VNC_BACKLOG_MIN + two raw screens wait for it, or when it took nothing of what
 * waits for VNC_STALL_MS; and while more than VNC_BACKLOG_VM + four raw screens wait for all
 * of the VM's clients, the one with the most waiting (the one that drains least) is (logged,
 * counted in vnc_stats). A client that takes what comes at once holds no buffer for it.
 *
 * The process must ignore SIGPIPE (`vsrv run` does): LibVNCServer writes to clients with
 * write(), and one that went away must cost its connection, not the process.
 *
 * Threads: vnc_open/vnc_close on the main thread; vnc_attach/vnc_detach on the loop's thread
 * (or before it runs, after it stopped); everything else runs on the loop's thread, but for
 * the relay's thread, which vnc_attach starts and vnc_detach joins. */
#ifndef VSRV_VMM_VNC_H
#define VSRV_VMM_VNC_H

#include <stdint.h>

#include "vmm/display.h"
#include "vmm/evloop.h"
#include "vmm/input_router.h"

#define VNC_MAX_CLIENTS    16
#define VNC_CLIENT_WAIT_MS 1000  /* the most LibVNCServer may wait in one read */
#define VNC_PARTIAL_MS     5000  /* a message with no byte that long: the client is dropped */
#define VNC_HANDSHAKE_MS   30000 /* a client not past authentication by then is dropped */
#define VNC_STALL_MS       15000 /* a client that takes none of its backlog that long is dropped */
#define VNC_BACKLOG_MIN    (8u << 20) /* + two raw screens: the most that may wait for a client */
#define VNC_BACKLOG_VM     (32u << 20) /* + four raw screens: ... for all of a VM's clients */
#define VNC_BLANK_WIDTH    640
#define VNC_BLANK_HEIGHT   480

struct vnc;

/* Load LibVNCServer (vnc_load.h: -ENOTSUP without it), parse and check spec, read the
 * password file, open the listening socket (a stale Unix socket file is replaced) and the
 * update timer. Before the VM is built: nothing here needs a system call the sandbox forbids
 * later. 0 and *out (free with vnc_close), or -errno after
 * logging one line naming the spec and why. */
int vnc_open(const char *spec, struct vnc **out);

/* Serve the VM: disp (NULL: a blank screen) and in (NULL: input is dropped) must stay valid
 * until vnc_detach; name is the desktop's name (or NULL: "vsrv"). Builds LibVNCServer's
 * screen and watches the listening socket on loop. 0 or -errno (logged). */
int vnc_attach(struct vnc *v, struct evloop *loop, const struct display *disp,
	       struct input_router *in, const char *name);

/* Disconnect every client, stop watching, and free the screen (the listening socket stays
 * open, for the next VM after a guest reset). NULL or an unattached server is allowed. */
void vnc_detach(struct vnc *v);

/* Detach, close the sockets and remove the Unix socket file. NULL is allowed. */
void vnc_close(struct vnc *v);

/* What waits for the clients (the relay's buffers: vnc_relay.c). */
struct vnc_out_stats {
	uint64_t waiting;       /* bytes waiting for them now */
	uint64_t buffers;       /* the memory that holds them and the clients' input */
	uint64_t peak;          /* the most that waited at once */
	uint64_t dropped;       /* clients dropped for VNC_BACKLOG_VM's bound */
};

/* Counters, for tests and benchmarks. Loop thread. */
struct vnc_stats {
	uint64_t accepted;      /* connections handed to LibVNCServer */
	uint64_t refused;       /* connections closed at once (too many, fd too high) */
	uint64_t ticks;         /* update timer expirations handled */
	uint64_t marked;        /* line ranges marked modified from dirty pages */
	uint64_t resizes;       /* framebuffer size changes */
	uint64_t clipboards;    /* clipboards (ClientCutText) LibVNCServer passed on */
	uint64_t clipboard_bytes; /* ... their bytes */
	unsigned clients;       /* connected now */
	int zero_copy;          /* 1: the framebuffer is the display's memory */
	struct vnc_out_stats out;
};
void vnc_get_stats(const struct vnc *v, struct vnc_stats *out);

/* Key codes (vnc_keys.c): a keysym (US layout) or an XT scancode (0xE0-prefixed ones with
 * bit 7 set, as the QEMU extended key event sends them) to a Linux KEY_ code, 0 for none. */
uint16_t vnc_keysym_to_key(uint32_t keysym);
uint16_t vnc_xt_to_key(uint32_t xt);

#endif
