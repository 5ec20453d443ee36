"""The consoles over WebSockets and the display in the server (see t-server-wsconsole.sh):
the handshake, authentication (bearer token; the session cookie only on WebSocket routes and
only with this server's Origin), permissions before the upgrade, 409 for a VM that does not
run, the VM setting display and the VMM's argv it gives (recorded by a shim in front of the
real vsrv), the bridge through the server to a console socket (without KVM no VM runs: the
test listens on the VM's console.sock itself, where the VM's monitor would), and with
/dev/kvm a real VM's serial console, VNC server and screenshot."""
import base64, hashlib, json, os, shutil, socket, sqlite3, ssl, struct, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
import lib

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

tmp = tempfile.mkdtemp(prefix="vsrv-ws.")
os.chmod(tmp, 0o711)
shim, vmm_argvs = vmm_shim(tmp)
# a short request deadline: an open WebSocket must not be cut by it
d = Daemon(os.path.join(tmp, "data"), extra=["--vmm", shim, "--request-timeout", "1"]).start()
adm = d.login("admin", "adminpass1")


def req(method, path, body=None, tok=adm):
    return d.req(method, path, body, token=tok)


class WS:
    """A minimal WebSocket client (RFC 6455): frames masked, as a client's must be."""

    def __init__(self, path, token=None, cookie=None, origin=None, key=None, version="13",
                 upgrade=True, unix=False, extra=None, port=None, tls=None):
        port = port or d.port
        if unix:
            self.s = socket.socket(socket.AF_UNIX)
            self.s.connect(d.sock())
        else:
            self.s = socket.create_connection(("127.0.0.1", port))
            if tls:
                self.s = tls.wrap_socket(self.s, server_hostname="127.0.0.1")
        self.s.settimeout(10)
        self.key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
        h = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port]
        if upgrade:
            h += ["Upgrade: websocket", "Connection: Upgrade"]
        if self.key:
            h.append("Sec-WebSocket-Key: " + self.key)
        if version:
            h.append("Sec-WebSocket-Version: " + version)
        if token:
            h.append("Authorization: Bearer " + token)
        if cookie:
            h.append("Cookie: vsrv_session=" + cookie)
        if origin:
            h.append("Origin: " + origin)
        h += extra or []
        self.s.sendall(("\r\n".join(h) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            c = self.s.recv(4096)
            if not c:
                break
            self.buf += c
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines[0].startswith("HTTP/1.1 ") else 0
        self.headers = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip()
                        for l in lines[1:] if ":" in l}
        self.body = None
        if self.status != 101:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                c = self.s.recv(4096)
                if not c:
                    break
                self.buf += c
            text = self.buf[:n]
            check_answer("GET", path, self.status, self.headers.get("content-type"), text)
            try:
                self.body = json.loads(text)
            except ValueError:
                self.body = text
            self.s.close()

    def accept_ok(self):
        want = base64.b64encode(hashlib.sha1((self.key + GUID).encode()).digest()).decode()
        return self.headers.get("sec-websocket-accept") == want

    def send(self, data, opcode=2):
        if isinstance(data, str):
            data = data.encode()
        mask = os.urandom(4)
        n = len(data)
        h = bytes([0x80 | opcode])
        if n < 126:
            h += bytes([0x80 | n])
        elif n < 65536:
            h += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            h += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.s.sendall(h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buf) < n:
            c = self.s.recv(65536)
            if not c:
                raise EOFError("connection closed")
            self.buf += c
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """(opcode, payload) of the next frame."""
        b0, b1 = self._read(2)
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        return b0 & 0x0f, self._read(n)

    def recv_data(self, want, timeout=10):
        """Binary payloads until want (bytes) is among them."""
        got = b""
        end = time.time() + timeout
        while want not in got and time.time() < end:
            op, p = self.recv()
            if op == 8:
                break
            if op == 2:
                got += p
        return got

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def vm_id(name):
    return lib.vm_id(d.data, name)


class ConsolePeer:
    """Listens on the VM's console.sock as its monitor would, and holds what it accepts."""

    def __init__(self, name):
        self.dir = os.path.join(d.data, "vms", str(vm_id(name)))
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "console.sock")
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.l = socket.socket(socket.AF_UNIX)
        self.l.bind(self.path)
        self.l.listen(8)
        self.l.settimeout(10)

    def accept(self):
        c, _ = self.l.accept()
        c.settimeout(10)
        return c

    def close(self):
        self.l.close()
        os.unlink(self.path)


