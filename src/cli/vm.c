/* `vsrv vm ...`: VMs through the API. */
#include "cli/client.h"
#include "util/size.h"

#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vsrv vm list\n"
		"       vsrv vm show|status NAME\n"
		"       vsrv vm create NAME --kernel FILE [options]\n"
		"       vsrv vm edit NAME [options]\n"
		"       vsrv vm start|shutdown|off|reset|pause|resume NAME\n"
		"       vsrv vm delete NAME [--with-disks]\n"
		"       vsrv vm console NAME        (detach with Ctrl-])\n"
		"options: --cpus N --memory SIZE --kernel FILE --initrd FILE --cmdline STR\n"
		"         --description TEXT --restart never|on-failure|always --autostart on|off\n"
		"         --cpu-limit PERCENT --cpu-weight N --memory-reserve SIZE\n"
		"         --disk NAME[:BUS[:ro]] (repeatable) --nic NETWORK[:MAC] (repeatable)\n"
		"global:  --server URL --token TOKEN --socket PATH --output json|table\n");
}

static int mib(const char *s, json_int_t *out)
{
	uint64_t v;

	if (size_parse(s, &v)) {
		fprintf(stderr, "vsrv: bad size '%s'\n", s);
		return -1;
	}
	/* A bare number is MiB, as people type memory sizes. */
	if (strspn(s, "0123456789") == strlen(s))
		v <<= 20;
	*out = v >> 20;
	return 0;
}

