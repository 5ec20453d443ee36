"""Helpers for the server's black-box tests: a daemon on a temporary data directory and
an HTTP client over TCP or the Unix socket. Every answer Daemon.req() gets is checked
against docs/api.yaml (openapi_check.py): a mismatch is a FAIL line "openapi ..."."""
import atexit, base64, hashlib, http.client, json, os, re, signal, socket, sqlite3, subprocess, sys, threading, time
import urllib.request

import openapi_check

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VSRV = os.path.join(ROOT, "build", "vsrv")
GUESTS = os.path.join(ROOT, "build", "guests")
fails = 0


def ok(name, cond, why="failed"):
    global fails
    if cond:
        print("PASS", name, flush=True)
    else:
        fails += 1
        print("FAIL %s: %s" % (name, why), flush=True)
    return cond


def skip(name, why):
    print("SKIP %s: %s" % (name, why), flush=True)


def have_kvm():
    return os.access("/dev/kvm", os.R_OK | os.W_OK) and os.path.exists(os.path.join(GUESTS, "hello.elf"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


# VSRV_TEST_INVENTORY=etcd: every Daemon keeps its inventory in etcd (`vsrv serve --cluster
# EP --inventory etcd`) instead of DATA/inventory.db: one etcd member for the whole test
# process (VSRV_TEST_ETCD=URL: one already running), a key prefix and a host name per data
# directory, so that a daemon restarted on the same directory finds the same inventory, as
# it finds the same SQLite file. VSRV_TEST_LOG_DIR=DIR: the daemons' logs go there (the
# runner tests/t-server-inv-etcd.sh reads them after the test removed its data).
INVENTORY = os.environ.get("VSRV_TEST_INVENTORY", "sqlite")
_etcd = None


def test_etcd():
    """The endpoint of the etcd member of this test process (started on first use)."""
    global _etcd
    if os.environ.get("VSRV_TEST_ETCD"):
        return os.environ["VSRV_TEST_ETCD"]
    if _etcd is None:
        from etcd_cluster import EtcdCluster
        _etcd = EtcdCluster(1).start()
    return _etcd.endpoints


# SQL that takes a SQLite inventory back from migrations 14 and 15 (quotas, owners and their
# triggers; 15: images' owners): for tests that make an older inventory and see it migrated
UNDO_MIGRATIONS_14_15 = ("DROP TRIGGER IF EXISTS vms_owner; DROP TRIGGER IF EXISTS disks_owner; "
                         "DROP TRIGGER IF EXISTS users_owner; DROP TABLE IF EXISTS owners; "
                         "DROP TABLE IF EXISTS quotas; DROP TABLE IF EXISTS images; ")


def inventory_args(data, extra):
    """The options that put a daemon of data on the etcd inventory (none for SQLite, or
    when the test gives --cluster itself)."""
    if INVENTORY != "etcd" or "--cluster" in extra:
        return []
    h = hashlib.sha1(os.path.abspath(data).encode()).hexdigest()[:12]
    return ["--cluster", test_etcd(), "--inventory", "etcd",
            "--inventory-prefix", inventory_prefix(data), "--host-name", "t-" + h]


def inventory_prefix(data):
    """The etcd inventory's key prefix of the daemons of data (inventory_args)."""
    return "/vsrv-test/inv/%s/" % hashlib.sha1(os.path.abspath(data).encode()).hexdigest()[:12]


def etcd_rows(data, table, key_prefix=""):
    """The rows PREFIX t/TABLE/KEY_PREFIX... of the etcd inventory of data, in key order,
    as (KEY, row) (docs/cluster.md)."""
    p = inventory_prefix(data) + "t/%s/%s" % (table, key_prefix)
    end = p[:-1] + chr(ord(p[-1]) + 1)
    body = json.dumps({"key": base64.b64encode(p.encode()).decode(),
                       "range_end": base64.b64encode(end.encode()).decode()}).encode()
    with urllib.request.urlopen(urllib.request.Request(
            test_etcd().split(",")[0] + "/v3/kv/range", body), timeout=10) as r:
        kvs = json.loads(r.read()).get("kvs", [])
    key = len(inventory_prefix(data) + "t/%s/" % table)
    return [(base64.b64decode(kv["key"]).decode()[key:],
             json.loads(base64.b64decode(kv.get("value", "")).decode())) for kv in kvs]


def vm_id(data, name):
    """The id of VM name in the inventory of the daemons of data, whatever the backend."""
    if INVENTORY == "etcd":
        return next(r["id"] for _, r in etcd_rows(data, "vms") if r.get("name") == name)
    c = sqlite3.connect("file:%s?mode=ro" % os.path.join(data, "inventory.db"), uri=True)
    try:
        return c.execute("SELECT id FROM vms WHERE name = ?", (name,)).fetchone()[0]
    finally:
        c.close()


def sqlite_only(name):
    """Whether the test's check name may look into DATA/inventory.db (the SQLite
    inventory); on etcd it is a SKIP line."""
    if INVENTORY == "sqlite":
        return True
    skip(name, "looks into the SQLite inventory (VSRV_TEST_INVENTORY=%s)" % INVENTORY)
    return False


class Daemon:
    """kvm: the device the daemon's starts check for KVM (VSRV_TEST_KVM, src/server/hostkvm.h).
    By default /dev/null, a character device every host has: the tests' VMMs that need no KVM
    (sleep scripts, shims) start on a host without /dev/kvm as on one with it, and a real
    VMM there still fails as it does in the tests of a VMM's crash. "/dev/kvm" checks the
    real one, as a server does; a path that is not there stands for a host without KVM."""
    def __init__(self, data, port=None, extra=(), admin="admin:adminpass1", kvm="/dev/null"):
        self.data = data
        self.port = port or free_port()
        self.extra = list(extra)
        self.admin = admin
        self.kvm = kvm
        self.proc = None

    def start(self, wait=True):
        os.makedirs(self.data, exist_ok=True)
        logdir = os.environ.get("VSRV_TEST_LOG_DIR")
        if logdir:
            h = hashlib.sha1(os.path.abspath(self.data).encode()).hexdigest()[:12]
            self.log = open(os.path.join(logdir, "daemon-%s.log" % h), "a")
        else:
            self.log = open(os.path.join(self.data, "daemon.log"), "a")
        args = [VSRV, "serve", "--data-dir", self.data, "--listen", "127.0.0.1:%d" % self.port,
                "--init-admin", self.admin] + self.extra + inventory_args(self.data, self.extra)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log,
                                     env=dict(os.environ, VSRV_TEST_KVM=self.kvm))
        if wait:
            for _ in range(200):
                try:
                    if self.req("GET", "/api/v1/health")[0] == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.025)
            raise RuntimeError("daemon did not come up")
        return self

    def stop(self, sig=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None

    def sock(self):
        return os.path.join(self.data, "vsrv.sock")

    def conn(self, unix=False, timeout=30):
        if unix:
            return UnixHTTP(self.sock(), timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def req(self, method, path, body=None, token=None, unix=False, raw=None, headers=None):
        c = self.conn(unix)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read()
        c.close()
        check_answer(method, path, r.status, r.getheader("Content-Type"), text)
        try:
            js = json.loads(text) if text else None
        except ValueError:
            js = text
        return r.status, js

    def login(self, user, pw):
        st, js = self.req("POST", "/api/v1/login", {"user": user, "password": pw})
        if st != 200:
            raise RuntimeError("login %s: %s %s" % (user, st, js))
        return js["token"]

    def wait_state(self, tok, name, states, timeout=10):
        end = time.time() + timeout
        st = None
        while time.time() < end:
            st, js = self.req("GET", "/api/v1/vms/%s/status" % name, token=tok)
            if st == 200 and js["state"] in states:
                return js
            time.sleep(0.05)
        return None


_mismatches = set()


def check_answer(method, path, status, content_type, text):
    """Check one answer against docs/api.yaml; each distinct mismatch is one FAIL line."""
    for m in openapi_check.check(method, path, status, content_type, text):
        if m not in _mismatches:
            _mismatches.add(m)
            op, why = m.split(": ", 1) if ": " in m else (m, "")
            ok("openapi " + op, False, why + "  (request %s %s)" % (method, path))


@atexit.register
def _openapi_summary():
    d = openapi_check._doc
    if d and d.answers and not _mismatches:
        ok("openapi-answers-match-document", True)
        print("# %d answers checked against docs/api.yaml, %d operation/status pairs"
              % (d.answers, len(d.checked)), flush=True)


def race(a, b):
    """Run the callables a and b at once (both released by one barrier); their results."""
    out = [None, None]
    bar = threading.Barrier(2)

    def run(i, f):
        bar.wait()
        out[i] = f()
    ts = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate((a, b))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def wait_for(fn, timeout=10, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return None


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def vmm_shim(tmp):
    """A `vsrv` in front of the real one that records each argv it gets (for a daemon's
    --vmm), so tests see the VMM command line the supervisor builds. Returns (shim path,
    argvs): argvs() is every `vsrv run` argv recorded so far, as lists of strings."""
    log = os.path.join(tmp, "argv.log")
    shim = os.path.join(tmp, "vsrv-shim")
    with open(shim, "w") as f:
        f.write("#!/bin/sh\nprintf '%%s\\0' \"$@\" >> %s\nprintf '\\n' >> %s\nexec %s \"$@\"\n"
                % (log, log, VSRV))
    os.chmod(shim, 0o755)

    def argvs():
        try:
            raw = open(log, "rb").read()
        except FileNotFoundError:
            return []
        out = []
        for line in raw.split(b"\n"):
            a = [x.decode() for x in line.split(b"\0")[:-1]]
            if a and a[0] == "run":
                out.append(a)
        return out
    return shim, argvs


def err_message(js):
    """The message of an API error body, or the body as text."""
    return (js or {}).get("error", {}).get("message", "") if isinstance(js, dict) else str(js)


def log_of(d):
    """Daemon d's log (DATA/daemon.log) so far."""
    with open(os.path.join(d.data, "daemon.log"), errors="replace") as f:
        return f.read()


def kill_host(d):
    """kill -9 daemon d and every process left of it (its VMs' monitors and VMMs: their
    command lines name its data directory)."""
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    d.proc = None
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read().decode(errors="replace")
        except OSError:
            continue
        if d.data + "/" in cmd.replace("\0", " "):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def logged_count(d, what, method, path):
    """The count d logged as "WHAT: METHOD path: N" for the last such request (waits for the
    line; None when it never came): VSRV_ETCD_TRACE's "etcd calls", VSRV_INV_TRACE's
    "inventory statements"."""
    pat = re.compile(r"%s: %s %s: (\d+)$" % (re.escape(what), method, re.escape(path)))
    for _ in range(100):
        d.log.flush()
        got = [int(m.group(1)) for m in
               (pat.search(l.rstrip("\n")) for l in open(d.log.name, errors="replace")) if m]
        if got:
            return got[-1]
        time.sleep(0.05)
    return None


def cli(d, tok, *args):
    """`vsrv ARGS` against daemon d with token tok: (exit status, stdout + stderr)."""
    p = subprocess.run([VSRV] + list(args), capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, VSRV_SERVER="http://127.0.0.1:%d" % d.port,
                                VSRV_TOKEN=tok))
    return p.returncode, p.stdout + p.stderr


def task_wait(d, tok, tid, timeout=60):
    """Task tid on daemon d, once it is no longer running (None after timeout s)."""
    def done():
        st, js = d.req("GET", "/api/v1/tasks/%d" % tid, token=tok)
        return js if st == 200 and js["state"] != "running" else None
    return wait_for(done, timeout, 0.1)


def sse_read(sse, until=None):
    """What the event stream sse (an HTTP response) sends: its lines until the regular
    expression until (bytes) matches them, or the stream ends or its socket fails or times
    out (with until given, the error's repr is added, for a failure's message)."""
    buf = b""
    try:
        while until is None or not re.search(until, buf):
            line = sse.fp.readline()
            if not line:
                break
            buf += line
    except OSError as e:
        if until is not None:
            buf += repr(e).encode()
    return buf


def events_of(d, tok, kind):
    """Daemon d's last 1,000 events of type kind that tok may see."""
    st, js = d.req("GET", "/api/v1/events?limit=1000", token=tok)
    return [e for e in (js or {}).get("events", []) if e["type"] == kind]


def savecount_steps(text):
    """The step numbers guests/savecount.elf printed in text (a console's output)."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return [int(m) for m in re.findall(r"savecount: step (\d+) of", str(text))]


def console_steps(d, tok, vm):
    """The savecount steps in VM vm's console on daemon d, as the API gives it."""
    return savecount_steps(d.req("GET", "/api/v1/vms/%s/console" % vm, token=tok)[1])


def new_user(d, tok, name):
    """Create user name (password "Password-NAME") on daemon d as tok; its login token."""
    st, js = d.req("POST", "/api/v1/users", {"name": name, "password": "Password-" + name},
                   token=tok)
    if st != 201:
        raise RuntimeError("user %s: %s %s" % (name, st, js))
    return d.login(name, "Password-" + name)
