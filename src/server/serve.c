/* `vsrv serve`: the daemon's start-up and shutdown. */
#include "server/api.h"
#include "server/auth.h"
#include "server/inv.h"
#include "server/inv_import.h"
#include "server/events.h"
#include "server/hooks.h"
#include "server/imgacl.h"
#include "server/imgstore.h"
#include "server/metrics.h"
#include "server/runas.h"
#include "server/placement.h"
#include "server/quota.h"
#include "server/sup.h"
#include "server/agent.h"
#include "server/cluster.h"
#include "server/snaplive.h"
#include "server/tasks.h"
#include "server/throttle.h"
#include "server/serve.h"
#include "util/log.h"
#include "util/size.h"

#include <curl/curl.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

extern const char vsrv_openapi[], vsrv_openapi_end[];

/* --cluster (the inventory in etcd) on a host whose DIR/inventory.db has VMs, disks or
 * networks, without --import-inventory: refused, not left out of sight. 0, or 1 (said). */
static int serve_own_inventory(const char *dir)
{
	struct inv_import_counts n;
	int rc = inv_import_pending(dir, &n);

	if (rc || n.vms + n.disks + n.networks == 0)
		return rc ? (fprintf(stderr, "vsrv serve: cannot read %s/inventory.db: %s\n", dir,
				     strerror(-rc)), 1) : 0;
	fprintf(stderr, "vsrv serve: %s/inventory.db is this host's own inventory (%d VMs, %d "
		"disks, %d networks), and --cluster keeps the inventory in etcd: add "
		"--import-inventory to move it into the cluster's, or --inventory sqlite to keep "
		"it (the cluster then shares hosts and VM ownership only)\n", dir, n.vms,
		n.disks, n.networks);
	return 1;
}

/* --import-inventory: DIR/inventory.db into the cluster's inventory (inv_import.h). 0 or
 * -errno (said on stderr). */
static int serve_import(struct server *srv, const char *dir)
{
	struct inv_import_counts n;
	char err[600];
	int rc = inv_import_data_dir(srv->db, dir, &n, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "vsrv serve: --import-inventory: %s\n", err);
		return rc;
	}
	vsrv_log("inventory imported into the cluster's: %d VMs, %d disks, %d networks (%d "
		 "already there), %d users (%d already there), %d groups (%d already there), %d "
		 "layers, %d snapshots, %d grants, %d hooks; %s/inventory.db is now "
		 "inventory.db.imported", n.vms, n.disks, n.networks, n.networks_merged, n.users,
		 n.users_merged, n.groups, n.groups_merged, n.layers, n.snapshots, n.grants,
		 n.hooks, dir);
	return 0;
}

/* "N", "Ns", "Nm", "Nh" or "Nd" (a bare N is days) into seconds. 0 or -EINVAL. */
static int parse_age(const char *arg, double *out)
{
	static const struct { char suffix; double mult; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { '\0', 86400 },
	};
	char *end;
	unsigned long long n;
	size_t i;

	if (*arg < '0' || *arg > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(arg, &end, 10);
	if (errno || n > 100ULL * 365 * 86400 || (*end && end[1]))
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (*end == units[i].suffix) {
			*out = (double)n * units[i].mult;
			return 0;
		}
	return -EINVAL;
}

/* Raise the open-files limit to its hard maximum (every client connection is a file)
 * and derive the TCP connection limit from it: the rest is kept for the inventory, the
 * VMs' sockets and logs, hooks. */
static unsigned default_max_conns(void)
{
	struct rlimit rl;
	rlim_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1000;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	n = rl.rlim_cur;
	n = n > 2048 ? n - 1024 : n / 2;
	return n > 10000 ? 10000 : (unsigned)n;
}

/* A whole number from min to max for option name, or -1 (with a message). */
static long num_arg(const char *name, const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		fprintf(stderr, "vsrv serve: %s wants a number from %ld to %ld, not '%s'\n", name, min,
			max, arg);
		return -1;
	}
	return v;
}