def read_exact(s, n):
    out = b""
    while len(out) < n:
        c = s.recv(n - len(out))
        if not c:
            break
        out += c
    return out


def start_argv(name):
    before = len(vmm_argvs())
    req("POST", "/api/v1/vms/%s/start" % name)
    got = wait_for(lambda: len(vmm_argvs()) > before, 20)
    argv = vmm_argvs()[-1] if got else []
    if not have_kvm():
        d.wait_state(adm, name, ("stopped", "crashed"), 30)
    return argv


def opt(argv, name):
    return [argv[i + 1] for i, a in enumerate(argv) if a == name and i + 1 < len(argv)]


try:
    c = d.conn(timeout=60)
    c.request("PUT", "/api/v1/images/hello.elf", body=open(os.path.join(GUESTS, "hello.elf"), "rb").read(),
              headers={"Authorization": "Bearer " + adm, "Content-Type": "application/octet-stream"})
    c.getresponse().read()
    c.close()
    SER = "/api/v1/vms/lin/console/serial"
    VNC = "/api/v1/vms/fw/console/vnc"

    # --- the display setting ------------------------------------------------------------------
    st, js = req("POST", "/api/v1/vms", {"name": "lin", "kernel": "hello.elf"})
    ok("display-default-none-without-firmware", st == 201 and js.get("display") == "none", str((st, js)))
    st, js = req("POST", "/api/v1/vms", {"name": "fw", "firmware": "bios"})
    ok("display-default-bochs-with-firmware", st == 201 and js.get("display") == "bochs", str((st, js)))
    st, js = req("POST", "/api/v1/vms", {"name": "lind", "kernel": "hello.elf", "display": "bochs"})
    ok("display-given-at-create", st == 201 and js.get("display") == "bochs", str((st, js)))
    st, js = req("POST", "/api/v1/vms", {"name": "bad", "kernel": "hello.elf", "display": "vga"})
    ok("display-unknown-400", st == 400 and "display" in js["error"]["message"], str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/fw", {"display": "none"})
    ok("display-patch-none", st == 200 and js.get("display") == "none", str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/fw", {"display": "bochs"})
    ok("display-patch-bochs", st == 200 and js.get("display") == "bochs", str((st, js)))
    if sqlite_only("inventory-migration-8"):
        c = sqlite3.connect(os.path.join(d.data, "inventory.db"))
        ver = c.execute("PRAGMA user_version").fetchone()[0]
        row = c.execute("SELECT display FROM vm_hw WHERE vm_id = ?", (vm_id("lin"),)).fetchone()
        c.close()
        ok("inventory-migration-8", ver >= 8 and row == (None,), str((ver, row)))

    # --- the VMM's argv -----------------------------------------------------------------------
    argv = start_argv("lind")
    vncs = opt(argv, "--vnc")
    ok("argv-display-bochs", opt(argv, "--display") == ["bochs"] and len(vncs) == 1 and
       vncs[0] == "unix:" + os.path.join(d.data, "vms", str(vm_id("lind")), "vnc.sock"), str(argv))
    argv = start_argv("lin")
    ok("argv-display-none", argv and "--display" not in argv and "--vnc" not in argv, str(argv))

    # --- users: a viewer, an operator -----------------------------------------------------------
    for u in ("viewer", "oper"):
        st, js = req("POST", "/api/v1/users", {"name": u, "password": "Password-" + u})
    for vm in ("lin", "fw"):
        req("PUT", "/api/v1/vms/%s/permissions" % vm, {"grants": [
            {"user": "viewer", "permissions": ["view"]}, {"user": "oper", "permissions": ["view", "control"]}]})
    viewer = d.login("viewer", "Password-viewer")
    oper = d.login("oper", "Password-oper")

    # --- handshake, with a console to reach ------------------------------------------------------
    peer = ConsolePeer("lin")
    w = WS(SER, token=oper)
    ok("handshake-good-101", w.status == 101 and w.accept_ok() and
       w.headers.get("upgrade", "").lower() == "websocket", str((w.status, w.headers, w.body)))
    pc = peer.accept() if w.status == 101 else None
    w.close()
    if pc:
        pc.close()
    w = WS(SER, token=oper, key="")
    ok("handshake-missing-key-400", w.status == 400 and "Sec-WebSocket-Key" in w.body["error"]["message"],
       str((w.status, w.body)))
    w = WS(SER, token=oper, version="8")
    ok("handshake-bad-version-400", w.status == 400 and "Version" in w.body["error"]["message"],
       str((w.status, w.body)))
    w = WS(SER, token=oper, upgrade=False)
    ok("handshake-no-upgrade-400", w.status == 400, str((w.status, w.body)))

    # --- authentication and permissions before the upgrade ---------------------------------------
    w = WS(SER)
    ok("ws-no-auth-401", w.status == 401, str((w.status, w.body)))
    w = WS(SER, token=viewer)
    ok("ws-serial-viewer-without-control-403", w.status == 403, str((w.status, w.body)))
    w = WS(VNC, token=viewer)
    ok("ws-vnc-viewer-without-control-403", w.status == 403, str((w.status, w.body)))
    st, js = req("POST", "/api/v1/users", {"name": "nobody", "password": "Password-nobody"})
    nobody = d.login("nobody", "Password-nobody")
    w = WS(VNC, token=nobody)
    ok("ws-vnc-unseen-vm-404", w.status == 404, str((w.status, w.body)))
    own = "http://127.0.0.1:%d" % d.port
    w = WS(SER, cookie=oper, origin="https://evil.example")
    ok("ws-cookie-foreign-origin-403", w.status == 403 and "Origin" in w.body["error"]["message"],
       str((w.status, w.body)))
    w = WS(SER, cookie=oper)
    ok("ws-cookie-without-origin-403", w.status == 403, str((w.status, w.body)))
    w = WS(SER, cookie=oper, origin="http://127.0.0.1:%d.evil.example" % d.port)
    ok("ws-cookie-lookalike-origin-403", w.status == 403, str((w.status, w.body)))
    w = WS(SER, cookie=oper, origin=own)
    ok("ws-cookie-own-origin-101", w.status == 101, str((w.status, w.body)))
    if w.status == 101:
        peer.accept().close()
    w.close()
    w = WS(SER, cookie=viewer, origin=own)
    ok("ws-cookie-viewer-403", w.status == 403, str((w.status, w.body)))
    w = WS(SER, cookie="0" * 64, origin=own)
    ok("ws-cookie-bad-401", w.status == 401, str((w.status, w.body)))
    # the cookie is for WebSockets only: every other endpoint wants the bearer token
    cc = d.conn()
    cc.request("GET", "/api/v1/vms", headers={"Cookie": "vsrv_session=" + oper, "Origin": own})
    r = cc.getresponse()
    r.read()
    cc.close()
    ok("cookie-not-taken-by-other-endpoints-401", r.status == 401, str(r.status))
    # login sets it, logout clears it
    cc = d.conn()
    cc.request("POST", "/api/v1/login", body=json.dumps({"user": "oper", "password": "Password-oper"}),
               headers={"Content-Type": "application/json"})
    r = cc.getresponse()
    body = json.loads(r.read())
    sc = r.getheader("Set-Cookie") or ""
    cc.close()
    ok("login-sets-session-cookie", sc.startswith("vsrv_session=" + body["token"] + ";") and
       "HttpOnly" in sc and "SameSite=Strict" in sc and "Path=/api/v1/" in sc, sc)
    cc = d.conn()
    cc.request("POST", "/api/v1/logout", headers={"Authorization": "Bearer " + body["token"]})
    r = cc.getresponse()
    r.read()
    sc = r.getheader("Set-Cookie") or ""
    cc.close()
    ok("logout-clears-session-cookie", r.status == 204 and sc.startswith("vsrv_session=;") and
       "Max-Age=0" in sc, str((r.status, sc)))
    w = WS(SER, cookie=body["token"], origin=own)
    ok("ws-cookie-after-logout-401", w.status == 401, str((w.status, w.body)))

    # --- the bridge through the server ---------------------------------------------------------
    w = WS(SER, token=oper, extra=["Sec-WebSocket-Protocol: binary"])
    pc = peer.accept() if w.status == 101 else None
    good = w.status == 101 and pc is not None
    if good:
        screen = b"\x1b[2J\x1b[H\x1b[1;31mred\x1b[0m \xe2\x94\x80 top\r\n"
        pc.sendall(screen)
        got = w.recv_data(screen)
        keys = b"vi /etc/motd\r\x1b:q!\r"
        w.send(keys)
        typed = read_exact(pc, len(keys))
        w.send("text frame", opcode=1)
        typed2 = read_exact(pc, 10)
        ok("bridge-serial-raw-bytes-both-ways", screen in got and typed == keys and
           typed2 == b"text frame", repr((got, typed, typed2)))
        # idle past the request deadline (1 s here): the WebSocket stays
        time.sleep(2.5)
        pc.sendall(b"still here")
        ok("bridge-survives-request-deadline", b"still here" in w.recv_data(b"still here"), "")
        w.send(b"ping!", opcode=9)
        op, p = w.recv()
        ok("bridge-ping-pong", (op, p) == (10, b"ping!"), repr((op, p)))
        big = os.urandom(3 << 20)
        t = threading.Thread(target=pc.sendall, args=(big,))
        t.start()
        got = b""
        while len(got) < len(big):
            op, p = w.recv()
            if op != 2:
                break
            got += p
        t.join()
        ok("bridge-large-transfer-intact", got == big, "%d of %d bytes" % (len(got), len(big)))
        pc.close()      # the VM's console ends: close 1000
        op, p = w.recv()
        ok("bridge-console-end-closes-1000", op == 8 and p[:2] == b"\x03\xe8", repr((op, p)))
        w.close()
    else:
        ok("bridge-serial-raw-bytes-both-ways", False, str((w.status, w.body)))
    # a client's close ends the peer's side
    w = WS(SER, token=oper)
    pc = peer.accept() if w.status == 101 else None
    if pc:
        w.send(b"\x03\xe8", opcode=8)
        op, p = w.recv()
        ok("bridge-client-close-answered-and-console-released", op == 8 and pc.recv(10) == b"",
           repr((op, p)))
        pc.close()
        w.close()
    else:
        ok("bridge-client-close-answered-and-console-released", False, str(w.status))
    # over the Unix socket too (peer credentials: root is the administrator)
    if os.getuid() == 0:
        w = WS(SER, unix=True)
        pc = peer.accept() if w.status == 101 else None
        if pc:
            pc.sendall(b"unix")
        ok("bridge-over-unix-socket", pc is not None and b"unix" in w.recv_data(b"unix"), str(w.status))
        if pc:
            pc.close()
        w.close()

    # --- over TLS (libmicrohttpd forwards the upgraded connection through GnuTLS) ----------------
    crt, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   capture_output=True, check=True)
    d.stop()
    plain_port = d.port
    d.port = free_port()
    d.extra = ["--vmm", shim, "--tls-cert", crt, "--tls-key", key]
    tctx = ssl.create_default_context(cafile=crt)
    d.proc = subprocess.Popen([VSRV, "serve", "--data-dir", d.data, "--listen", "127.0.0.1:%d" % d.port,
                               "--init-admin", d.admin] + d.extra + inventory_args(d.data, d.extra),
                              stdout=d.log, stderr=d.log)
    up = False
    for _ in range(200):
        try:
            w = WS("/api/v1/health", tls=tctx, upgrade=False, key="", version="")
            up = w.status == 200
        except OSError:
            pass
        if up:
            break
        time.sleep(0.05)
    if up:
        # (the Daemon's client speaks plain HTTP: log in through the Unix socket)
        st, js = d.req("POST", "/api/v1/login", {"user": "oper", "password": "Password-oper"}, unix=True)
        tok = js["token"]
        w = WS(SER, token=tok, tls=tctx)
        pc = peer.accept() if w.status == 101 else None
        got = b""
        if pc:
            pc.sendall(b"\x1b[1mover tls\x1b[0m")
            got = w.recv_data(b"over tls")
            w.send(b"typed")
            typed = read_exact(pc, 5)
        ok("bridge-over-tls", pc is not None and b"\x1b[1mover tls\x1b[0m" in got and typed == b"typed",
           repr((w.status, w.body, got)))
        w.close()
        if pc:
            pc.close()
        # the cookie's Origin over TLS is https://HOST
        w = WS(SER, cookie=tok, origin="http://127.0.0.1:%d" % d.port, tls=tctx)
        ok("ws-cookie-tls-needs-https-origin-403", w.status == 403, str((w.status, w.body)))
        w = WS(SER, cookie=tok, origin="https://127.0.0.1:%d" % d.port, tls=tctx)
        ok("ws-cookie-tls-https-origin-101", w.status == 101, str((w.status, w.body)))
        if w.status == 101:
            peer.accept().close()
        w.close()
    else:
        ok("bridge-over-tls", False, "the TLS daemon did not come up")
    d.stop()
    d.port = plain_port
    d.extra = ["--vmm", shim, "--request-timeout", "1"]
    d.start()
    adm = d.login("admin", "adminpass1")
    oper = d.login("oper", "Password-oper")
    viewer = d.login("viewer", "Password-viewer")
    nobody = d.login("nobody", "Password-nobody")
    peer.close()

    # --- VMs that do not run ------------------------------------------------------------------------
    w = WS(SER, token=oper)
    ok("ws-serial-not-running-409", w.status == 409, str((w.status, w.body)))
    w = WS(VNC, token=oper)
    ok("ws-vnc-not-running-409", w.status == 409 and "not running" in w.body["error"]["message"],
       str((w.status, w.body)))
    st, js = req("GET", "/api/v1/vms/fw/screenshot", tok=viewer)
    ok("screenshot-not-running-409", st == 409, str((st, js)))
    st, js = req("GET", "/api/v1/vms/fw/screenshot", tok=nobody)
    ok("screenshot-unseen-vm-404", st == 404, str((st, js)))

    # --- a stopping server closes its WebSockets (1001) -------------------------------------------
    peer = ConsolePeer("lin")
    w = WS(SER, token=oper)
    pc = peer.accept() if w.status == 101 else None
    t0 = time.time()
    d.proc.send_signal(15)
    try:
        op, p = w.recv()
    except (EOFError, OSError) as e:
        op, p = None, repr(e)
    d.proc.wait(20)
    ok("server-stop-closes-websockets-1001", op == 8 and p[:2] == struct.pack(">H", 1001) and
       time.time() - t0 < 10, repr((op, p, time.time() - t0)))
    w.close()
    if pc:
        pc.close()
    peer.close()
    d.proc = None
    d.start()
    adm = d.login("admin", "adminpass1")
    oper = d.login("oper", "Password-oper")
    viewer = d.login("viewer", "Password-viewer")

    # --- with KVM: real VMs -----------------------------------------------------------------------
    if not have_kvm():
        for n in ("kvm-serial-websocket-guest-output", "kvm-vnc-websocket-rfb", "kvm-screenshot-png",
                  "kvm-display-none-409"):
            skip(n, "no usable /dev/kvm")
    else:
        req("POST", "/api/v1/vms/lin/start")
        d.wait_state(adm, "lin", ("running",), 30)
        w = WS(SER, token=oper)
        req("POST", "/api/v1/vms/lin/console", {"input": "\n"})
        got = w.recv_data(b"hello", 20) if w.status == 101 else b""
        ok("kvm-serial-websocket-guest-output", w.status == 101 and len(got) > 0, repr((w.status, got[:200])))
        w.close()
        w = WS("/api/v1/vms/lin/console/vnc", token=oper)
        st, js = req("GET", "/api/v1/vms/lin/screenshot", tok=viewer)
        ok("kvm-display-none-409", w.status == 409 and st == 409 and "no display" in js["error"]["message"],
           str((w.status, w.body, st, js)))
        req("POST", "/api/v1/vms/lin/off")
        req("POST", "/api/v1/vms/lind/start")
        d.wait_state(adm, "lind", ("running",), 30)
        rfb = b""
        for _ in range(50):
            w = WS("/api/v1/vms/lind/console/vnc", token=oper)
            if w.status == 101:
                rfb = w.recv_data(b"RFB ", 10)
                w.close()
                break
            time.sleep(0.2)
        ok("kvm-vnc-websocket-rfb", rfb.startswith(b"RFB 003.008"), repr((w.status, w.body, rfb)))
        cc = d.conn()
        cc.request("GET", "/api/v1/vms/lind/screenshot", headers={"Authorization": "Bearer " + viewer})
        r = cc.getresponse()
        png = r.read()
        cc.close()
        ok("kvm-screenshot-png", r.status == 200 and r.getheader("Content-Type") == "image/png" and
           png[:8] == b"\x89PNG\r\n\x1a\n", str((r.status, png[:100])))
        req("POST", "/api/v1/vms/lind/off")
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
