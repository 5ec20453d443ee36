/* fdpass_call (src/util/fdpass.c): its reply, and its *sent, which tells a request the
 * server never got (no listener, a path too long: false, whatever the error) from one sent
 * whose outcome the error leaves unknown (the server read it, then closed without a whole
 * line, or sent a line too long: true). A live snapshot undoes its switch only when sent
 * is false or the VMM's answer refused (server/snapshot.c): a true sent taken as false
 * would undo a switch the VMM made. The server is a thread on a Unix socket that reads the
 * request (with its descriptor) and answers as the case says. */
#include "check.h"
#include "util/fdpass.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[] = "/tmp/vsrv-fdpass-XXXXXX";
static char sock[100];

/* the server's answer: a line, nothing (closed), or a long line without a newline */
enum answer { LINE, CLOSE, LONG };

struct srv {
	int lfd;
	enum answer a;
	char got[256];      /* the request read */
	int nfds;           /* descriptors that came with it */
};

static void *serve(void *arg)
{
	struct srv *s = arg;
	int c = accept(s->lfd, NULL, NULL);
	char cb[CMSG_SPACE(4 * sizeof(int))];
	struct iovec iov = { s->got, sizeof(s->got) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
			     .msg_controllen = sizeof(cb) };
	ssize_t r;

	if (c < 0)
		return NULL;
	r = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
	s->got[r > 0 ? r : 0] = '\0';
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); r > 0 && cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_type == SCM_RIGHTS)
			for (size_t k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
				close(fd);
				s->nfds++;
			}
	if (s->a == LINE && write(c, "{\"ok\":true}\n", 12) != 12)
		s->nfds = -100;
	if (s->a == LONG) {
		char big[4096];

		memset(big, 'x', sizeof(big));
		for (int i = 0; i < 64; i++)    /* 256 KiB: past the caller's max */
			if (write(c, big, sizeof(big)) < 0)
				break;
	}
	close(c);
	return NULL;
}

/* One call to a server answering a (descriptor: stdin's copy); its rc, *sent, *out. */
static int call(enum answer a, struct srv *s, bool *sent, char **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pthread_t th;
	int fd = dup(0), rc;

	memset(s, 0, sizeof(*s));
	s->a = a;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	unlink(sock);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(s->lfd >= 0 && bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	      listen(s->lfd, 4) == 0);
	CHECK_EQ(pthread_create(&th, NULL, serve, s), 0);
	rc = fdpass_call(sock, "{\"cmd\":\"x\"}", &fd, 1, 5000, 65536, out, sent);
	pthread_join(th, NULL);
	close(s->lfd);
	close(fd);
	return rc;
}

static void test_answered(void)
{
	struct srv s;
	bool sent = false;
	char *out = NULL;

	CHECK_EQ(call(LINE, &s, &sent, &out), 0);
	CHECK(sent);
	CHECK(out && !strcmp(out, "{\"ok\":true}\n"));
	CHECK(!strcmp(s.got, "{\"cmd\":\"x\"}\n"));
	CHECK_EQ(s.nfds, 1);
	free(out);
}

/* read, then closed without a whole line: sent, the outcome unknown */
static void test_closed_after_read(void)
{
	struct srv s;
	bool sent = false;
	char *out = NULL;

	CHECK_EQ(call(CLOSE, &s, &sent, &out), -ECONNRESET);
	CHECK(sent);
	CHECK(out == NULL);
	CHECK(!strcmp(s.got, "{\"cmd\":\"x\"}\n"));
}

static void test_line_too_long(void)
{
	struct srv s;
	bool sent = false;
	char *out = NULL;

	CHECK_EQ(call(LONG, &s, &sent, &out), -EMSGSIZE);
	CHECK(sent);
	CHECK(out == NULL);
}

/* nobody listens, or no such socket: nothing sent */
static void test_not_sent(void)
{
	char path[200], *out = NULL;
	bool sent = true;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(path, sizeof(path), "%s/none.sock", dir);
	CHECK_EQ(fdpass_call(path, "{}", NULL, 0, 1000, 65536, &out, &sent), -ENOENT);
	CHECK(!sent);
	/* bound, not listening */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/deaf.sock", dir);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	sent = true;
	CHECK_EQ(fdpass_call(sa.sun_path, "{}", NULL, 0, 1000, 65536, &out, &sent),
		 -ECONNREFUSED);
	CHECK(!sent);
	close(fd);
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	sent = true;
	CHECK_EQ(fdpass_call(path, "{}", NULL, 0, 1000, 65536, &out, &sent), -ENAMETOOLONG);
	CHECK(!sent);
	CHECK(out == NULL);
	/* sent may be NULL */
	CHECK_EQ(fdpass_call(sa.sun_path, "{}", NULL, 0, 1000, 65536, &out, NULL),
		 -ECONNREFUSED);
}

int main(void)
{
	char cmd[128];

	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	RUN(test_answered);
	RUN(test_closed_after_read);
	RUN(test_line_too_long);
	RUN(test_not_sent);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return check_done();
}