/* The vsrv binary next to ours (build/vsrv beside build/vsrv-server). */
static int default_vmm(char *out, size_t n)
{
	char self[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (k < 0)
		return -errno;
	self[k] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	return snprintf(out, n, "%s/vsrv", self) >= (int)n ? -ENAMETOOLONG : 0;
}

static uint64_t mem_total_mib(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kb = 0;
	char line[256];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb / 1024;
}

/* The data directory holds the inventory (password hashes, token hashes), the VMs'
 * runtime files and the disk images: nobody but the daemon's user reads it. Directories
 * become 0700 and files 0600 whatever they were before (a pre-created directory, an older
 * vsrv); symbolic links are left alone. Together with the umask of cmd_serve, new files
 * get the same. Every mode decision on the data directory is here. */
static int secure_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_D || type == FTW_DP)
		return chmod(path, 0700) < 0 ? -errno : 0;
	if (type == FTW_F && (S_ISREG(st->st_mode) || S_ISSOCK(st->st_mode)))
		return chmod(path, 0600) < 0 && errno != ENOENT ? -errno : 0;
	return 0;
}

static int data_dir_secure(const char *dir)
{
	int rc;

	umask(077);
	rc = nftw(dir, secure_one, 32, FTW_PHYS);
	return rc < 0 ? -errno : rc;
}

/* The images VMs hold in their CD/DVD drives are opened by the VMM, which runs as the
 * --run-as user: at start before it switches (as root), but a media change while it runs
 * opens the image as that user. So its group may pass through the data directory (0710, not
 * list it) and read the images directory (2750: new uploads get the group; they are 0644)
 * and its images (0640); nothing else of the data directory. The hashes' cache (.meta) and
 * hidden upload files stay the daemon's. 0 or -errno. */
