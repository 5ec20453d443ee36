/* Validation of request bodies: strict objects (unknown fields, wrong types, ranges),
 * names, free text and file names. Every check writes a message naming the field. */
#ifndef VSRV_SERVER_VALID_H
#define VSRV_SERVER_VALID_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum valid_type { V_STR, V_INT, V_BOOL, V_ARRAY, V_OBJECT };

/* String kinds: what a V_STR must look like. */
enum valid_kind { K_TEXT, K_NAME, K_PATH, K_ENUM, K_SECRET };

struct valid_field {
	const char *name;
	enum valid_type type;
	int required;
	int64_t min, max;          /* V_INT: range; V_STR: max length (max); V_ARRAY: max items */
	enum valid_kind kind;      /* V_STR */
	const char *const *choices; /* K_ENUM: NULL-terminated */
};

/* Check obj against fields (terminated by a NULL name): obj must be an object, with no
 * field outside the list, every required field present, every value of its type, kind
 * and range. Returns 0, or -EINVAL with a message in err. */
int valid_object(const json_t *obj, const struct valid_field *fields, char *err, size_t errlen);

/* A name: 1 to 63 characters of [A-Za-z0-9._-], starting with a letter or digit. */
int valid_name(const char *s, char *err, size_t errlen);

/* Free text: no control characters, at most max bytes. */
int valid_text(const char *s, size_t max, char *err, size_t errlen);

/* A file path: no control characters, no ".." component, at most 4095 bytes. */
int valid_path(const char *s, char *err, size_t errlen);

#endif
