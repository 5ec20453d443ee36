/* The last_exit record of a VM. See sup_exit.h. */
#include "server/sup_exit.h"
#include "server/vmdir.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The last line the VMM logged ("vsrv: ..."), without its prefix, into out. */
static bool vmm_line(const char *console, char *out, size_t n)
{
	const char *p = console, *found = NULL;

	while (p && *p) {
		if (!strncmp(p, "vsrv: ", 6))
			found = p + 6;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!found)
		return false;
	snprintf(out, n, "%.*s", (int)strcspn(found, "\r\n"), found);
	return out[0] != '\0';
}

static void reason_of(char *out, size_t n, const char *ex, int code, int sig, bool requested,
		      bool at_start, const char *console)
{
	char line[300];
	bool have = vmm_line(console, line, sizeof(line));

	if (!strcmp(ex, "monitor died"))
		snprintf(out, n, "its monitor process died: the VMM's exit status is unknown");

	else if (requested && (sig || code >= 128))
		snprintf(out, n, "turned off on request");
	else if (requested && code == 0)
		snprintf(out, n, "shut down on request");
	else if (at_start && have)
		snprintf(out, n, "failed to start: %s", line);
	else if (at_start)
		snprintf(out, n, "failed to start (%s)", ex);
	else if (code == 0)
		snprintf(out, n, "the guest powered off");
	else if (code == 1)
		snprintf(out, n, "the VMM failed%s%s", have ? ": " : " (exit status 1)", have ? line : "");
	else if (code == 2)
		snprintf(out, n, "the guest crashed%s%s", have ? ": " : "", have ? line : "");
	else if (code > 2 && code < 128 && (code & 1))
		snprintf(out, n, "the guest ended itself (debug-exit value %d, exit status %d)",
			 code >> 1, code);
	else if (sig || code >= 128)
		snprintf(out, n, "the VMM was killed by signal %d", sig ? sig : code - 128);
	else
		snprintf(out, n, "the VMM ended with exit status %d", code);
}

/* The record's JSON text with reason. */
static char *record(const char *ex, int code, int sig, bool at_start, const char *reason)
{
	json_t *o;
	char *text;

	o = json_pack("{s:s,s:o,s:o,s:s,s:b,s:I}", "exit", ex,
		      "status", code >= 0 && !sig ? json_integer(code) : json_null(),
		      "signal", sig ? json_integer(sig) : json_null(), "reason", reason,
		      "at_start", at_start, "time", (json_int_t)time(NULL));
	if (!o)
		return NULL;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

char *sup_exit_record(const char *ex, int code, int sig, bool requested, bool at_start,
		      const char *console)
{
	char reason[400];

	reason_of(reason, sizeof(reason), ex, code, sig, requested, at_start, console);
	return record(ex, code, sig, at_start, reason);
}

char *sup_exit_record_saved(const char *ex)
{
	return record(ex, 0, 0, false, "saved on request: its state is in a file, start resumes it");
}

json_t *sup_exit_json(const char *stored)
{
	char reason[400];
	int code = -1, sig = 0;
	json_t *o;

	if (!stored || !*stored)
		return json_null();
	if (stored[0] == '{') {
		o = json_loads(stored, 0, NULL);
		if (json_is_object(o))
			return o;
		json_decref(o);
	}
	if (sscanf(stored, "exited %d", &code) != 1 && sscanf(stored, "signal %d", &sig) == 1)
		code = -1;
	reason_of(reason, sizeof(reason), stored, code, sig, false, false, NULL);
	return json_pack("{s:s,s:o,s:o,s:s,s:b,s:n}", "exit", stored,
			 "status", code >= 0 ? json_integer(code) : json_null(),
			 "signal", sig ? json_integer(sig) : json_null(), "reason", reason,
			 "at_start", 0, "time");
}

char *sup_console_tail(const char *dir)
{
	char p[4200], buf[2049];
	int fd, lines = 0;
	off_t size;
	ssize_t r;
	char *s;

	snprintf(p, sizeof(p), "%s/console.log", dir);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return strdup("");
	size = lseek(fd, 0, SEEK_END);
	r = pread(fd, buf, sizeof(buf) - 1, size > 2048 ? size - 2048 : 0);
	close(fd);
	if (r < 0)
		r = 0;
	buf[r] = '\0';
	for (s = buf + r; s > buf; s--)
		if (s[-1] == '\n' && s != buf + r && ++lines >= 10)
			break;
	/* Keep the text printable for JSON and logs. */
	for (char *q = s; *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\n' && *q != '\t')
			*q = '?';
	return strdup(s);
}
