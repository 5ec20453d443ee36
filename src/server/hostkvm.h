/* Whether this host can run a VM: KVM's device, which every VMM the server spawns opens (as
 * the server's user, before it switches to --run-as). Checked at each start, not once: a host
 * gains /dev/kvm when its kvm module is loaded, or loses it. */
#ifndef VSRV_SERVER_HOSTKVM_H
#define VSRV_SERVER_HOSTKVM_H

#include <stddef.h>

/* The device checked: /dev/kvm, or for tests the path in VSRV_TEST_KVM (read once, at the
 * first call: the server makes it before its threads start) (a test whose VMMs
 * need no KVM names a character device every host has, /dev/null; one of the refusal, on a
 * host with KVM, a path that is not there). */
const char *hostkvm_path(void);

/* 0 when the server can open the device read-write (and it is a character device); else
 * -errno (-ENOENT no device, -EACCES not the server's user's, -ENOTTY not a character
 * device, ...) with why (n bytes) saying so and what to do about it, for the API's answer
 * and the log. why may be NULL. */
int hostkvm_check(char *why, size_t n);

#endif
