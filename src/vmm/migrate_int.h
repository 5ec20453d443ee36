/* Internal to the migration modules (migrate.c, migrate_incoming.c, migrate_net.c). */
#ifndef VSRV_VMM_MIGRATE_INT_H
#define VSRV_VMM_MIGRATE_INT_H

#include <stddef.h>

/* Connect to uri (unix:PATH or tcp:HOST:PORT), waiting at most timeout_s for it; the
 * socket's send and receive timeouts are set to timeout_s. 0 and *fd (the caller's), or
 * -errno with a one-line reason in err. */
int migrate_connect(const char *uri, unsigned timeout_s, int *fd, char *err, size_t errlen);

/* Set fd's send and receive timeouts (seconds, 0: none). */
void migrate_set_timeouts(int fd, unsigned timeout_s);

#endif
