/* LibVNCServer and libgcrypt (which vnc.c initializes for it), loaded with dlopen by their
 * sonames when a VM serves VNC (vnc_open): a process without --vnc (`vsrv run`, `vsrv img`,
 * the CLI) never loads them, nor the TLS stack behind LibVNCServer (GnuTLS, nettle, p11-kit,
 * libjpeg, ...), which cost most of every process's start. The entry points vnc.c calls
 * are resolved here, in one table; the headers (the -dev packages) give it its types. */
#ifndef VSRV_VMM_VNC_LOAD_H
#define VSRV_VMM_VNC_LOAD_H

#include <gcrypt.h>
#include <rfb/rfb.h>
#include <stddef.h>

/* A table entry: a pointer to the library's function or variable f, typed as the header
 * declares it. */
#define VNC_LIB_FN(f) __typeof__(f) *f

struct vnc_lib {
	VNC_LIB_FN(rfbGetScreen);
	VNC_LIB_FN(rfbScreenCleanup);
	VNC_LIB_FN(rfbNewFramebuffer);
	VNC_LIB_FN(rfbMarkRectAsModified);
	VNC_LIB_FN(rfbSetTranslateFunction);
	VNC_LIB_FN(rfbNewClient);
	VNC_LIB_FN(rfbProcessClientMessage);
	VNC_LIB_FN(rfbUpdateClient);
	VNC_LIB_FN(rfbCloseClient);
	VNC_LIB_FN(rfbClientConnectionGone);
	VNC_LIB_FN(rfbReadExact);
	VNC_LIB_FN(rfbWriteExact);
	VNC_LIB_FN(rfbRegisterProtocolExtension);
	VNC_LIB_FN(rfbCheckPasswordByList);
	VNC_LIB_FN(rfbLog); /* the library's variables: where its log functions are */
	VNC_LIB_FN(rfbErr);
	VNC_LIB_FN(gcry_check_version);
	VNC_LIB_FN(gcry_control);
};

/* Valid (every entry set) once vnc_lib_load returned 0, and from then on for the rest of the
 * process (the libraries are never unloaded). */
extern struct vnc_lib vnc_lib;

/* Load libvncserver.so.1 and libgcrypt.so.20 and resolve every entry of vnc_lib; once
 * loaded, later calls return 0 at once. 0, or -ENOTSUP with the reason in err: "VNC needs
 * libvncserver.so.1 (Debian's libvncserver1): <dlerror>" (nothing is kept: a later call tries
 * again). Any thread; before the sandbox, which forbids what loading needs (vnc_open). */
int vnc_lib_load(char *err, size_t n);

/* Once vnc_lib_load returned 0, before the sandbox: libgcrypt initialized (LibVNCServer
 * uses it uninitialized otherwise, and it then logs to syslog through a new socket, which
 * the sandbox forbids) and LibVNCServer's log quiet unless VSRV_VNC_DEBUG=1. Idempotent. */
void vnc_lib_setup(void);

#endif
