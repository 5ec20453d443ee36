/* Descriptors passed over the control socket (SCM_RIGHTS) with a command: received, queued
 * for the line they came with, closed when nobody takes them. See control_int.h. */
#include "vmm/control_int.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

ssize_t control_fds_recv(int sock, void *buf, size_t len, size_t at, struct ctl_fds *q)
{
	union {
		char buf[CMSG_SPACE(CTL_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
			     .msg_controllen = sizeof(cb.buf) };
	bool first = !q->n && !q->lost;
	ssize_t r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (r < 0)
		return r;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue; /* nothing else is asked for (no SO_PASSCRED) */
		for (k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(fd));
			if (q->n < CTL_FDS_MAX) {
				q->fd[q->n++] = fd;
			} else {
				close(fd);
				q->lost = true;
			}
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		q->lost = true; /* the kernel closed those that did not fit */
	if (first && (q->n || q->lost))
		q->at = at;
	return r;
}

bool control_fds_for(const struct ctl_fds *q, size_t end)
{
	return (q->n || q->lost) && q->at <= end;
}

void control_fds_shift(struct ctl_fds *q, size_t used)
{
	q->at = q->at > used ? q->at - used : 0;
}

void control_fds_close(struct ctl_fds *q)
{
	for (unsigned i = 0; i < q->n; i++)
		close(q->fd[i]);
	q->n = 0;
	q->lost = false;
	q->at = 0;
}