static int images_share(const char *data, const char *images, const char *user)
{
	struct passwd *pw = getpwnam(user);
	struct dirent *e;
	DIR *d;
	int dfd;

	if (!pw)
		return -ENOENT;
	if (chown(data, (uid_t)-1, pw->pw_gid) < 0 || chmod(data, 0710) < 0 ||
	    chown(images, (uid_t)-1, pw->pw_gid) < 0 || chmod(images, 02750) < 0)
		return -errno;
	d = opendir(images);
	if (!d)
		return -errno;
	dfd = dirfd(d);
	while ((e = readdir(d))) {
		struct stat st;

		if (e->d_name[0] == '.' || fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (fchownat(dfd, e->d_name, (uid_t)-1, pw->pw_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(dfd, e->d_name, 0640, 0) < 0)
			vsrv_log("images %s/%s: cannot give the VMs' group read access: %s", images,
				 e->d_name, strerror(errno));
	}
	closedir(d);
	return 0;
}

/* The first line of f (newline stripped) into out. 0, -EIO or -ENAMETOOLONG. */
static int read_line(FILE *f, char *out, size_t n)
{
	size_t len;

	if (!fgets(out, n, f))
		return feof(f) ? (out[0] = '\0', 0) : -EIO;
	len = strcspn(out, "\r\n");
	if (!out[len] && !feof(f) && len == n - 1)
		return -ENAMETOOLONG;
	out[len] = '\0';
	return 0;
}

/* The --init-admin spec without a secret on the command line: "USER:-" takes the
 * password from standard input, --init-admin-file the whole "USER:PASSWORD" from a file.
 * An empty input gives "USER:", which is only an error when an administrator has to be
 * created. Returns 0 with spec in out, or -errno. */
static int init_admin_spec(const char *arg, const char *file, char *out, size_t n)
{
	size_t ul;
	FILE *f;
	int rc;

	if (file) {
		f = fopen(file, "re");
		if (!f)
			return -errno;
		rc = read_line(f, out, n);
		fclose(f);
		return rc;
	}
	ul = strlen(arg);
	if (ul < 2 || strcmp(arg + ul - 2, ":-") || ul - 1 >= n)
		return snprintf(out, n, "%s", arg) >= (int)n ? -ENAMETOOLONG : 0;
	memcpy(out, arg, ul - 1);
	return read_line(stdin, out + ul - 1, n - (ul - 1));
}

static int mkdirs(const char *dir)
{
	char p[PATH_MAX];
	size_t i;

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (i = 1; p[i]; i++)
		if (p[i] == '/') {
			p[i] = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return -errno;
			p[i] = '/';
		}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The cluster's callbacks (cluster.h): this host's free memory for VMs, and the
 * watchdog's fence. */
/* cluster_free_mib's last answer on the etcd inventory, and the inventory's generation it
 * was read under (etcd's revision, which every start, stop and ownership change raises):
 * the renewals of an idle host then read one revision, not every VM of the cluster. */
static pthread_mutex_t free_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t free_gen;
static int64_t free_val;
static bool free_known;

static int64_t cluster_free_mib(void *arg)
{
	struct server *srv = arg;
	bool cache = !strcmp(inv_backend(srv->db), "etcd");
	uint64_t gen = cache ? inv_generation(srv->db) : 0;
	struct dbc *c;
	json_t *h;
	int64_t free_mib;

	if (cache) {
		pthread_mutex_lock(&free_lock);
		if (free_known && free_gen == gen) {
			free_mib = free_val;
			pthread_mutex_unlock(&free_lock);
			return free_mib;
		}
		pthread_mutex_unlock(&free_lock);
	}
	c = inv_get(srv->db);
	h = c ? sup_host_json(srv, c) : NULL;
	free_mib = json_integer_value(json_object_get(json_object_get(h, "memory_mib"), "free"));
	if (cache && h) {
		pthread_mutex_lock(&free_lock);
		free_gen = gen;
		free_val = free_mib;
		free_known = true;
		pthread_mutex_unlock(&free_lock);
	}
	json_decref(h);
	if (c)
		inv_put(c);
	return free_mib;
}

static int cluster_fence(void *arg, const char *why)
{
	struct server *srv = arg;
	struct dbc *c;
	int n = sup_fence(srv, why, 2000, false);

	c = inv_get(srv->db);
	if (c) {
		events_emit(srv, c, "host-fenced", "server", NULL, "cluster-watchdog",
			    json_pack("{s:s,s:i}", "reason", why, "vms", n),
			    "host %s fenced: %s; %d VM(s) turned off", cluster_name(srv->cluster),
			    why, n);
		inv_put(c);
	}
	return n;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "no-tcp", no_argument, NULL, 'N' },
		{ "socket", required_argument, NULL, 's' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "init-admin", required_argument, NULL, 'a' },
		{ "init-admin-file", required_argument, NULL, 'A' },
		{ "vmm", required_argument, NULL, 'v' },
		{ "token-ttl", required_argument, NULL, 't' },
		{ "shutdown-timeout", required_argument, NULL, 'T' },
		{ "host-memory", required_argument, NULL, 'm' },
		{ "host-cpus", required_argument, NULL, 'G' },
		{ "run-as", required_argument, NULL, 'u' },
		{ "event-retention", required_argument, NULL, 'R' },
		{ "event-max", required_argument, NULL, 'E' },
		{ "max-connections", required_argument, NULL, 'C' },
		{ "max-connections-per-address", required_argument, NULL, 'P' },
		{ "request-timeout", required_argument, NULL, 'Q' },
		{ "disk-overcommit", required_argument, NULL, 'O' },
		{ "image-max-size", required_argument, NULL, 'I' },
		{ "default-quota", required_argument, NULL, 'Z' },
		{ "cluster", required_argument, NULL, 'K' },
		{ "host-name", required_argument, NULL, 'H' },
		{ "host-url", required_argument, NULL, 'U' },
		{ "cluster-ttl", required_argument, NULL, 'L' },
		{ "inventory", required_argument, NULL, 'i' },
		{ "inventory-prefix", required_argument, NULL, 'p' },
		{ "import-inventory", no_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct server srv = { 0 };
	struct http_config hc = { .listen = "127.0.0.1:8450", .max_per_addr = 64, .request_timeout = 10 };
	long v;
	const char *data = "/var/lib/vsrv", *init_admin = NULL, *init_admin_file = NULL, *vmm = NULL;
	const char *run_as = NULL;
	char admin_spec[256], run_as_name[256];
	char sock[PATH_MAX + 32], dbpath[PATH_MAX + 32], vmmbuf[PATH_MAX], sub[PATH_MAX + 32], real[PATH_MAX];
	struct http *http = NULL;
	struct dbc *c;
	sigset_t set;
	int o, rc, sig, ret = 1, lockfd;
	long host_mem = -1, host_cpus = 0;
	uint64_t image_max = 64ULL << 30;
	struct inv_quota default_quota;
	double ev_age = 30 * 86400.0;
	long long ev_max = 100000;
	char *end;
	const char *cluster = NULL, *host_name = NULL, *host_url = NULL;
	char host_buf[256], url_buf[600], deadline_path[PATH_MAX + 32];
	long cluster_ttl = 10;
	const char *inventory = NULL, *inv_prefix = NULL;
	bool import_inv = false, inv_default;
	bool http_failed = false;

	vsrv_log_set_prefix("vsrv serve");
	srv.token_ttl = 86400;
	srv.shutdown_timeout = 30;
	srv.disk_overcommit = 1;
	opterr = 0; /* its reasons said with ours: "vsrv serve: ..." and where the help is */
	while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (o) {
		case 'd': data = optarg; break;
		case 'l': hc.listen = optarg; break;
		case 'N': hc.listen = NULL; break;
		case 's': hc.socket_path = optarg; break;
		case 'c': hc.tls_cert = optarg; break;
		case 'k': hc.tls_key = optarg; break;
		case 'a': init_admin = optarg; break;
		case 'A': init_admin_file = optarg; break;
		case 'v': vmm = optarg; break;
		case 't':
			if ((v = num_arg("--token-ttl", optarg, 1, INT_MAX)) < 0)
				return 2;
			srv.token_ttl = v;
			break;
		case 'T':
			if ((v = num_arg("--shutdown-timeout", optarg, 0, INT_MAX)) < 0)
				return 2;
			srv.shutdown_timeout = v;
			break;
		case 'm':
			if ((host_mem = num_arg("--host-memory", optarg, 0, LONG_MAX)) < 0)
				return 2;
			break;
		case 'G':
			host_cpus = strtol(optarg, &end, 10);
			if (*end || host_cpus < 1 || host_cpus > 4096) {
				fprintf(stderr, "vsrv serve: --host-cpus wants 1 to 4096\n");
				return 2;
			}
			break;
		case 'u': run_as = optarg; break;
		case 'R':
			if (parse_age(optarg, &ev_age)) {
				fprintf(stderr, "vsrv serve: --event-retention wants N[smhd], not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'E':
			ev_max = strtoll(optarg, &end, 10);
			if (*end || end == optarg || ev_max < 0) {
				fprintf(stderr, "vsrv serve: --event-max wants a count, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'C':
			if ((v = num_arg("--max-connections", optarg, 1, 100000)) < 0)
				return 2;
			hc.max_conns = v;
			break;
		case 'P':
			if ((v = num_arg("--max-connections-per-address", optarg, 0, 100000)) < 0)
				return 2;
			hc.max_per_addr = v;
			break;
		case 'Q':
			if ((v = num_arg("--request-timeout", optarg, 1, 3600)) < 0)
				return 2;
			hc.request_timeout = v;
			break;
		case 'O':
			srv.disk_overcommit = strtod(optarg, &end);
			if (*end || end == optarg || !(srv.disk_overcommit >= 0 && srv.disk_overcommit <= 1e6)) {
				fprintf(stderr, "vsrv serve: --disk-overcommit wants a ratio (1: none; "
					"0: no check), not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'I':
			if (size_parse(optarg, &image_max) || !image_max) {
				fprintf(stderr, "vsrv serve: --image-max-size wants a size (a number with "
					"an optional K, M, G or T), not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'Z':
			if (quota_parse_text(optarg, &default_quota, sub, sizeof(sub))) {
				fprintf(stderr, "vsrv serve: --default-quota: %s\n", sub);
				return 2;
			}
			srv.default_quota = &default_quota;
			break;
		case 'K': cluster = optarg; break;
		case 'H': host_name = optarg; break;
		case 'U': host_url = optarg; break;
		case 'L':
			if ((cluster_ttl = num_arg("--cluster-ttl", optarg, 3, 300)) < 0)
				return 2;
			break;
		case 'i': inventory = optarg; break;
		case 'p': inv_prefix = optarg; break;
		case 'M': import_inv = true; break;
		case 'h': serve_usage(stdout); return 0;
		default:
			fprintf(stderr, o == ':' ? "vsrv serve: option '%s' needs a value (see vsrv "
				"serve --help)\n" : "vsrv serve: unknown option '%s' (see vsrv serve "
				"--help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc || !!hc.tls_cert != !!hc.tls_key || srv.token_ttl < 1 ||
	    (init_admin && init_admin_file)) {
		fprintf(stderr, "vsrv serve: %s\n", optind != argc ? "unexpected arguments" :
			srv.token_ttl < 1 ? "--token-ttl is at least 1 second" :
			init_admin_file ? "--init-admin and --init-admin-file exclude each other" :
			"--tls-cert and --tls-key go together");
		return 2;
	}
	if (!cluster && (host_name || host_url)) {
		fprintf(stderr, "vsrv serve: --host-name and --host-url are for --cluster\n");
		return 2;
	}
	inv_default = !inventory;
	if (!inventory)
		inventory = cluster ? "etcd" : "sqlite";
	if (strcmp(inventory, "sqlite") && strcmp(inventory, "etcd")) {
		fprintf(stderr, "vsrv serve: --inventory is sqlite or etcd, not '%s'\n", inventory);
		return 2;
	}
	if (!strcmp(inventory, "etcd") && !cluster) {
		fprintf(stderr, "vsrv serve: --inventory etcd needs --cluster (its etcd members)\n");
		return 2;
	}
	if (import_inv && strcmp(inventory, "etcd")) {
		fprintf(stderr, "vsrv serve: --import-inventory is for --inventory etcd\n");
		return 2;
	}
	if (inv_prefix && strcmp(inventory, "etcd")) {
		fprintf(stderr, "vsrv serve: --inventory-prefix is for --inventory etcd\n");
		return 2;
	}
	if (inv_prefix && (inv_prefix[0] != '/' || strlen(inv_prefix) > 200)) {
		fprintf(stderr, "vsrv serve: --inventory-prefix wants a key prefix starting with /, "
			"of at most 200 bytes\n");
		return 2;
	}
	if (cluster && !host_url && !hc.listen) {
		fprintf(stderr, "vsrv serve: --cluster with --no-tcp needs --host-url\n");
		return 2;
	}
	if (init_admin || init_admin_file) {
		rc = init_admin_spec(init_admin, init_admin_file, admin_spec, sizeof(admin_spec));
		if (rc) {
			fprintf(stderr, "vsrv serve: cannot read the administrator from %s: %s\n",
				init_admin_file ? init_admin_file : "standard input", strerror(-rc));
			return 1;
		}
		init_admin = admin_spec;
	}
	v = default_max_conns();    /* raises the open-files limit too */
	if (!hc.max_conns)
		hc.max_conns = v;
	rc = mkdirs(data);
	if (rc || !realpath(data, real)) {
		fprintf(stderr, "vsrv serve: cannot create %s: %s\n", data, strerror(rc ? -rc : errno));
		return 1;
	}
	rc = data_dir_secure(real);
	if (rc) {
		fprintf(stderr, "vsrv serve: cannot restrict %s to its owner: %s\n", real, strerror(-rc));
		return 1;
	}
	srv.data_dir = real;
	/* One daemon per data directory: a second one would fight over the VMs. */
	snprintf(sub, sizeof(sub), "%s/serve.lock", real);
	lockfd = open(sub, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "vsrv serve: %s is in use by another vsrv serve\n", real);
		return 1;
	}
	snprintf(sub, sizeof(sub), "%s/vms", real);
	mkdir(sub, 0700);
	snprintf(sub, sizeof(sub), "%s/disks", real);
	mkdir(sub, 0700);
	snprintf(srv.images_dir, sizeof(srv.images_dir), "%.4080s/images", real);
	mkdir(srv.images_dir, 0700);
	rc = imgstore_create(srv.images_dir, image_max, &srv.images);
	if (rc) {
		fprintf(stderr, "vsrv serve: cannot open the image store %s: %s\n", srv.images_dir,
			strerror(-rc));
		return 1;
	}
	if (!hc.socket_path) {
		snprintf(sock, sizeof(sock), "%s/vsrv.sock", real);
		hc.socket_path = sock;
	}
	if (!vmm) {
		if (default_vmm(vmmbuf, sizeof(vmmbuf))) {
			fprintf(stderr, "vsrv serve: cannot find the vsrv binary; use --vmm\n");
			return 1;
		}
		vmm = vmmbuf;
	}
	if (access(vmm, X_OK) < 0) {
		fprintf(stderr, "vsrv serve: %s is not executable (--vmm)\n", vmm);
		return 1;
	}
	srv.vmm_path = (char *)vmm;
	if (runas_resolve(run_as, run_as_name, sizeof(run_as_name)))
		return 1;
	srv.run_as = run_as_name[0] ? run_as_name : NULL;
	if (srv.run_as && getpwnam(srv.run_as) && getpwnam(srv.run_as)->pw_uid != getuid()) {
		rc = images_share(real, srv.images_dir, srv.run_as);
		if (rc) {
			fprintf(stderr, "vsrv serve: cannot let %s read %s: %s\n", srv.run_as,
				srv.images_dir, strerror(-rc));
			return 1;
		}
	}
	srv.openapi = (char *)vsrv_openapi;
	srv.openapi_len = vsrv_openapi_end - vsrv_openapi;
	srv.host_cpus = host_cpus ? host_cpus : sysconf(_SC_NPROCESSORS_ONLN);
	srv.host_mem_mib = host_mem >= 0 ? (uint64_t)host_mem :
			   (mem_total_mib() > 1024 ? mem_total_mib() - 512 : mem_total_mib() / 2);

	/* Signals are taken by sigwait below; every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!strcmp(inventory, "etcd")) {
		/* the inventory's etcd calls use curl (safe: no other thread runs yet) */
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = inv_etcd_open(cluster, inv_prefix, INV_ETCD_TIMEOUT_MS, &srv.db);
		if (rc) {
			fprintf(stderr, "vsrv serve: cannot open the inventory on etcd %s: %s\n",
				cluster, strerror(-rc));
			return 1;
		}
		if (import_inv ? serve_import(&srv, real) : inv_default && serve_own_inventory(real))
			goto out_db;
	} else {
		snprintf(dbpath, sizeof(dbpath), "%s/inventory.db", real);
		rc = inv_open(dbpath, &srv.db);
		if (rc) {
			fprintf(stderr, "vsrv serve: cannot open the inventory %s\n", dbpath);
			return 1;
		}
	}
	c = inv_get(srv.db);
	rc = c ? auth_init_admin(c, init_admin) : -EIO;
	explicit_bzero(admin_spec, sizeof(admin_spec));
	if (c)
		inv_put(c);
	if (rc) {
		fprintf(stderr, "vsrv serve: cannot create the administrator: %s\n",
			rc == -EINVAL ? "--init-admin wants USER:PASSWORD (or USER:- and the password on "
			"standard input) with a valid user name" :
			strerror(-rc));
		goto out_db;
	}
	if (events_create(&srv.ev) || metrics_create(api_nroutes(), api_route_name, &srv.metrics) ||
	    throttle_create(&srv.throttle))
		goto out_ev;
	events_set_retention(srv.ev, ev_age, ev_max);
	curl_global_init(CURL_GLOBAL_DEFAULT);   /* webhooks; before any thread uses curl */
	if (hooks_create(&srv, &srv.hooks))
		goto out_ev;
	if (agent_svc_create(&srv.agent))
		goto out_hooks;
	if (sup_create(&srv, &srv.sup))
		goto out_agent;
	/* quota decisions count the undo disks of the running VMs as they are (sup.h) */
	inv_set_usage_extra(srv.db, sup_undo_unrecorded, &srv);
	if (cluster) {
		struct cluster_config cc = {
			.endpoints = cluster, .ttl = (unsigned)cluster_ttl, .cpus = srv.host_cpus,
			.memory_mib = srv.host_mem_mib, .free_mib = cluster_free_mib,
			.fence = cluster_fence, .facts = placement_facts, .arg = &srv,
		};

		if (!host_name) {
			if (gethostname(host_buf, sizeof(host_buf)) < 0)
				snprintf(host_buf, sizeof(host_buf), "localhost");
			host_buf[strcspn(host_buf, ".")] = '\0';
			host_name = host_buf;
		}
		if (!host_url) {
			snprintf(url_buf, sizeof(url_buf), "%s://%s", hc.tls_cert ? "https" : "http",
				 hc.listen);
			host_url = url_buf;
		}
		cc.name = host_name;
		cc.api_url = host_url;
		if (!strcmp(inventory, "etcd")) {
			/* every host sees every VM: the dead hosts' VMs can be restarted here */
			cc.vm_need = sup_cluster_need;
			cc.vm_take = sup_cluster_take;
			cc.inventory = inv_prefix ? inv_prefix : "/vsrv/inv/";
		}
		snprintf(sub, sizeof(sub), "%s/cluster.lease", real);
		cc.lease_file = sub;
		snprintf(deadline_path, sizeof(deadline_path), "%s/cluster.deadline", real);
		cc.deadline_file = deadline_path;
		rc = cluster_start(&cc, &srv.cluster);
		if (rc) {
			fprintf(stderr, "vsrv serve: cannot join the cluster %s: %s\n", cluster,
				strerror(-rc));
			goto out_sup;
		}
	}
	/* Tasks of a previous daemon died with it (their work can be retried); in a cluster,
	 * this host's only (its name is known now). */
	c = inv_get(srv.db);
	if (c && tasks_recover(&srv, c) > 0)
		vsrv_log("tasks left running by the previous daemon are marked failed");
	/* and the live snapshots' claims it held (snaplive.h) */
	if (snaplive_sweep(&srv) > 0)
		vsrv_log("live snapshots' claims left by the previous daemon are dropped");
	/* images rows without their file (an upload a crash cut holds its owner's quota); a
	 * host's own SQLite inventory keeps no hosts in its rows: all of them are this host's */
	if (c && imgacl_sweep(c, srv.images, srv.cluster && strcmp(inv_backend(srv.db), "sqlite") ?
			      cluster_name(srv.cluster) : NULL))
		vsrv_log("image store: the rows of images without a file were not all released");
	if (c)
		inv_put(c);
	sup_reattach(&srv);
	sup_cluster_adopt(&srv);
	rc = http_start(&srv, &hc, &http);
	if (rc) {
		http_failed = true;
		goto out_cluster;
	}
	c = inv_get(srv.db);
	if (c) {
		events_emit(&srv, c, "server-started", "server", NULL, NULL, NULL,
			    "server started (data %s)", real);
		inv_put(c);
	}
	vsrv_log("serving %s%s%s%s (data %s)", hc.socket_path, hc.listen ? " and " : "",
		 hc.listen ? (hc.tls_cert ? "https://" : "http://") : "", hc.listen ? hc.listen : "", real);
	fflush(stdout);
	do {
		if (sigwait(&set, &sig))
			break;
	} while (sig == SIGHUP);
	vsrv_log("signal %d: stopping (%s)", sig, srv.cluster ? "in a cluster its VMs stop" :
		 "VMs keep running");
	ret = 0;
	if (srv.cluster) {
		/* Nothing would fence them once the lease is gone: in a cluster the VMs stop with
		 * the daemon, before their ownership keys go with its lease (the supervisor still
		 * runs to record their ends). */
		int n = sup_fence(&srv, "the daemon stops", 5000, true);

		if (n)
			vsrv_log("cluster: %d VM(s) turned off: the daemon stops", n);
	}
	srv.stopping = true;
	http_stop(http);
	http = NULL;
out_cluster:
	if (srv.cluster && http_failed)
		sup_fence(&srv, "the daemon could not start", 5000, true);
	cluster_stop(srv.cluster);
out_sup:
	inv_set_usage_extra(srv.db, NULL, NULL);
	sup_destroy(srv.sup);
out_agent:
	agent_svc_destroy(srv.agent);
out_hooks:
	hooks_destroy(srv.hooks);
out_ev:
	throttle_destroy(srv.throttle);
	metrics_destroy(srv.metrics);
	events_destroy(srv.ev);
out_db:
	inv_close(srv.db);
	return ret;
}
