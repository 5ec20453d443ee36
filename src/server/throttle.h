/* Login throttling: failed logins counted per user name and per client address, in
 * memory, with exponential backoff once a few failures are spent. A throttled login is
 * refused before any password hashing, so guessing costs the server nothing. */
#ifndef VSRV_SERVER_THROTTLE_H
#define VSRV_SERVER_THROTTLE_H

#include <stdbool.h>

struct throttle;

/* Failures allowed before backoff: per user name, per client address (an IPv4 address
 * or an IPv6 /64, so that many users behind one address are not locked out at once). */
#define THROTTLE_USER_FREE 5
#define THROTTLE_ADDR_FREE 20
#define THROTTLE_MAX_DELAY 300     /* seconds: the backoff doubles up to this */
#define THROTTLE_FORGET 900        /* seconds without a failure: the count starts over */

/* Returns 0 and *out (free with throttle_destroy) or -ENOMEM. */
int throttle_create(struct throttle **out);
void throttle_destroy(struct throttle *t);

/* Before checking the password of user from addr (NULL: a local client, counted by user
 * only). Returns 0 when the attempt may go on (it is then counted as in flight until
 * throttle_done), else the seconds to wait (Retry-After). Any thread. */
unsigned throttle_check(struct throttle *t, const char *user, const char *addr);

/* After an attempt that throttle_check let through: result 0 (logged in: the user's
 * failures are forgotten; the address's are not, or one's own account would reset it),
 * -EACCES (a wrong password: counted) or another -errno (not the caller's fault: not
 * counted). */
void throttle_done(struct throttle *t, const char *user, const char *addr, int result);

#endif
