/* WebSockets (RFC 6455) on libmicrohttpd's connection upgrade, framed by wslay: the
 * handshake, and a bridge between an upgraded client and a stream socket (a VM's VNC or
 * serial console socket). Each bridge runs on its own small thread, never on one of the
 * HTTP pool's; what it holds in memory is bounded (WS_BUF_MAX each way plus one message
 * of at most WS_MSG_MAX): a side that does not read stalls the other. */
#ifndef VSRV_SERVER_WS_H
#define VSRV_SERVER_WS_H

#include <microhttpd.h>
#include <stddef.h>

/* A message from the client is at most this long (wslay answers a longer one with close
 * 1009); bytes waiting for either side, at most about this much before reading stops. */
#define WS_MSG_MAX (1 << 20)
#define WS_BUF_MAX (256 * 1024)
/* Bridges at once; an upgrade beyond: 503. */
#define WS_BRIDGES_MAX 256

/* Check the WebSocket handshake of the request on conn (RFC 6455 4.2.1; libmicrohttpd upgrades HTTP/1.1 only):
 * Upgrade: websocket, Connection: Upgrade, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key of 16
 * bytes in base64. 0, or -EINVAL with *why (a static message) set. */
int ws_handshake_check(struct MHD_Connection *conn, const char **why);

/* The Sec-WebSocket-Accept value for key: base64(SHA-1(key GUID)), 28 characters and a NUL. */
void ws_accept_key(const char *key, char out[29]);

/* Queue the 101 answer on conn (its handshake checked) and, once it is sent, bridge the
 * client to fd: every text or binary message from the client goes to fd as its bytes, what
 * fd gives goes to the client as binary messages; pings are answered; a close from the
 * client closes fd, the end of fd closes the WebSocket (after what fd gave is sent).
 * fd is taken in every case (closed when the bridge ends or on error). Returns what
 * MHD_queue_response returned; with WS_BRIDGES_MAX bridges already running it queues a
 * 503 instead. */
enum MHD_Result ws_bridge(struct MHD_Connection *conn, int fd);

/* The bridge of ws_bridge on plain sockets, in the caller's thread until it ends: cfd the
 * client's (its WebSocket frames; extra: bytes already read from it, framed first), pfd the
 * peer's. Both are taken (closed). For the fuzz target (fuzz/ws_frames.c). 0 or -ENOMEM. */
int ws_bridge_fds(int cfd, int pfd, const void *extra, size_t extra_len);

/* Let bridges run (http_start; after ws_stop). 0 or -errno. */
int ws_start(void);

/* End every bridge (a close 1001 to each client) and wait, at most a few seconds, until
 * they are gone: called before the daemons stop. New upgrades are refused until ws_start. */
void ws_stop(void);

/* Bridges running now (tests, metrics). */
unsigned ws_bridges(void);

#endif
