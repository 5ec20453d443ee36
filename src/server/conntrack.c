/* Deadlines for requests on the TCP listener (conntrack.h). */
#include "server/conntrack.h"
#include "util/clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>

struct track {
	struct conntrack *ct;
	int fd;
	bool busy;               /* a whole request is being served */
	double deadline;         /* monotonic; when not busy */
	struct track *prev, *next;
};

struct conntrack {
	pthread_mutex_t lock;
	double timeout;
	struct track *head;
};

int conntrack_create(unsigned timeout, struct conntrack **out)
{
	struct conntrack *ct = calloc(1, sizeof(*ct));

	if (!ct)
		return -ENOMEM;
	pthread_mutex_init(&ct->lock, NULL);
	ct->timeout = timeout;
	*out = ct;
	return 0;
}

void conntrack_destroy(struct conntrack *ct)
{
	struct track *t, *n;

	if (!ct)
		return;
	for (t = ct->head; t; t = n) {
		n = t->next;
		free(t);
	}
	pthread_mutex_destroy(&ct->lock);
	free(ct);
}

void conntrack_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		      enum MHD_ConnectionNotificationCode code)
{
	struct conntrack *ct = cls;
	struct track *t = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		t = calloc(1, sizeof(*t));
		if (!t || !ci) {
			free(t);   /* untracked: MHD's idle timeout still applies */
			return;
		}
		t->ct = ct;
		t->fd = ci->connect_fd;
		pthread_mutex_lock(&ct->lock);
		t->deadline = clock_mono() + ct->timeout;
		t->next = ct->head;
		if (ct->head)
			ct->head->prev = t;
		ct->head = t;
		pthread_mutex_unlock(&ct->lock);
		*socket_context = t;
		return;
	}
	/* Closed: libmicrohttpd closes the socket after this call, so a sweep holding the
	 * lock never shuts down a descriptor that was reused. */
	if (!t)
		return;
	pthread_mutex_lock(&ct->lock);
	if (t->prev)
		t->prev->next = t->next;
	else
		ct->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&ct->lock);
	free(t);
	*socket_context = NULL;
}

static struct track *tracked(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

void conntrack_request_received(struct MHD_Connection *conn)
{
	struct track *t = tracked(conn);

	if (!t)
		return;
	pthread_mutex_lock(&t->ct->lock);
	t->busy = true;
	pthread_mutex_unlock(&t->ct->lock);
}

void conntrack_request_done(struct MHD_Connection *conn)
{
	struct track *t = tracked(conn);

	if (!t)
		return;
	pthread_mutex_lock(&t->ct->lock);
	t->busy = false;
	t->deadline = clock_mono() + t->ct->timeout;
	pthread_mutex_unlock(&t->ct->lock);
}

void conntrack_sweep(struct conntrack *ct)
{
	double now = clock_mono();
	struct track *t;

	if (!ct)
		return;
	pthread_mutex_lock(&ct->lock);
	for (t = ct->head; t; t = t->next)
		if (!t->busy && now > t->deadline) {
			shutdown(t->fd, SHUT_RDWR);
			t->deadline = now + ct->timeout;   /* once; MHD closes it */
		}
	pthread_mutex_unlock(&ct->lock);
}
