"""Event hooks (see t-server-hooks.sh)."""
import http.server, json, os, shutil, socket, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(__file__))
import lib
from lib import *

got = []


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        got.append((self.path, self.headers.get("Content-Type"), self.headers.get("X-Vsrv-Event"), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=srv.serve_forever, daemon=True).start()
# A server that accepts and never answers: a webhook to it must not slow the API down.
mute = socket.socket()
mute.bind(("127.0.0.1", 0))
mute.listen(16)

tmp = tempfile.mkdtemp(prefix="vsrv-hooks.")
d = Daemon(os.path.join(tmp, "data")).start()
adm = d.login("admin", "adminpass1")
out = os.path.join(tmp, "cmd.out")
try:
    st, js = d.req("POST", "/api/v1/hooks", {"event": "network-created",
                                            "command": 'cat > "%s.tmp"; echo " $VSRV_EVENT_TYPE $VSRV_EVENT_OBJECT" >> "%s.tmp"; mv "%s.tmp" "%s"' % (out, out, out, out)},
                   token=adm)
    ok("hook-command-create", st == 201 and js["event"] == "network-created" and "command" in js and
       js["timeout"] == 5, str((st, js)))
    st, js = d.req("POST", "/api/v1/hooks", {"event": "*", "url": "http://127.0.0.1:%d/ev" % srv.server_port,
                                            "timeout": 2}, token=adm)
    ok("hook-webhook-create", st == 201 and js["url"].endswith("/ev"), str((st, js)))
    wid = js["id"]
    st, js = d.req("POST", "/api/v1/hooks", {"event": "disk-created", "url": "http://127.0.0.1:%d/" %
                                            mute.getsockname()[1], "timeout": 3}, token=adm)
    mid = js["id"]
    bad = [{"event": "x", "command": "true", "url": "http://127.0.0.1/"}, {"event": "x"},
           {"event": "vm-*", "command": "true"}, {"event": "x", "url": "file:///etc/passwd"},
           {"event": "x", "command": ""}, {"event": "x", "command": "true", "timeout": 0},
           {"event": "x", "command": "true", "extra": 1}, {"event": "x\n", "command": "true"}]
    codes = [d.req("POST", "/api/v1/hooks", b, token=adm)[0] for b in bad]
    ok("hook-bad-requests-400", codes == [400] * len(bad), str(codes))
    st, js = d.req("GET", "/api/v1/hooks", token=adm)
    ok("hook-list", st == 200 and len(js["hooks"]) == 3, str(js))
    # The command inherits nothing of the daemon's but its stdin (the event), stdout and
    # stderr: no socket (the etcd client's kept curl handles hold socket pairs of their
    # own, not close-on-exec: libcurl's).
    fds = os.path.join(tmp, "fds.out")
    st, js = d.req("POST", "/api/v1/hooks", {"event": "network-created",
                                            "command": 'ls -l /proc/self/fd > "%s.tmp"; mv "%s.tmp" "%s"' % (fds, fds, fds)},
                   token=adm)
    fds_id = js.get("id")

    st, _ = d.req("POST", "/api/v1/networks", {"name": "hooked", "kind": "internal"}, token=adm)
    wait_for(lambda: os.path.exists(out), 5)
    text = open(out).read() if os.path.exists(out) else ""
    try:
        js = json.JSONDecoder().raw_decode(text)[0]
    except ValueError:
        js = {}
    ok("hook-command-runs", js.get("type") == "network-created" and js.get("object") == "hooked" and
       text.rstrip().endswith(" network-created hooked"), repr(text))
    wait_for(lambda: os.path.exists(fds), 5)
    text = open(fds).read() if os.path.exists(fds) else ""
    ok("hook-command-inherits-no-socket", text and "socket:" not in text, repr(text))
    d.req("DELETE", "/api/v1/hooks/%s" % fds_id, token=adm)
    wait_for(lambda: any(b'"network-created"' in g[3] for g in got), 5)
    hit = [g for g in got if b'"network-created"' in g[3]]
    ok("hook-webhook-posts", hit and hit[0][0] == "/ev" and hit[0][1] == "application/json" and
       hit[0][2] == "network-created" and json.loads(hit[0][3])["object"] == "hooked", str(got))

    # A webhook that hangs (3 s timeout) does not hold up requests: blocked, the first request
    # alone would take 3 s; the bound leaves room for a loaded machine.
    t0 = time.time()
    d.req("POST", "/api/v1/disks", {"name": "dd", "size": 1 << 20}, token=adm)
    d.req("POST", "/api/v1/disks", {"name": "de", "size": 1 << 20}, token=adm)
    took = time.time() - t0
    ok("hook-never-blocks-requests", took < 2.5, "%.2fs" % took)
    # Events after it still reach the other hook once the hanging one timed out.
    n = len(got)
    d.req("POST", "/api/v1/networks", {"name": "after", "kind": "internal"}, token=adm)
    ok("hook-timeout-then-next", wait_for(lambda: any(b'"after"' in g[3] for g in got[n:]), 12), str(got[n:]))

    st, _ = d.req("DELETE", "/api/v1/hooks/%d" % wid, token=adm)
    st2, _ = d.req("GET", "/api/v1/hooks/%d" % wid, token=adm)
    st3, _ = d.req("DELETE", "/api/v1/hooks/%d" % wid, token=adm)
    d.req("DELETE", "/api/v1/hooks/%d" % mid, token=adm)
    n = len(got)
    d.req("DELETE", "/api/v1/networks/after", token=adm)
    time.sleep(0.5)
    ok("hook-delete", st == 204 and st2 == 404 and st3 == 404 and len(got) == n, str((st, st2, st3, got[n:])))
finally:
    d.stop()
    srv.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
