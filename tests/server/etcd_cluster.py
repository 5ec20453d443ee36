"""A real local etcd cluster for the server's tests (the C unit tests have the same in
tests/unit/etcdrig.h): N members of /usr/bin/etcd on free ports of 127.0.0.1, data in a
temporary directory, killed and removed by stop() (and at exit); a small client of the
v3 JSON gateway (base64 keys and values); and a TCP proxy that can be cut, to take one
vsrv host off etcd while the cluster itself goes on.

    c = EtcdCluster(3).start()      # raises Unavailable when etcd is not installed
    c.endpoints                     # "http://127.0.0.1:P1,..."
    c.put("/k", "v", lease=c.grant(5)); c.get("/k"); c.kill(0); c.stop()
"""
import atexit, base64, ctypes, http.client, json, os, shutil, signal, socket, subprocess, tempfile, threading, time

from lib import free_port

ETCD = "/usr/bin/etcd"


class Unavailable(Exception):
    pass


def _die_with_parent():
    """In the child before exec: SIGKILL when the test process dies, even by SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except OSError:
        pass


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def unb64(s):
    return base64.b64decode(s).decode(errors="replace")


class EtcdCluster:
    _all = []

    def __init__(self, n=3):
        self.n = n
        self.procs = [None] * n
        self.cports = [free_port() for _ in range(n)]
        self.pports = [free_port() for _ in range(n)]
        self.dir = None

    @property
    def endpoints(self):
        return ",".join("http://127.0.0.1:%d" % p for p in self.cports)

    def endpoint(self, i):
        return "http://127.0.0.1:%d" % self.cports[i]

    def start(self, timeout=30):
        if not os.access(ETCD, os.X_OK):
            raise Unavailable("%s is not installed (etcd-server)" % ETCD)
        self.dir = tempfile.mkdtemp(prefix="vsrv-etcd.")
        cluster = ",".join("m%d=http://127.0.0.1:%d" % (i, p) for i, p in enumerate(self.pports))
        EtcdCluster._all.append(self)
        for i in range(self.n):
            curl, purl = self.endpoint(i), "http://127.0.0.1:%d" % self.pports[i]
            log = open(os.path.join(self.dir, "m%d.log" % i), "w")
            self.procs[i] = subprocess.Popen(
                [ETCD, "--name", "m%d" % i, "--data-dir", os.path.join(self.dir, "m%d" % i),
                 "--listen-client-urls", curl, "--advertise-client-urls", curl,
                 "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
                 "--initial-cluster", cluster, "--initial-cluster-state", "new",
                 "--initial-cluster-token", self.dir], stdout=log, stderr=log,
                preexec_fn=_die_with_parent)
            log.close()
        end = time.time() + timeout
        while time.time() < end:
            try:
                self.put("/vsrv-test/up", "1")
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("etcd cluster did not come up")

    def kill(self, i):
        p = self.procs[i]
        if p and p.poll() is None:
            p.kill()
            p.wait(10)
        self.procs[i] = None

    def stop(self):
        for i in range(self.n):
            self.kill(i)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # --- the JSON gateway, on the first live member ---------------------------------------
    def call(self, path, body, timeout=5):
        err = None
        for i in range(self.n):
            if not self.procs[i]:
                continue
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.cports[i], timeout=timeout)
                c.request("POST", path, body=json.dumps(body))
                r = c.getresponse()
                text = r.read()
                c.close()
                js = json.loads(text)
                if r.status != 200:
                    raise OSError("etcd %s: %s" % (path, js))
                return js
            except (OSError, ValueError) as e:
                err = e
        raise OSError("no etcd member answered %s: %s" % (path, err))

    def leader(self):
        """The index of the member that leads now (asked of each live member)."""
        ids = {}
        lead = None
        for i in range(self.n):
            if not self.procs[i]:
                continue
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.cports[i], timeout=3)
                c.request("POST", "/v3/maintenance/status", body="{}")
                js = json.loads(c.getresponse().read())
                c.close()
            except (OSError, ValueError):
                continue
            ids[js["header"]["member_id"]] = i
            lead = js.get("leader", lead)
        return ids.get(lead)

    def put(self, key, value, lease=0):
        body = {"key": b64(key), "value": b64(value)}
        if lease:
            body["lease"] = str(lease)
        return int(self.call("/v3/kv/put", body)["header"]["revision"])

    def get(self, key):
        """(value, lease) of key, or None."""
        kvs = self.call("/v3/kv/range", {"key": b64(key)}).get("kvs")
        if not kvs:
            return None
        return unb64(kvs[0].get("value", "")), int(kvs[0].get("lease", 0))

    def revision(self):
        return int(self.call("/v3/kv/range", {"key": b64("/")})["header"]["revision"])

    def grant(self, ttl):
        return int(self.call("/v3/lease/grant", {"TTL": ttl})["ID"])

    def revoke(self, lease):
        self.call("/v3/lease/revoke", {"ID": str(lease)})

    def history(self, key, since_rev, wait=2.0):
        """The changes of key from revision since_rev, as [("PUT"|"DELETE", value)]."""
        return self.histories(key, since_rev, wait, prefix=False).get(key, [])

    def histories(self, key, since_rev, wait=2.0, prefix=True):
        """The changes from revision since_rev of every key starting with key (prefix) or of
        key alone, as {key: [("PUT"|"DELETE", value)]}: one watch, one wait of `wait` s of
        silence for all the keys (history() per key costs that wait each time)."""
        out = {}
        s = socket.create_connection(("127.0.0.1", self.cports[[i for i in range(self.n)
                                                                 if self.procs[i]][0]]))
        s.settimeout(wait)
        req = {"key": b64(key), "start_revision": str(since_rev)}
        if prefix:
            end = bytearray(key.encode())
            end[-1] += 1
            req["range_end"] = base64.b64encode(bytes(end)).decode()
        body = json.dumps({"create_request": req})
        s.sendall(("POST /v3/watch HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                   % (len(body), body)).encode())
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        s.close()
        for line in data.split(b"\n"):
            line = line.strip()
            if not line.startswith(b"{"):
                continue
            try:
                m = json.loads(line)
            except ValueError:
                continue
            for e in m.get("result", {}).get("events", []):
                out.setdefault(unb64(e["kv"]["key"]), []).append(
                    (e.get("type", "PUT"), unb64(e["kv"].get("value", ""))))
        return out


def stop_hosts(daemons, tmp=None):
    """A cluster test's end: stop its daemons (each whatever the others do), every etcd
    cluster it started, and remove tmp (when given)."""
    for d in daemons:
        try:
            d.stop()
        except Exception as e:
            print("# stop:", e)
    for cl in list(EtcdCluster._all):
        cl.stop()
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


@atexit.register
def _stop_all():
    for c in EtcdCluster._all:
        c.stop()


class Proxy:
    """TCP forwarding from a free port to target_port; cut() makes it a black hole (the
    connections stay open but nothing passes: the client sees timeouts, like a link that
    went down), mend() forwards again."""

    def __init__(self, target_port):
        self.target = target_port
        self.port = free_port()
        self.cut_now = False
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", self.port))
        self.ls.listen(64)
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            if self.cut_now:
                threading.Thread(target=self._hole, args=(c,), daemon=True).start()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                c.close()
                continue
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _hole(self, c):
        c.settimeout(0.2)
        while not self.stopped:
            try:
                if not c.recv(65536):
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        c.close()

    def _pipe(self, a, b):
        a.settimeout(0.2)
        while not self.stopped:
            try:
                d = a.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not d or self.cut_now:
                break
            try:
                b.sendall(d)
            except OSError:
                break
        if self.cut_now:
            self._hole(a)           # the link is down: what was open hangs
        for s in (a, b):
            try:
                s.close()
            except OSError:
                pass

    def cut(self):
        self.cut_now = True

    def mend(self):
        self.cut_now = False

    def stop(self):
        self.stopped = True
        self.ls.close()
