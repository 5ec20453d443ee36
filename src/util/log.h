/* Logging: one line to stderr, prefixed "vsrv: ". Log once, where the decision is made,
 * naming the object (VM name, image path). */
#ifndef VSRV_UTIL_LOG_H
#define VSRV_UTIL_LOG_H

void vsrv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Set the prefix printed before every line (default "vsrv"). The string is not copied:
 * it must outlive all logging. */
void vsrv_log_set_prefix(const char *prefix);

#endif
