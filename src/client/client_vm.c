/* `vsrv vm ...`: VMs through the API. */
#include "client/client_opt.h"

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* A memory size in MiB: a bare number is MiB, as people type memory sizes. */
static json_int_t mib(const struct opt_val *v)
{
	if (strspn(v->str, "0123456789") == strlen(v->str))
		return v->num;
	return v->num >> 20;
}

/* The options of create and edit into a request body (name: create's). */
static json_t *vm_body(struct opt_res *r, const char *name)
{
	static const struct { const char *opt, *field; } strs[] = {
		{ "kernel", "kernel" }, { "initrd", "initrd" }, { "cmdline", "cmdline" },
		{ "description", "description" }, { "restart", "restart_policy" },
		{ "undo-disks", "undo_disks" }, { "firmware", "firmware" }, { "os-type", "os_type" },
		{ "display", "display" }, { "enlightenments", "enlightenments" },
	};
	static const struct { const char *opt, *field; } ints[] = {
		{ "cpus", "cpus" }, { "cpu-limit", "cpu_limit" }, { "cpu-weight", "cpu_weight" },
	};
	const struct opt_val *v;
	json_t *b = json_object(), *a;
	size_t i;
	int k;

	if (name)
		json_object_set_new(b, "name", json_string(name));
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if ((v = opt_get(r, strs[i].opt)))
			json_object_set_new(b, strs[i].field, json_string(v->str));
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		if ((v = opt_get(r, ints[i].opt)))
			json_object_set_new(b, ints[i].field, json_integer(v->num));
	if ((v = opt_get(r, "memory")))
		json_object_set_new(b, "memory_mib", json_integer(mib(v)));
	if ((v = opt_get(r, "memory-reserve")))
		json_object_set_new(b, "memory_reserve_mib", json_integer(mib(v)));
	if ((v = opt_get(r, "memory-min")))
		json_object_set_new(b, "memory_min_mib", json_integer(mib(v)));
	if ((v = opt_get(r, "memory-buffer")))
		json_object_set_new(b, "memory_buffer_pct", json_integer(v->num));
	if ((v = opt_get(r, "autostart")))
		json_object_set_new(b, "autostart", json_boolean(v->on));
	if ((v = opt_get(r, "template")))
		json_object_set_new(b, "template", json_boolean(v->on));
	if ((v = opt_get(r, "balloon")))
		json_object_set_new(b, "balloon", json_boolean(v->on));
	if ((v = opt_get(r, "mem-merge")))
		json_object_set_new(b, "mem_merge", json_boolean(v->on));
	if ((v = opt_get(r, "from-template")))
		json_object_set_new(b, "from_template", json_string(v->str));
	if ((v = opt_get(r, "linked")))
		json_object_set_new(b, "linked", json_boolean(v->on));
	if ((v = opt_get(r, "disk"))) {
		a = json_array();
		for (k = 0; k < v->count; k++) {
			char *s = strdup(v->all[k]), *bus = strchr(s, ':'), *ro = NULL;
			json_t *d = json_object();
			if (bus) {
				*bus++ = '\0';
				ro = strchr(bus, ':');
				if (ro)
					*ro++ = '\0';
			}
			if (ro && strcmp(ro, "ro") && strcmp(ro, "rw")) {
				opt_usage_error(r, "--disk %s: the access is ro or rw, not '%s'", v->all[k], ro);
				free(s);
				json_decref(d);
				json_decref(a);
				json_decref(b);
				return NULL;
			}
			json_object_set_new(d, "disk", json_string(s));
			if (bus && *bus)
				json_object_set_new(d, "bus", json_string(bus));
			if (ro)
				json_object_set_new(d, "readonly", json_boolean(!strcmp(ro, "ro")));
			json_array_append_new(a, d);
			free(s);
		}
		json_object_set_new(b, "disks", a);
	}
	if ((v = opt_get(r, "nic"))) {
		a = json_array();
		for (k = 0; k < v->count; k++) {
			char *s = strdup(v->all[k]), *mac = strchr(s, ':');
			json_t *n = json_object();
			if (mac)
				*mac++ = '\0';
			json_object_set_new(n, "network", json_string(s));
			if (mac)
				json_object_set_new(n, "mac", json_string(mac));
			if (opt_get(r, "nic-model"))
				json_object_set_new(n, "model", json_string(opt_get(r, "nic-model")->str));
			json_array_append_new(a, n);
			free(s);
		}
		json_object_set_new(b, "nics", a);
	}
	if ((v = opt_get(r, "cdrom")) || opt_get(r, "no-cdroms")) {
		/* --cdrom IMAGE per drive, "" for an empty one; --no-cdroms: none */
		a = json_array();
		for (k = 0; v && k < v->count; k++) {
			json_t *cd = json_pack("{s:o}", "image", v->all[k][0] ?
					       json_string(v->all[k]) : json_null());

			if (opt_get(r, "cdrom-bus"))
				json_object_set_new(cd, "bus", json_string(opt_get(r, "cdrom-bus")->str));
			json_array_append_new(a, cd);
		}
		json_object_set_new(b, "cdroms", a);
	}
	if ((v = opt_get(r, "boot"))) {
		/* --boot cdrom,disk; "" for the firmware's own order */
		char *s = strdup(v->str), *save = NULL;

		a = json_array();
		for (char *t = s ? strtok_r(s, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(a, json_string(t));
		free(s);
		json_object_set_new(b, "boot", a);
	}
	return b;
}

/* The console: output streamed by a thread, keys posted as they are typed. */
struct console {
	struct client out;
	char path[512];
	volatile int done;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;            /* the output stream is connected */
};

static int to_stdout(const char *buf, size_t n, void *arg)
{
	struct console *c = arg;

	if (!n) {
		pthread_mutex_lock(&c->lock);
		c->open = true;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		return c->done;
	}
	if (write(1, buf, n) < 0)
		return 1;
	return c->done;
}

static void *console_out(void *arg)
{
	struct console *c = arg;

	client_stream(&c->out, c->path, to_stdout, c);
	pthread_mutex_lock(&c->lock);
	c->done = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static int console(struct client *cl, const char *seg)
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
		char *av[] = { "vm", NULL };
		if (client_init(&ac, av, &c.out))
			return 1;
		c.out.server = cl->server;
		c.out.socket = cl->socket;
		c.out.token = cl->token;
	}
	snprintf(c.path, sizeof(c.path), "/api/v1/vms/%s/console?follow=1", seg);
	snprintf(path, sizeof(path), "/api/v1/vms/%s/console", seg);
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	if (pthread_create(&t, NULL, console_out, &c))
		return 1;
	/* Attached once the output flows: what is typed from then on has its echo seen. */
	pthread_mutex_lock(&c.lock);
	while (!c.open && !c.done)
		pthread_cond_wait(&c.cond, &c.lock);
	pthread_mutex_unlock(&c.lock);
	if (c.done) {
		pthread_join(t, NULL);
		client_close(&c.out);
		return 1;
	}
	if (tty) {
		tcgetattr(0, &old);
		raw = old;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
		fprintf(stderr, "[attached; Ctrl-] detaches]\r\n");
	}
	while (!c.done) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		char buf[512], *q;
		ssize_t n;
		json_t *body, *out;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(0, buf, sizeof(buf));
		if (n <= 0)
			break;
		/* Ctrl-] among the bytes read (not the rest of the buffer) detaches */
		q = memchr(buf, 0x1d, n);
		if (q)
			n = q - buf;
		if (n > 0) {
			body = json_pack("{s:s%}", "input", buf, (size_t)n);
			if (body && client_call(cl, "POST", path, body, &out))
				rc = 1;
			json_decref(body);
			json_decref(out);
		}
		if (q)
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


/* The VM's path (/api/v1/vms/NAME) and its escaped name. */
static void vm_path(struct opt_res *r, const char *tail, char *seg, size_t segn, char *path, size_t n)
{
	client_seg(r->args[0], seg, segn);
	snprintf(path, n, "/api/v1/vms/%s%s", seg, tail);
}

/* A VM for people: its fields, the last exit in words, times in local time. */
static void vm_print(const json_t *vm)
{
	static const char *const times[] = { "created", "updated", "started" };
	json_t *o = json_deep_copy(vm);
	json_t *le = json_object_get(vm, "last_exit");
	char b[256];
	size_t i;

	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		json_t *t = json_object_get(vm, times[i]);
		time_t sec = json_is_integer(t) ? (time_t)json_integer_value(t) : 0;
		struct tm tm;
		if (sec > 0 && localtime_r(&sec, &tm) && strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S", &tm))
			json_object_set_new(o, times[i], json_string(b));
		else if (json_is_integer(t) && !sec) /* never (started: the VM never ran) */
			json_object_set_new(o, times[i], json_string("never"));
	}

	if (le && !json_is_null(le)) {
		client_exit_text(le, b, sizeof(b));
		json_object_set_new(o, "last_exit", json_string(b));
	}
	if (json_is_array(json_object_get(vm, "boot"))) {
		/* the boot order as given: "cdrom,disk" */
		json_t *d;
		size_t n = 0;

		b[0] = '\0';
		json_array_foreach(json_object_get(vm, "boot"), i, d)
			if (n < sizeof(b))
				n += snprintf(b + n, sizeof(b) - n, "%s%s", i ? "," : "",
					      json_string_value(d) ?: "?");
		json_object_set_new(o, "boot", json_string(i ? b : "(firmware default)"));
	}
	if (json_is_array(json_object_get(vm, "cdroms"))) {
		/* the drives by number: "0: debian.iso, 1: (empty)" (on another bus than
		 * virtio-scsi: "0: debian.iso [ahci]") */
		json_t *cd;
		size_t n = 0;

		b[0] = '\0';
		json_array_foreach(json_object_get(vm, "cdroms"), i, cd) {
			const char *img = json_string_value(json_object_get(cd, "image"));
			const char *bus = json_string_value(json_object_get(cd, "bus")) ?: "";
			bool other = *bus && strcmp(bus, "virtio-scsi");

			if (n < sizeof(b))
				n += snprintf(b + n, sizeof(b) - n, "%s%zu: %s%s%s%s", i ? ", " : "", i,
					      img ? img : "(empty)", other ? " [" : "", other ? bus : "",
					      other ? "]" : "");
		}
		json_object_set_new(o, "cdroms", json_string(i ? b : "none"));
	}
	/* dynamic memory in a line: "policy, 256-1024 MiB, buffer 20%: target 512 MiB, guest
	 * uses 300 MiB (hold)" */
	if (json_is_object(json_object_get(vm, "dynamic_memory"))) {
		const json_t *dm = json_object_get(vm, "dynamic_memory");
		const char *mode = json_string_value(json_object_get(dm, "mode")) ?: "?";
		int n = snprintf(b, sizeof(b), "%s", mode);

		if (strcmp(mode, "off"))
			n += snprintf(b + n, sizeof(b) - n, ", %lld-%lld MiB, buffer %lld%%",
				      (long long)json_integer_value(json_object_get(dm, "min_mib")),
				      (long long)json_integer_value(json_object_get(dm, "max_mib")),
				      (long long)json_integer_value(json_object_get(dm, "buffer_pct")));
		if (json_is_integer(json_object_get(dm, "target_mib")) && n < (int)sizeof(b))
			n += snprintf(b + n, sizeof(b) - n, ": target %lld MiB",
				      (long long)json_integer_value(json_object_get(dm, "target_mib")));
		if (json_is_integer(json_object_get(dm, "guest_used_mib")) && n < (int)sizeof(b))
			n += snprintf(b + n, sizeof(b) - n, ", guest uses %lld MiB",
				      (long long)json_integer_value(json_object_get(dm, "guest_used_mib")));
		if (json_is_string(json_object_get(dm, "decision")) && n < (int)sizeof(b))
			snprintf(b + n, sizeof(b) - n, " (%s)",
				 json_string_value(json_object_get(dm, "decision")));
		json_object_set_new(o, "dynamic_memory", json_string(b));
	}
	/* the guest agent's status alone: `vm agent NAME` shows the rest */
	if (json_is_object(json_object_get(vm, "agent")))
		json_object_set(o, "agent", json_object_get(json_object_get(vm, "agent"), "status"));
	client_print_object(o);
	json_decref(o);
}

static int vm_list(struct client *cl, struct opt_res *r)
{
	static const char *const cols[] = { "name", "state", "host", "cpus", "memory_mib", "last_exit",
					    NULL };
	json_t *out = NULL, *vm;
	size_t i;
	int rc;

	(void)r;
	rc = client_call(cl, "GET", "/api/v1/vms?limit=10000", NULL, &out);
	if (rc)
		return rc;
	if (cl->json) {
		client_print_json(out);
	} else {
		json_array_foreach(json_object_get(out, "vms"), i, vm) {
			json_t *le = json_object_get(vm, "last_exit"), *one = NULL;
			char b[256], seg[256], path[512];
			/* A list without last exits: a crashed VM's is worth its own request. */
			if (!le && !strcmp(json_string_value(json_object_get(vm, "state")) ?: "", "crashed")) {
				snprintf(path, sizeof(path), "/api/v1/vms/%s",
					 client_seg(json_string_value(json_object_get(vm, "name")), seg, sizeof(seg)));
				if (!client_call(cl, "GET", path, NULL, &one))
					le = json_object_get(one, "last_exit");
			}
			if (le && !json_is_null(le))
				json_object_set_new(vm, "last_exit", json_string(client_exit_text(le, b, sizeof(b))));
			json_decref(one);
		}
		client_print_table(json_object_get(out, "vms"), cols);
	}
	json_decref(out);
	return 0;
}

static int vm_get(struct client *cl, struct opt_res *r)
{
	char seg[256], path[512];
	json_t *out = NULL;
	int rc;

	vm_path(r, !strcmp(r->cmd->name, "status") ? "/status" : "", seg, sizeof(seg), path, sizeof(path));
	rc = client_call(cl, "GET", path, NULL, &out);
	if (!rc && out)
		cl->json ? client_print_json(out) : vm_print(out);
	json_decref(out);
	return rc;
}

static int vm_write(struct client *cl, struct opt_res *r)
{
	bool create = !strcmp(r->cmd->name, "create");
	char seg[256], path[512];
	json_t *out = NULL, *body;
	int rc;

	if (!create && (opt_get(r, "from-template") || opt_get(r, "linked")))
		return opt_usage_error(r, "--from-template and --linked are for create");
	if (opt_get(r, "cdrom") && opt_get(r, "no-cdroms"))
		return opt_usage_error(r, "--cdrom and --no-cdroms exclude each other");
	body = vm_body(r, create ? r->args[0] : NULL);
	if (!body)
		return 2;
	if (!create && !json_object_size(body)) {
		json_decref(body);
		return opt_usage_error(r, "nothing to change (see the options)");
	}
	vm_path(r, "", seg, sizeof(seg), path, sizeof(path));
	rc = client_call(cl, create ? "POST" : "PATCH", create ? "/api/v1/vms" : path, body, &out);
	if (!rc && out)
		cl->json ? client_print_json(out) : vm_print(out);
	json_decref(body);
	json_decref(out);
	return rc;
}

/* vm media NAME [--drive N] (--insert IMAGE | --eject) [--force] */
static int vm_media(struct client *cl, struct opt_res *r)
{
	const struct opt_val *drive = opt_get(r, "drive"), *insert = opt_get(r, "insert");
	bool eject = opt_get(r, "eject") != NULL, force = opt_get(r, "force") != NULL;
	char seg[256], path[512];
	json_t *body, *out = NULL, *d;
	size_t i;
	int rc;

	if (!!insert == eject)
		return opt_usage_error(r, "say --insert IMAGE or --eject");
	if (drive && drive->num < 0)
		return opt_usage_error(r, "--drive: a drive number from 0");
	body = json_pack("{s:I,s:o,s:b}", "drive", (json_int_t)(drive ? drive->num : 0), "image",
			 insert ? json_string(insert->str) : json_null(), "force", force);
	vm_path(r, "/media", seg, sizeof(seg), path, sizeof(path));
	rc = client_call(cl, "POST", path, body, &out);
	json_decref(body);
	if (!rc && cl->json)
		client_print_json(out);
	else if (!rc)
		json_array_foreach(json_object_get(out, "cdroms"), i, d) {
			const char *img = json_string_value(json_object_get(d, "image"));

			printf("%s: drive %zu: %s\n", r->args[0], i, img ? img : "(empty)");
		}
	json_decref(out);
	return rc;
}

static int vm_action(struct client *cl, struct opt_res *r)
{
	const struct opt_val *undo = opt_get(r, "undo");
	char seg[256], path[600], tail[64];
	json_t *out = NULL;
	int rc;

	/* vm discard NAME is the discard-saved action */
	snprintf(tail, sizeof(tail), "/%s%s%s", strcmp(r->cmd->name, "discard") ? r->cmd->name :
		 "discard-saved", undo ? "?undo=" : "", undo ? undo->str : "");
	vm_path(r, tail, seg, sizeof(seg), path, sizeof(path));
	rc = client_call(cl, "POST", path, NULL, &out);
	if (!rc) {
		if (cl->json)
			client_print_json(out);
		else
			printf("%s: %s\n", r->args[0], json_string_value(json_object_get(out, "state")));
	}
	json_decref(out);
	return rc;
}

static int vm_delete(struct client *cl, struct opt_res *r)
{
	char seg[256], path[512];
	json_t *out = NULL;
	int rc;

	vm_path(r, opt_get(r, "with-disks") ? "?disks=true" : "", seg, sizeof(seg), path, sizeof(path));
	rc = client_call(cl, "DELETE", path, NULL, &out);
	if (!rc && out)
		cl->json ? client_print_json(out) : client_print_object(out);
	json_decref(out);
	return rc;
}

static int vm_console(struct client *cl, struct opt_res *r)
{
	char seg[256];

	return console(cl, client_seg(r->args[0], seg, sizeof(seg)));
}

/* "8 MiB": bytes for people (the units of `vsrv img info`). */
static const char *size_text(json_int_t v, char *buf, size_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	int i = 0;

	while (i < 6 && (uint64_t)v >= (1000ULL << (10 * i)))
		i++;
	snprintf(buf, n, "%0.3g %s", (double)v / (double)(1ULL << (i * 10)), units[i]);
	return buf;
}

int client_task_wait(struct client *cl, json_int_t id)
{
	char path[64];
	json_t *t = NULL;
	const char *state = "running";

	snprintf(path, sizeof(path), "/api/v1/tasks/%lld", (long long)id);
	while (!strcmp(state, "running")) {
		json_decref(t);
		t = NULL;
		if (client_call(cl, "GET", path, NULL, &t))
			return 1;
		state = json_string_value(json_object_get(t, "state")) ?: "failed";
		if (!strcmp(state, "running"))
			usleep(200 * 1000);
	}
	if (strcmp(state, "done")) {
		fprintf(stderr, "vsrv: task %lld failed: %s\n", (long long)id,
			json_string_value(json_object_get(t, "error")) ?: "(no message)");
		json_decref(t);
		return 1;
	}
	json_decref(t);
	return 0;
}

/* `vm undo-disks NAME`: the kept undo disks as a table; --commit, --discard act on them. */
static int vm_undo_disks(struct client *cl, struct opt_res *r)
{
	const char *cols[] = { "index", "disk", "virtual_size", "allocated", "created", "error", NULL };
	const struct opt_val *commit = opt_get(r, "commit"), *discard = opt_get(r, "discard");
	char seg[256], path[600], b[64];
	json_t *out = NULL, *u;
	size_t i;
	int rc;

	if (commit && discard)
		return opt_usage_error(r, "--commit or --discard, not both");
	if (opt_get(r, "wait") && !commit)
		return opt_usage_error(r, "--wait is for --commit");
	vm_path(r, commit ? "/undo-disks?action=commit" : discard ? "/undo-disks?action=discard" :
		"/undo-disks", seg, sizeof(seg), path, sizeof(path));
	rc = client_call(cl, commit || discard ? "POST" : "GET", path, NULL, &out);
	if (rc)
		return rc;
	if (cl->json) {
		client_print_json(out);
	} else if (commit) {
		printf("%s: committing %lld undo disk(s) into its disks (task %lld)\n", r->args[0],
		       (long long)json_integer_value(json_object_get(out, "count")),
		       (long long)json_integer_value(json_object_get(out, "task")));
	} else if (discard) {
		printf("%s: %lld undo disk(s) discarded\n", r->args[0],
		       (long long)json_integer_value(json_object_get(out, "count")));
	} else {
		bool errors = false;

		json_array_foreach(json_object_get(out, "undo_disks"), i, u) {
			time_t t = (time_t)json_integer_value(json_object_get(u, "created"));
			struct tm tm;

			json_object_set_new(u, "virtual_size", json_string(size_text(json_integer_value(
				json_object_get(u, "virtual_size")), b, sizeof(b))));
			json_object_set_new(u, "allocated", json_string(size_text(json_integer_value(
				json_object_get(u, "allocated")), b, sizeof(b))));
			if (t > 0 && localtime_r(&t, &tm) && strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S", &tm))
				json_object_set_new(u, "created", json_string(b));
			if (json_is_null(json_object_get(u, "disk")))
				json_object_set_new(u, "disk", json_string("(gone)"));
			errors |= !json_is_null(json_object_get(u, "error"));
		}
		if (!errors)
			cols[5] = NULL;
		client_print_table(json_object_get(out, "undo_disks"), cols);
		if (json_is_true(json_object_get(out, "committing")))
			printf("(a commit of these into the disks runs)\n");
		else if (strcmp(json_string_value(json_object_get(out, "state")) ?: "", "stopped") &&
			 strcmp(json_string_value(json_object_get(out, "state")) ?: "", "crashed"))
			printf("(%s is %s: it runs on these)\n", r->args[0],
			       json_string_value(json_object_get(out, "state")) ?: "?");
	}
	if (commit && opt_get(r, "wait"))
		rc = client_task_wait(cl, json_integer_value(json_object_get(out, "task")));
	json_decref(out);
	return rc;
}

static const struct opt vm_opts[] = {
	{ "cpus", 0, OPT_INT, "N", "vCPUs", NULL, false },
	{ "memory", 0, OPT_SIZE, "SIZE", "RAM: 512M, 2G; a bare number is MiB", NULL, false },
	{ "kernel", 0, OPT_STR, "FILE", "the kernel: a file in the server's images directory "
	  "(absolute paths: administrators)", NULL, false },
	{ "initrd", 0, OPT_STR, "FILE", "an initial ramdisk, as --kernel", NULL, false },
	{ "cmdline", 0, OPT_STR, "TEXT", "the kernel command line", NULL, false },
	{ "description", 0, OPT_STR, "TEXT", "a description for people", NULL, false },
	{ "restart", 0, OPT_CHOICE, "POLICY", "restart policy: never, on-failure or always",
	  (const char *const[]){ "never", "on-failure", "always", NULL }, false },
	{ "autostart", 0, OPT_BOOL, "yes|no", "start the VM when the server starts", NULL, false },
	{ "balloon", 0, OPT_BOOL, "yes|no", "a memory balloon (default yes; 'vsrv vm balloon' sets "
	  "the memory the running guest keeps)", NULL, false },
	{ "mem-merge", 0, OPT_BOOL, "yes|no", "offer the VM's memory to the host's same-page merging "
	  "(KSM; default no: shared pages let guests time each other)", NULL, false },
	{ "display", 0, OPT_CHOICE, "DISPLAY", "bochs (a graphical console: VNC in the web console) "
	  "or none (default: bochs with a firmware)", (const char *const[]){ "none", "bochs", NULL },
	  false },
	{ "enlightenments", 0, OPT_CHOICE, "E", "the paravirtual interfaces offered: kvm, hyperv "
	  "(for Windows), xen (for guests built for Xen) or none (default: hyperv with --os-type "
	  "windows, else kvm)", (const char *const[]){ "kvm", "hyperv", "xen", "none", NULL }, false },
	{ "undo-disks", 0, OPT_CHOICE, "MODE", "off, or run writable VHD disks on undo disks and, when "
	  "the VM ends, keep, commit or discard them", (const char *const[]){ "off", "keep", "commit",
	  "discard", NULL }, false },
	{ "cpu-limit", 0, OPT_INT, "PERCENT", "CPU time limit in percent of one CPU (0: none)", NULL, false },
	{ "cpu-weight", 0, OPT_INT, "N", "CPU weight against other VMs, 1 to 10000 (default 100)", NULL, false },
	{ "memory-reserve", 0, OPT_SIZE, "SIZE", "memory kept for the VM; a bare number is MiB", NULL, false },
	{ "memory-min", 0, OPT_SIZE, "SIZE", "dynamic memory: the least the server balloons the "
	  "running guest down to (at least 64M; --memory, the default, is off); changed at any "
	  "time", NULL, false },
	{ "memory-buffer", 0, OPT_INT, "PERCENT", "dynamic memory: the free memory the guest keeps, "
	  "in percent of what it uses (0 to 2000, default 20)", NULL, false },
	{ "disk", 0, OPT_STR, "NAME[:BUS[:ro|rw]]", "attach a disk (BUS virtio-blk, scsi, ahci or ide)",
	  NULL, true },
	{ "nic", 0, OPT_STR, "NETWORK[:MAC]", "a network interface on a virtual network", NULL, true },
	{ "nic-model", 0, OPT_CHOICE, "MODEL", "the model of every --nic of the command: virtio or "
	  "e1000 (an Intel 82540EM, for guests without virtio drivers)",
	  (const char *const[]){ "virtio", "e1000", NULL }, false },
	{ "cdrom", 0, OPT_STR, "IMAGE", "a CD/DVD drive holding IMAGE, an ISO (or raw image) of the "
	  "server's image store; \"\" for an empty drive (repeatable, up to 4; edit replaces the "
	  "drives)", NULL, true },
	{ "no-cdroms", 0, OPT_FLAG, NULL, "edit: remove every CD/DVD drive", NULL, false },
	{ "cdrom-bus", 0, OPT_CHOICE, "BUS", "the bus of every --cdrom drive of the command: "
	  "virtio-scsi, ahci (SATA) or ide (PATA, for systems older than AHCI); firmware boots "
	  "from the last two", (const char *const[]){ "virtio-scsi", "ahci", "ide", NULL }, false },
	{ "firmware", 0, OPT_CHOICE, "FW", "none (boot --kernel), bios or uefi (boot from the "
	  "drives: no --kernel)", (const char *const[]){ "none", "bios", "uefi", NULL }, false },
	{ "boot", 0, OPT_STR, "ORDER", "the firmware's boot order: cdrom, disk, net, comma-separated "
	  "(\"\": the firmware's own)", NULL, false },
	{ "os-type", 0, OPT_CHOICE, "TYPE", "create: a preset for what is not given: linux (virtio), "
	  "windows (uefi, ahci, e1000) or legacy (bios, ide, e1000)",
	  (const char *const[]){ "linux", "windows", "legacy", NULL }, false },
	{ "template", 0, OPT_BOOL, "yes|no", "a template: it does not start, VMs are made from it "
	  "(create --from-template)", NULL, false },
	{ "from-template", 0, OPT_STR, "TEMPLATE", "create: make the VM from a template, as a "
	  "linked clone unless --linked no (no other option then)", NULL, false },
	{ "linked", 0, OPT_BOOL, "yes|no", "with --from-template: a linked clone (default yes) or a "
	  "full copy", NULL, false },
	{ NULL },
};

static const struct opt stop_opts[] = {
	{ "undo", 0, OPT_CHOICE, "ACTION", "what happens to the VM's undo disks this time: keep, "
	  "commit or discard (else its --undo-disks setting)",
	  (const char *const[]){ "keep", "commit", "discard", NULL }, false },
	{ NULL },
};

static const struct opt media_opts[] = {
	{ "drive", 0, OPT_INT, "N", "the drive, counted from 0 in the VM's order (default 0)", NULL,
	  false },
	{ "insert", 0, OPT_STR, "IMAGE", "put IMAGE (an ISO of the image store) in the drive", NULL,
	  false },
	{ "eject", 0, OPT_FLAG, NULL, "take the medium out", NULL, false },
	{ "force", 0, OPT_FLAG, NULL, "running VM: take the medium even from a drive the guest "
	  "locked", NULL, false },
	{ NULL },
};

static const struct opt delete_opts[] = {
	{ "with-disks", 0, OPT_FLAG, NULL, "delete the VM's disks too", NULL, false },
	{ NULL },
};

static const struct opt undo_opts[] = {
	{ "commit", 0, OPT_FLAG, NULL, "merge them into the disks under them (a server task), then "
	  "delete them", NULL, false },
	{ "discard", 0, OPT_FLAG, NULL, "delete them: the disks stay as they were before the runs",
	  NULL, false },
	{ "wait", 0, OPT_FLAG, NULL, "with --commit: wait for the task to end (exit 1 if it fails)",
	  NULL, false },
	{ NULL },
};

static const struct opt_cmd vm_cmds[] = {
	{ "list", NULL, 0, 0, "List the VMs you may see: state, the host running each, size, last exit.", NULL, NULL, vm_list },
	{ "show", "NAME", 1, 1, "Show a VM: its configuration, state and last exit.", NULL, NULL, vm_get },
	{ "status", "NAME", 1, 1, "Show a VM's state and usage.", NULL, NULL, vm_get },
	{ "create", "NAME", 1, 1, "Create a VM (--kernel is required unless --firmware or --os-type gives a firmware).", NULL, vm_opts, vm_write },
	{ "edit", "NAME", 1, 1, "Change a VM's configuration.", NULL, vm_opts, vm_write },
	{ "start", "NAME", 1, 1, "Start a VM.", NULL, NULL, vm_action },
	{ "shutdown", "NAME", 1, 1, "Shut a VM down through its guest agent, else its power button "
	  "(turned off after the server's timeout).",
	  NULL, stop_opts, vm_action },
	{ "off", "NAME", 1, 1, "Turn a VM off at once (pull the plug).", NULL, stop_opts, vm_action },
	{ "reset", "NAME", 1, 1, "Restart a VM cold.", NULL, NULL, vm_action },
	{ "media", "NAME", 1, 1, "Change the medium of a VM's CD/DVD drive (--insert IMAGE or "
	  "--eject).",
	  "On a running VM the guest sees the change at once (a drive the guest locked refuses an "
	  "eject unless --force); on a VM that is off its configuration changes. Either way the "
	  "next start has the new medium.", media_opts, vm_media },
	{ "pause", "NAME", 1, 1, "Pause a VM's vCPUs.", NULL, NULL, vm_action },
	{ "resume", "NAME", 1, 1, "Resume a paused VM.", NULL, NULL, vm_action },
	{ "save", "NAME", 1, 1, "Save a running or paused VM's state (memory and devices) into "
	  "its directory: the VM is then saved, and start resumes it.",
	  "The VMM writes the state and ends; the VM's state is saved (its hardware cannot be "
	  "changed then). start restores it where it was and removes the file once it runs; "
	  "discard drops the file (the next start boots afresh); delete takes it with the VM.",
	  NULL, vm_action },
	{ "discard", "NAME", 1, 1, "Drop a saved VM's saved state: it is off, and the next start "
	  "boots it afresh.", NULL, NULL, vm_action },
	{ "delete", "NAME", 1, 1, "Delete a VM.", NULL, delete_opts, vm_delete },
	{ "undo-disks", "NAME", 1, 1, "List a VM's kept undo disks; --commit or --discard them.",
	  "The undo disks a VM's last run left (its --undo-disks keep, or --undo keep of off and "
	  "shutdown, or a crash): for each, its disk slot, the disk it sits over, its virtual size, "
	  "the space it takes and when it was made. The next start continues on them. With the VM "
	  "off, --commit merges them into the disks (as --undo commit would have), --discard throws "
	  "them away.", undo_opts, vm_undo_disks },
	{ "snapshot", "list|create|revert|delete NAME [SNAPSHOT]", 2, 3, "A VM's snapshot tree: "
	  "list it, take, revert to or delete a snapshot (of a running VM: with its memory).",
	  "create freezes the image each writable VHD disk runs on and puts a new empty layer "
	  "over it; of a running or paused VM it also keeps the VM's memory and device state "
	  "(--memory, the default then: the VM is saved, snapshotted and resumed; --no-memory "
	  "needs the VM off). revert gives the disks new empty layers over a snapshot's images "
	  "(what was written since the current snapshot is dropped); to a snapshot with memory "
	  "the VM is turned off if it runs and comes back running from that point. delete merges "
	  "the snapshot's images with the one image over them (a snapshot with two or more "
	  "children is refused: delete all but one first) and drops its memory. list prints the "
	  "tree, the current snapshot and those with memory marked.",
	  client_snapshot_opts, client_vm_snapshot },
	{ "clone", "NAME NEWNAME", 2, 2, "Clone a VM that is off: a full copy (a server task) or, "
	  "with --linked, differencing disks over frozen images of its disks.", NULL,
	  client_clone_opts, client_vm_clone },
	{ "migrate", "NAME", 1, 1, "Move a running VM to another host of the cluster while it "
	  "runs (--to HOST).", "The server the VM runs on asks HOST to prepare it, sends it there "
	  "and hands its ownership over (a server task; waited for unless --no-wait). Shared "
	  "storage by default (both hosts see the same image files); --copy-disks copies them. A "
	  "failed migration leaves it running where it was (event vm-migrate-failed).",
	  client_migrate_opts, client_vm_migrate },
	{ "console", "NAME", 1, 1, "Attach to a VM's serial console: what you type goes to the guest, "
	  "Ctrl-] detaches.", NULL, NULL, vm_console },
	{ "agent", "NAME", 1, 1, "Show a running VM's guest agent: responding or not, the guest's OS, "
	  "host name, addresses and users; --run one of its commands.", "The QEMU guest agent "
	  "(qemu-ga) in the guest answers the server's heartbeat every 10 s. --run COMMAND [--args "
	  "JSON] sends one command and prints its answer; guest-exec, guest-file-* and "
	  "guest-set-user-password need the guest-agent permission, which full does not include.",
	  client_agent_opts, client_vm_agent },
	{ "balloon", "NAME", 1, 1, "Show a running VM's memory balloon: the memory its guest keeps "
	  "and what it says of its own; --target MIB sets the memory it should keep, --auto "
	  "hands it back to dynamic memory.", NULL,
	  client_balloon_opts, client_vm_balloon },
	{ NULL },
};

const struct opt_group vm_group = {
	"vm", "Manage VMs through the server.",
	"Undo disks: with create or edit --undo-disks keep|commit|discard, a VM's writable VHD disks "
	"run on undo disks (the disks themselves are not written while it runs); when the VM ends, the "
	"setting, or --undo keep|commit|discard of off and shutdown, keeps them for the next start, "
	"merges them into the disks (a server task) or throws them away. --undo-disks off ends that. "
	"'vsrv vm undo-disks NAME' lists kept undo disks, --commit or --discard them later.\n"
	"Snapshots and clones: 'vsrv vm snapshot create|list|revert|delete' works on a VM that is "
	"off, or with --memory on one that runs (writable disks VHD); 'vsrv vm clone NAME NEW [--linked]' copies one; edit --template "
	"yes marks a template, create NEW --from-template NAME makes a VM from it.\n"
	"CD/DVD drives: create or edit --cdrom IMAGE (an ISO of the server's image store, 'vsrv "
	"image upload'; --cdrom \"\" is an empty drive); 'vsrv vm media NAME --insert IMAGE' or "
	"--eject changes a medium, also while the VM runs. Installing from an ISO: 'vsrv vm create "
	"NAME --os-type windows --cdrom ISO --disk D' (UEFI, boots the disc, then the disk), or "
	"--firmware bios|uefi --boot cdrom,disk with the buses and models wanted; a VM with a kernel "
	"reads the disc from the kernel and initrd it is given.\n"
	"A VM's last exit says how it ended: powered off, the guest's exit value, a guest crash "
	"(triple fault), a host-side failure or a signal.",
	vm_cmds,
};
