"""Black-box tests of the server's abuse limits (issue 10, items 8 to 12): login
throttling and event retention, connection limits and slow clients, secrets off the
command line and a private data directory, disk-space admission and logins on a full
disk."""
import json, os, resource, shutil, socket, stat, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *

tmp = tempfile.mkdtemp(prefix="vsrv-abuse.")


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def serve(data, extra=(), stdin=None, port=None):
    """A daemon started by hand (not lib.Daemon: these tests choose how the administrator
    is given). Returns (process, port) once /api/v1/health answers."""
    port = port or free_port()
    log = open(os.path.join(tmp, os.path.basename(data) + ".log"), "a")
    p = subprocess.Popen([VSRV, "serve", "--data-dir", data, "--listen", "127.0.0.1:%d" % port] + list(extra),
                         stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                         stdout=log, stderr=log)
    if stdin is not None:
        p.stdin.write(stdin.encode())
        p.stdin.close()
    d = Daemon(data, port)
    for _ in range(400):
        try:
            if d.req("GET", "/api/v1/health")[0] == 200:
                return p, d
        except OSError:
            pass
        if p.poll() is not None:
            break
        time.sleep(0.025)
    p.kill()
    p.wait()
    raise RuntimeError("daemon on %s did not come up" % data)


def stop(p):
    if p.poll() is None:
        p.terminate()
        p.wait(10)


