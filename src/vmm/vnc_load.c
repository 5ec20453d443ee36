/* Loading LibVNCServer and libgcrypt (vnc_load.h): dlopen by soname, then every entry of
 * vnc_lib resolved with dlsym, by the names the headers declare. */
#include "vmm/vnc_load.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vnc_lib vnc_lib;

/* One entry: its name, where its pointer goes in vnc_lib. */
struct vnc_sym {
	const char *name;
	size_t off;
};

#define SYM(f) { #f, offsetof(struct vnc_lib, f) }

static const struct vnc_sym vncserver_syms[] = {
	SYM(rfbGetScreen),
	SYM(rfbScreenCleanup),
	SYM(rfbNewFramebuffer),
	SYM(rfbMarkRectAsModified),
	SYM(rfbSetTranslateFunction),
	SYM(rfbNewClient),
	SYM(rfbProcessClientMessage),
	SYM(rfbUpdateClient),
	SYM(rfbCloseClient),
	SYM(rfbClientConnectionGone),
	SYM(rfbReadExact),
	SYM(rfbWriteExact),
	SYM(rfbRegisterProtocolExtension),
	SYM(rfbCheckPasswordByList),
	SYM(rfbLog),
	SYM(rfbErr),
};

static const struct vnc_sym gcrypt_syms[] = {
	SYM(gcry_check_version),
	SYM(gcry_control),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Open soname and resolve syms into vnc_lib: the handle, or NULL with the reason in err. */
static void *load_one(const char *soname, const char *package, const struct vnc_sym *syms,
		      size_t nsyms, char *err, size_t n)
{
	void *dl = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (!dl)
		goto err;
	for (size_t i = 0; i < nsyms; i++) {
		void *p = dlsym(dl, syms[i].name);

		if (!p)
			goto err;
		/* POSIX: a function's address fits and round-trips through void * */
		memcpy((char *)&vnc_lib + syms[i].off, &p, sizeof(p));
	}
	return dl;
err:
	snprintf(err, n, "VNC needs %s (Debian's %s): %s", soname, package, dlerror());
	if (dl)
		dlclose(dl);
	return NULL;
}

int vnc_lib_load(char *err, size_t n)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static bool loaded;
	void *vs;
	int ret = 0;

	pthread_mutex_lock(&lock);
	if (loaded)
		goto out;
	vs = load_one("libvncserver.so.1", "libvncserver1", vncserver_syms, N(vncserver_syms),
		      err, n);
	if (!vs) {
		ret = -ENOTSUP;
		goto out;
	}
	if (!load_one("libgcrypt.so.20", "libgcrypt20", gcrypt_syms, N(gcrypt_syms), err, n)) {
		dlclose(vs);
		ret = -ENOTSUP;
		goto out;
	}
	loaded = true;
out:
	pthread_mutex_unlock(&lock);
	return ret;
}

/* LibVNCServer's log: quiet (its lines name no VM); VSRV_VNC_DEBUG=1 shows them. */
static void rfb_quiet(const char *fmt, ...)
{
	(void)fmt;
}

/* LibVNCServer hashes (WebSocket handshakes) and encrypts (VNC authentication) with
 * libgcrypt, which, used without initialization, logs a warning to syslog: a new socket, which
 * the sandbox answers with SIGSYS. Initialized here, before the sandbox goes on. */
static void gcrypt_setup(void)
{
	if (!vnc_lib.gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		vnc_lib.gcry_check_version(NULL);
		vnc_lib.gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	}
}

void vnc_lib_setup(void)
{
	const char *d = getenv("VSRV_VNC_DEBUG");

	gcrypt_setup();
	if (!d || strcmp(d, "1")) {
		*vnc_lib.rfbLog = rfb_quiet;
		*vnc_lib.rfbErr = rfb_quiet;
	}
}