/* Options of create and edit into a request body. Returns NULL on a usage error. */
static json_t *vm_body(int argc, char **argv, const char *name)
{
	static const struct option opts[] = {
		{ "cpus", required_argument, NULL, 'c' }, { "memory", required_argument, NULL, 'm' },
		{ "kernel", required_argument, NULL, 'k' }, { "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'C' }, { "description", required_argument, NULL, 'D' },
		{ "restart", required_argument, NULL, 'r' }, { "autostart", required_argument, NULL, 'a' },
		{ "cpu-limit", required_argument, NULL, 'L' }, { "cpu-weight", required_argument, NULL, 'W' },
		{ "memory-reserve", required_argument, NULL, 'R' }, { "disk", required_argument, NULL, 'd' },
		{ "nic", required_argument, NULL, 'n' }, { "undo-disks", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *b = json_object(), *disks = NULL, *nics = NULL;
	json_int_t v;
	int o;

	if (name)
		json_object_set_new(b, "name", json_string(name));
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': json_object_set_new(b, "cpus", json_integer(atoll(optarg))); break;
		case 'm': if (mib(optarg, &v)) goto bad; json_object_set_new(b, "memory_mib", json_integer(v)); break;
		case 'R': if (mib(optarg, &v)) goto bad; json_object_set_new(b, "memory_reserve_mib", json_integer(v)); break;
		case 'k': json_object_set_new(b, "kernel", json_string(optarg)); break;
		case 'i': json_object_set_new(b, "initrd", json_string(optarg)); break;
		case 'C': json_object_set_new(b, "cmdline", json_string(optarg)); break;
		case 'D': json_object_set_new(b, "description", json_string(optarg)); break;
		case 'r': json_object_set_new(b, "restart_policy", json_string(optarg)); break;
		case 'u': json_object_set_new(b, "undo_disks", json_string(optarg)); break;
		case 'a': json_object_set_new(b, "autostart", json_boolean(!strcmp(optarg, "on"))); break;
		case 'L': json_object_set_new(b, "cpu_limit", json_integer(atoll(optarg))); break;
		case 'W': json_object_set_new(b, "cpu_weight", json_integer(atoll(optarg))); break;
		case 'd': {
			char *s = strdup(optarg), *bus = strchr(s, ':'), *ro = NULL;
			json_t *d = json_object();
			if (bus) {
				*bus++ = '\0';
				ro = strchr(bus, ':');
				if (ro)
					*ro++ = '\0';
			}
			json_object_set_new(d, "disk", json_string(s));
			if (bus && *bus)
				json_object_set_new(d, "bus", json_string(bus));
			if (ro)
				json_object_set_new(d, "readonly", json_boolean(!strcmp(ro, "ro")));
			if (!disks)
				disks = json_array();
			json_array_append_new(disks, d);
			free(s);
			break;
		}
		case 'n': {
			char *s = strdup(optarg), *mac = strchr(s, ':');
			json_t *n = json_object();
			if (mac)
				*mac++ = '\0';
			json_object_set_new(n, "network", json_string(s));
			if (mac)
				json_object_set_new(n, "mac", json_string(mac));
			if (!nics)
				nics = json_array();
			json_array_append_new(nics, n);
			free(s);
			break;
		}
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	if (disks)
		json_object_set_new(b, "disks", disks);
	if (nics)
		json_object_set_new(b, "nics", nics);
	return b;
bad:
	json_decref(disks);
	json_decref(nics);
	json_decref(b);
	usage(stderr);
	return NULL;
}

/* The console: output streamed by a thread, keys posted as they are typed. */
struct console {
	struct client out;
	char path[512];
	volatile int done;
};

static int to_stdout(const char *buf, size_t n, void *arg)
{
	struct console *c = arg;

	if (write(1, buf, n) < 0)
		return 1;
	return c->done;
}

static void *console_out(void *arg)
{
	struct console *c = arg;

	client_stream(&c->out, c->path, to_stdout, c);
	c->done = 1;
	return NULL;
}

static int console(struct client *cl, const char *seg, int argc, char **argv)
{
	struct console c = { 0 };
	struct termios old, raw;
	bool tty = isatty(0);
	pthread_t t;
	char path[512];
	int rc = 0;

	/* A second connection for the output stream. */
	c.out = *cl;
	c.out.curl = NULL;
	{
		int ac = 1;
		char *av[] = { argv[0], NULL };
		(void)argc;
		if (client_init(&ac, av, &c.out))
			return 1;
		c.out.server = cl->server;
		c.out.socket = cl->socket;
		c.out.token = cl->token;
	}
	snprintf(c.path, sizeof(c.path), "/api/v1/vms/%s/console?follow=1", seg);
	snprintf(path, sizeof(path), "/api/v1/vms/%s/console", seg);
	if (pthread_create(&t, NULL, console_out, &c))
		return 1;
	if (tty) {
		tcgetattr(0, &old);
		raw = old;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
		fprintf(stderr, "[attached; Ctrl-] detaches]\r\n");
	}
	while (!c.done) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		char buf[512];
		ssize_t n;
		json_t *body, *out;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(0, buf, sizeof(buf));
		if (n <= 0)
			break;
		{
			char *q = memchr(buf, 0x1d, n);
			if (q)
				n = q - buf;
		}
		if (n > 0) {
			body = json_pack("{s:s%}", "input", buf, (size_t)n);
			if (body && client_call(cl, "POST", path, body, &out))
				rc = 1;
			json_decref(body);
			json_decref(out);
		}
		if (memchr(buf, 0x1d, sizeof(buf)) && n < (ssize_t)sizeof(buf))
			break;
	}
	if (tty) {
		tcsetattr(0, TCSANOW, &old);
		fprintf(stderr, "\n[detached]\n");
	}
	c.done = 1;
	pthread_cancel(t);
	pthread_join(t, NULL);
	client_close(&c.out);
	return rc;
}

int cmd_vm(int argc, char **argv)
{
	static const char *const cols[] = { "name", "state", "cpus", "memory_mib", NULL };
	struct client cl;
	const char *sub, *name;
	char seg[256], path[512];
	json_t *out = NULL, *body = NULL;
	int rc;

	rc = client_init(&argc, argv, &cl);
	if (rc)
		return rc;
	if (argc < 2) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "help")) {
		usage(stdout);
		goto out;
	}
	if (!strcmp(sub, "list")) {
		rc = client_call(&cl, "GET", "/api/v1/vms?limit=10000", NULL, &out);
		if (!rc) {
			if (cl.json)
				client_print_json(out);
			else
				client_print_table(json_object_get(out, "vms"), cols);
		}
		goto out;
	}
	if (argc < 3) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	name = argv[2];
	client_seg(name, seg, sizeof(seg));
	snprintf(path, sizeof(path), "/api/v1/vms/%s", seg);
	if (!strcmp(sub, "show") || !strcmp(sub, "status")) {
		if (!strcmp(sub, "status"))
			strcat(path, "/status");
		rc = client_call(&cl, "GET", path, NULL, &out);
	} else if (!strcmp(sub, "create") || !strcmp(sub, "edit")) {
		body = vm_body(argc - 2, argv + 2, !strcmp(sub, "create") ? name : NULL);
		if (!body) {
			rc = 2;
			goto out;
		}
		rc = !strcmp(sub, "create") ? client_call(&cl, "POST", "/api/v1/vms", body, &out)
					    : client_call(&cl, "PATCH", path, body, &out);
	} else if (!strcmp(sub, "start") || !strcmp(sub, "shutdown") || !strcmp(sub, "off") ||
		   !strcmp(sub, "reset") || !strcmp(sub, "pause") || !strcmp(sub, "resume")) {
		snprintf(path, sizeof(path), "/api/v1/vms/%s/%s", seg, sub);
		rc = client_call(&cl, "POST", path, NULL, &out);
		if (!rc && !cl.json) {
			printf("%s: %s\n", name, json_string_value(json_object_get(out, "state")));
			goto out;
		}
	} else if (!strcmp(sub, "delete")) {
		if (argc > 3 && !strcmp(argv[3], "--with-disks"))
			strcat(path, "?disks=true");
		rc = client_call(&cl, "DELETE", path, NULL, &out);
	} else if (!strcmp(sub, "console")) {
		rc = console(&cl, seg, argc, argv);
		goto out;
	} else {
		usage(stderr);
		rc = 2;
		goto out;
	}
	if (!rc && out) {
		if (cl.json)
			client_print_json(out);
		else
			client_print_object(out);
	}
out:
	json_decref(out);
	json_decref(body);
	client_close(&cl);
	return rc;
}