def req_from(d, src, method, path, body=None, token=None):
    """A request to d from the loopback address src (127.0.0.x). Returns (status, json, headers)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30, source_address=(src, 0))
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = c.getresponse()
    text = r.read()
    c.close()
    try:
        js = json.loads(text) if text else None
    except ValueError:
        js = text
    return r.status, js, r


def metric(d, tok, name):
    st, text = d.req("GET", "/metrics", token=tok)
    for line in (text or b"").decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def login_throttle():
    # --- item 8: failed logins back off, per user and per address ---------------------
    d = Daemon(os.path.join(tmp, "throttle")).start()
    try:
        adm = d.login("admin", "adminpass1")
        st, _ = d.req("POST", "/api/v1/users", {"name": "victim", "password": "Victim-pass1"}, token=adm)
        # Wrong passwords until refused (a slow machine may let one through after a
        # backoff ran out), then the right password is refused too while it lasts.
        wrong = []
        while len(wrong) < 8 and 429 not in wrong:
            wrong.append(req_from(d, "127.0.0.1", "POST", "/api/v1/login",
                                  {"user": "victim", "password": "guess%d" % len(wrong)})[0])
        st, js, r = req_from(d, "127.0.0.1", "POST", "/api/v1/login", {"user": "victim", "password": "Victim-pass1"})
        ra = int(r.getheader("Retry-After") or 0)
        ok("login-user-throttled", wrong[:5] == [401] * 5 and wrong[-1] == 429 and st == 429 and ra >= 1 and
           js["error"]["code"] == "too_many_requests", str((wrong, st, js, ra)))
        victim_fails = wrong.count(401)
        # Other users (from the same address, below its own limit) are not held back.
        st2 = req_from(d, "127.0.0.1", "POST", "/api/v1/login", {"user": "admin", "password": "adminpass1"})[0]
        ok("login-other-user-not-throttled", st2 == 200, str(st2))
        # After the wait the right password works (no permanent lockout).
        got = None
        for _ in range(5):
            time.sleep(ra)
            got, js, r = req_from(d, "127.0.0.1", "POST", "/api/v1/login", {"user": "victim", "password": "Victim-pass1"})
            if got != 429:
                break
            ra = int(r.getheader("Retry-After") or 1)
        ok("login-after-backoff", got == 200, str((got, js)))
        # One address guessing many user names is throttled as an address: 20 failures,
        # then even a right password from it waits; another address does not.
        sprayed = []
        while len(sprayed) < 25 and 429 not in sprayed:
            sprayed.append(req_from(d, "127.0.0.2", "POST", "/api/v1/login",
                                    {"user": "u%d" % len(sprayed), "password": "x" * 8})[0])
        st, js, r = req_from(d, "127.0.0.2", "POST", "/api/v1/login", {"user": "admin", "password": "adminpass1"})
        st3 = req_from(d, "127.0.0.3", "POST", "/api/v1/login", {"user": "admin", "password": "adminpass1"})[0]
        ok("login-address-throttled", sprayed[:20] == [401] * 20 and sprayed[-1] == 429 and st == 429 and
           r.getheader("Retry-After") and st3 == 200, str((sprayed, st, st3)))
        spray_fails = sprayed.count(401)
        # Hammering while throttled: every attempt 429, none checked or stored.
        fails0 = metric(d, adm, "vsrv_login_failures_total")
        thr0 = metric(d, adm, "vsrv_login_throttled_total")
        ev0 = len([e for e in d.req("GET", "/api/v1/events?limit=1000", token=adm)[1]["events"]
                   if e["type"] == "login-failed"])
        hammer = [req_from(d, "127.0.0.2", "POST", "/api/v1/login", {"user": "u%d" % i, "password": "y" * 8})[0]
                  for i in range(100)]
        fails1 = metric(d, adm, "vsrv_login_failures_total")
        thr1 = metric(d, adm, "vsrv_login_throttled_total")
        ev1 = len([e for e in d.req("GET", "/api/v1/events?limit=1000", token=adm)[1]["events"]
                   if e["type"] == "login-failed"])
        # While the backoff doubles, at most a few attempts get through however slowly
        # the hundred arrive; every other one is refused unchecked and leaves no event.
        ok("login-throttled-unchecked", hammer.count(429) >= 95 and fails1 - fails0 == hammer.count(401)
           and thr1 - thr0 == hammer.count(429) and ev1 - ev0 == fails1 - fails0,
           str((hammer.count(401), fails0, fails1, thr0, thr1, ev0, ev1)))
        ok("login-metrics", fails0 == victim_fails + spray_fails and thr0 >= 2, str((fails0, thr0)))
    finally:
        d.stop()


def event_retention():
    # --- item 8: stored events are pruned by count and by age -------------------------
    d = Daemon(os.path.join(tmp, "retention"), extra=["--event-max", "30", "--event-retention", "3s"]).start()
    try:
        adm = d.login("admin", "adminpass1")
        for i in range(30):
            d.req("POST", "/api/v1/disks", {"name": "e%d" % i, "size": 512}, token=adm)
            d.req("DELETE", "/api/v1/disks/e%d" % i, token=adm)
        evs = d.req("GET", "/api/v1/events?limit=1000", token=adm)[1]["events"]
        ids = sorted(e["id"] for e in evs)
        ok("events-max-count", len(evs) == 30 and ids[-1] - ids[0] == 29 and
           any(e["type"] == "disk-deleted" and e["object"] == "e29" for e in evs), str((len(evs), ids[:3])))
        time.sleep(3.5)
        d.req("POST", "/api/v1/disks", {"name": "late", "size": 512}, token=adm)
        evs = d.req("GET", "/api/v1/events?limit=1000", token=adm)[1]["events"]
        ok("events-max-age", [e["object"] for e in evs] == ["late"], str([(e["type"], e["object"]) for e in evs]))
    finally:
        d.stop()
    r = subprocess.run([VSRV, "serve", "--data-dir", os.path.join(tmp, "x"), "--event-retention", "3w"],
                       capture_output=True, timeout=30)
    ok("events-retention-bad-value", r.returncode == 2 and b"--event-retention" in r.stderr, str(r.stderr))


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def slow_client(port, src, partial=b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n"):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    if partial:
        s.sendall(partial)
    return s


def closed_by_server(s):
    """True when the server closed s (EOF or reset), without waiting."""
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


def health_time(d):
    t0 = time.monotonic()
    try:
        c = d.conn(timeout=5)
        c.request("GET", "/api/v1/health")
        st = c.getresponse().status
        c.close()
    except OSError as e:
        return repr(e), time.monotonic() - t0
    return st, time.monotonic() - t0


def slow_clients():
    # --- item 9: idle and slow clients cannot take the API away -----------------------
    nofile = raise_nofile()
    if nofile < 1400:
        skip("slow-clients-health", "the open-files limit is %d (need 1400)" % nofile)
        return
    # 1,100 clients that send half a request and wait, from 22 loopback addresses (50
    # each, under the per-address limit), beyond the old limit of 1,000 connections.
    d = Daemon(os.path.join(tmp, "slow"), extra=["--request-timeout", "120"]).start()
    socks = []
    try:
        for i in range(1100):
            socks.append(slow_client(d.port, "127.0.0.%d" % (10 + i // 50)))
        st, dt = health_time(d)
        gone = sum(closed_by_server(s) for s in socks)
        ok("slow-clients-health", st == 200 and dt < 1.0 and gone == 0, str((st, dt, gone)))
    finally:
        for s in socks:
            s.close()
        d.stop()
    # Per address: 100 clients from one address, 64 are kept, the rest are turned away.
    d = Daemon(os.path.join(tmp, "peraddr"), extra=["--request-timeout", "120"]).start()
    socks = []
    try:
        for i in range(100):
            socks.append(slow_client(d.port, "127.0.0.40"))
        gone = 0
        end = time.time() + 10
        alive = list(socks)
        while time.time() < end and gone < 36:
            still = []
            for s in alive:
                if closed_by_server(s):
                    gone += 1
                else:
                    still.append(s)
            alive = still
            time.sleep(0.05)
        st, dt = health_time(d)
        ok("slow-clients-per-address", gone == 36 and len(alive) == 64 and st == 200, str((gone, len(alive), st)))
    finally:
        for s in socks:
            s.close()
        d.stop()


def header_deadline():
    # A request must arrive whole within --request-timeout: a client trickling one header
    # byte every 0.2 s and one sending nothing are cut off
    d = Daemon(os.path.join(tmp, "deadline"), extra=["--request-timeout", "3"]).start()
    try:
        drip = slow_client(d.port, "127.0.0.50", partial=b"GET /api/v1/health HTTP/1.1\r\n")
        idle = slow_client(d.port, "127.0.0.51", partial=None)
        t0 = time.monotonic()
        cut = None
        while time.monotonic() - t0 < 30:
            try:
                drip.sendall(b"X")
            except OSError:
                cut = time.monotonic() - t0
                break
            if closed_by_server(drip):
                cut = time.monotonic() - t0
                break
            time.sleep(0.2)
        idle_cut = wait_for(lambda: closed_by_server(idle), timeout=5)
        ok("slow-header-cut-off", cut is not None and cut >= 2.5 and idle_cut, str((cut, idle_cut)))
        drip.close()
        idle.close()
    finally:
        d.stop()


def keepalive_deadline():
    # ... and a keep-alive client whose requests come in time is not
    d = Daemon(os.path.join(tmp, "keepalive"), extra=["--request-timeout", "3"]).start()
    try:
        c = d.conn()
        res = []
        for _ in range(3):
            c.request("GET", "/api/v1/health")
            r = c.getresponse()
            r.read()
            res.append(r.status)
            time.sleep(1)
        c.close()
        ok("keep-alive-in-time-kept", res == [200] * 3, str(res))
    finally:
        d.stop()


def stream_deadline():
    # A response being served has no deadline: an event stream idle for longer than
    # the request timeout still gets the next event.
    d = Daemon(os.path.join(tmp, "stream"), extra=["--request-timeout", "3"]).start()
    try:
        adm = d.login("admin", "adminpass1")
        c = d.conn()
        c.request("GET", "/api/v1/events?follow=1", headers={"Authorization": "Bearer " + adm})
        r = c.getresponse()
        time.sleep(4.5)
        d.req("POST", "/api/v1/disks", {"name": "late-event", "size": 512}, token=adm)
        got = b""
        c.sock.settimeout(10)
        try:
            while b"late-event" not in got:
                chunk = r.read1(4096)
                if not chunk:
                    break
                got += chunk
        except OSError:
            pass
        c.close()
        ok("stream-outlives-request-timeout", b"late-event" in got, got[-200:])
    finally:
        d.stop()


def tls_deadline():
    # Over TLS the handshake is part of the request: a client that connects and never
    # starts it is cut off too.
    if not shutil.which("openssl"):
        skip("tls-silent-client-cut-off", "openssl is not installed")
        return
    crt, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "1", "-subj", "/CN=localhost"], capture_output=True, check=True)
    port = free_port()
    p = subprocess.Popen([VSRV, "serve", "--data-dir", os.path.join(tmp, "tlsdl"), "--listen",
                          "127.0.0.1:%d" % port, "--tls-cert", crt, "--tls-key", key, "--request-timeout", "2",
                          "--init-admin", "admin:adminpass1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        silent = None
        for _ in range(200):
            try:
                silent = slow_client(port, "127.0.0.60", partial=None)
                break
            except OSError:
                time.sleep(0.05)
        t0 = time.monotonic()
        cut = silent is not None and wait_for(lambda: closed_by_server(silent), timeout=20)
        dt = time.monotonic() - t0
        ok("tls-silent-client-cut-off", cut and dt >= 1.5, str((cut, dt)))
        if silent:
            silent.close()
    finally:
        p.terminate()
        p.wait(10)


def small_fs(name, size="20m"):
    """A small filesystem (tmpfs) at tmp/name, or None when this host cannot mount one."""
    path = os.path.join(tmp, name)
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", path], capture_output=True)
    if r.returncode != 0:
        return None
    mounts.append(path)
    return path


def fill(path):
    """Write a file in path until its filesystem is full."""
    with open(os.path.join(path, "filler"), "wb") as f:
        try:
            while True:
                f.write(b"\xff" * 65536)
                f.flush()
        except OSError:
            pass
    try:
        with open(os.path.join(path, "filler2"), "wb") as f:
            while True:
                f.write(b"\xff")
                f.flush()
    except OSError:
        pass


def disk_space():
    # --- item 12: disks are admitted against the free space; logins on a full disk ----
    data = small_fs("small")
    if not data:
        skip("disk-space", "cannot mount a tmpfs here (needs root)")
        return
    d = Daemon(data).start()
    try:
        adm = d.login("admin", "adminpass1")
        st, js = d.req("POST", "/api/v1/disks", {"name": "huge", "size": 1 << 40}, token=adm)
        ok("disk-larger-than-free-space-507", st == 507 and js["error"]["code"] == "insufficient_storage"
           and "free" in js["error"]["message"] and not os.path.exists(os.path.join(data, "disks", "huge.raw")),
           str((st, js)))
        st1, _ = d.req("POST", "/api/v1/disks", {"name": "a", "size": 8 << 20}, token=adm)
        st2, js2 = d.req("POST", "/api/v1/disks", {"name": "b", "size": 16 << 20, "format": "vhd"}, token=adm)
        st3, _ = d.req("POST", "/api/v1/disks", {"name": "c", "size": 4 << 20}, token=adm)
        st4, _ = d.req("PATCH", "/api/v1/disks/a", {"size": 64 << 20}, token=adm)
        st5, _ = d.req("POST", "/api/v1/disks/a/copy", {"name": "a2"}, token=adm)
        ok("disk-promised-space-counted", (st1, st2, st3, st4, st5) == (201, 507, 201, 507, 507),
           str((st1, st2, js2, st3, st4, st5)))
    finally:
        d.stop()
    # The ratio: 1 GiB of sparse disk on 20 MiB with --disk-overcommit 100; 0 turns it off.
    d = Daemon(data, extra=["--disk-overcommit", "100"]).start()
    try:
        adm = d.login("admin", "adminpass1")
        st1, _ = d.req("POST", "/api/v1/disks", {"name": "g", "size": 1 << 30}, token=adm)
        st2, _ = d.req("POST", "/api/v1/disks", {"name": "t", "size": 1 << 40}, token=adm)
        ok("disk-overcommit-ratio", (st1, st2) == (201, 507), str((st1, st2)))
    finally:
        d.stop()
    # A full data filesystem: logging in still works, and the token works; a restarted
    # daemon comes up and lets one log in too.
    d = Daemon(data).start()
    try:
        fill(data)
        st, js = d.req("POST", "/api/v1/login", {"user": "admin", "password": "adminpass1"})
        tok = js.get("token") if st == 200 else None
        st2 = d.req("GET", "/api/v1/whoami", token=tok)[0] if tok else None
        st3 = d.req("GET", "/api/v1/disks", token=tok)[0] if tok else None
        ok("login-on-full-disk", (st, st2, st3) == (200, 200, 200), str((st, js, st2, st3)))
        st4 = d.req("POST", "/api/v1/logout", token=tok)[0] if tok else None
        st5 = d.req("GET", "/api/v1/whoami", token=tok)[0] if tok else None
        ok("logout-on-full-disk", (st4, st5) == (204, 401), str((st4, st5)))
        d.stop()
        d.start()
        st, js = d.req("POST", "/api/v1/login", {"user": "admin", "password": "adminpass1"})
        ok("restart-and-login-on-full-disk", st == 200, str((st, js)))
        # A session kept in memory ends when the password changes, as stored ones do.
        tok = js.get("token") if st == 200 else None
        for f in ("filler", "filler2"):
            os.unlink(os.path.join(data, f))
        st2 = d.req("PATCH", "/api/v1/users/admin", {"password": "adminpass2"}, unix=True)[0]
        st3 = d.req("GET", "/api/v1/whoami", token=tok)[0] if tok else None
        ok("memory-session-ends-with-password", (st2, st3) == (200, 401), str((st2, st3)))
    finally:
        d.stop()


def secrets_and_modes():
    # --- item 10: the administrator's password never on a command line ---------------
    data = os.path.join(tmp, "stdin")
    p, d = serve(data, ["--init-admin", "admin:-"], stdin="Secret-from-stdin\n")
    try:
        cmd = open("/proc/%d/cmdline" % p.pid, "rb").read()
        st, js = d.req("POST", "/api/v1/login", {"user": "admin", "password": "Secret-from-stdin"})
        ok("init-admin-stdin", st == 200 and b"Secret-from-stdin" not in cmd, str((st, js, cmd)))
    finally:
        stop(p)
    data = os.path.join(tmp, "file")
    pwf = os.path.join(tmp, "admin.txt")
    with open(pwf, "w") as f:
        f.write("boss:Secret-from-file\n")
    p, d = serve(data, ["--init-admin-file", pwf])
    try:
        st, js = d.req("POST", "/api/v1/login", {"user": "boss", "password": "Secret-from-file"})
        ok("init-admin-file", st == 200, str((st, js)))
    finally:
        stop(p)
    r = subprocess.run([VSRV, "serve", "--data-dir", os.path.join(tmp, "empty"), "--no-tcp",
                        "--init-admin", "admin:-"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    ok("init-admin-stdin-empty-refused", r.returncode != 0 and b"--init-admin" in r.stderr,
       str((r.returncode, r.stderr)))

    # --- item 10: the data directory is private, whatever existed before -------------
    data = os.path.join(tmp, "modes")
    for sub in ("images", "disks", "vms/7"):
        os.makedirs(os.path.join(data, sub), mode=0o755)
    os.chmod(data, 0o755)
    for f in ("images/k.elf", "disks/old.raw", "vms/7/console.log"):
        with open(os.path.join(data, f), "w") as fh:
            fh.write("x")
        os.chmod(os.path.join(data, f), 0o644)
    os.symlink("/etc/hostname", os.path.join(data, "images", "link"))
    hostname_mode = mode("/etc/hostname")
    d = Daemon(data).start()
    try:
        tok = d.login("admin", "adminpass1")
        st, js = d.req("POST", "/api/v1/disks", {"name": "fresh", "size": 1 << 20}, token=tok)
        st2, js2 = d.req("POST", "/api/v1/disks", {"name": "fv", "size": 1 << 20, "format": "vhd"}, token=tok)
        want = {"": 0o700, "images": 0o700, "disks": 0o700, "vms": 0o700, "vms/7": 0o700,
                "inventory.db": 0o600, "inventory.db-wal": 0o600, "images/k.elf": 0o600,
                "disks/old.raw": 0o600, "vms/7/console.log": 0o600, "disks/fresh.raw": 0o600,
                "disks/fv.vhd": 0o600}
        if INVENTORY != "sqlite":
            del want["inventory.db"], want["inventory.db-wal"]     # in etcd
        if os.getuid() == 0:
            # VMs run as the vsrv user, whose group passes through the data directory and
            # reads the images (a CD/DVD medium changed while a VM runs is opened as it)
            want.update({"": 0o710, "images": 0o2750, "images/k.elf": 0o640})
        got = {k: oct(mode(os.path.join(data, k))) for k in want if os.path.exists(os.path.join(data, k))}
        bad = {k: got.get(k) for k in want if got.get(k) != oct(want[k])}
        ok("data-dir-private", st == 201 and st2 == 201 and not bad, str((st, st2, bad)))
        ok("data-dir-symlink-target-untouched", mode("/etc/hostname") == hostname_mode,
           oct(mode("/etc/hostname")))
    finally:
        d.stop()


class SectionOutput:
    """sys.stdout while sections run at the same time: the lines of the section a thread
    runs go to that section's buffer (printed in the sections' order at the end)."""
    def __init__(self, real):
        self.real = real
        self.buf = {}                # thread id -> the list its section's lines go to

    def write(self, text):
        b = self.buf.get(threading.get_ident())
        if b is None:
            return self.real.write(text)
        b.append(text)
        return len(text)

    def flush(self):
        self.real.flush()


def run_sections(fns, out, bufs):
    for fn in fns:
        out.buf[threading.get_ident()] = bufs[fn]
        try:
            fn()
        except Exception as e:   # a section that cannot run fails as a whole
            ok(fn.__name__, False, "%s: %s" % (type(e).__name__, e))
        finally:
            del out.buf[threading.get_ident()]


mounts = []
sections = [login_throttle, event_retention, slow_clients, header_deadline, keepalive_deadline,
            stream_deadline, tls_deadline, disk_space, secrets_and_modes]
# The sections that mostly wait for the server's timeouts (each with a daemon of its own)
# run beside the others, which run one after the other (some measure the server's answer
# times or count on its login backoff: they get no company but these sleepers).
waiting = [event_retention, header_deadline, keepalive_deadline, stream_deadline, tls_deadline]
out = SectionOutput(sys.stdout)
bufs = {}
try:
    only = os.environ.get("ABUSE_ONLY")
    chosen = [fn for fn in sections if not only or only in fn.__name__]
    bufs = {fn: [] for fn in chosen}
    sys.stdout = out
    threads = [threading.Thread(target=run_sections, args=([fn], out, bufs)) for fn in chosen if fn in waiting]
    threads.append(threading.Thread(target=run_sections, args=([fn for fn in chosen if fn not in waiting],
                                                               out, bufs)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
finally:
    sys.stdout = out.real
    for fn in bufs:
        sys.stdout.write("".join(bufs[fn]))
    sys.stdout.flush()
    for m in mounts:
        subprocess.run(["umount", "-l", m], capture_output=True)
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
