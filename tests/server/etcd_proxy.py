"""A TCP proxy in front of etcd for the tests that need one of its requests held, dropped or
its answer swallowed (etcdstart.py, etcdexit.py): a window as long as the test needs between
a server's reads and its commit, whatever the machine's speed."""
import socket, threading


def shut(*socks):
    """Both directions of each socket shut (the proxy's two halves of one connection)."""
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class CommitProxy:
    """TCP forwarding to etcd that acts on the first request carrying pattern once armed:
    "hold" (until release()), "drop" (swallowed: it never reaches etcd) or "mute" (it
    reaches etcd; its answer is swallowed). What is swallowed is a link gone silent: the
    connection stays open, the client sees its call time out (a closed one could be sent
    again by curl on a new connection)."""

    def __init__(self, target_port):
        self.target = target_port
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.armed = None
        self.hit = threading.Event()
        self.go = threading.Event()
        self.mu = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def arm(self, pattern, mode):
        with self.mu:
            self.armed = (pattern.encode(), mode)
        self.hit.clear()
        self.go.clear()

    def release(self):
        self.go.set()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
                u = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                return
            st = {"mute": False}
            threading.Thread(target=self._up, args=(c, u, st), daemon=True).start()
            threading.Thread(target=self._down, args=(u, c, st), daemon=True).start()

    def _take(self, tail, d):
        with self.mu:
            if self.armed and self.armed[0] in tail + d:
                mode, self.armed = self.armed[1], None
                return mode
        return None

    def _up(self, c, u, st):
        tail = b""
        while True:
            try:
                d = c.recv(65536)
            except OSError:
                d = b""
            if not d:
                break
            mode = self._take(tail, d)
            tail = (tail + d)[-256:]
            if mode == "hold":
                self.hit.set()
                self.go.wait(60)
            elif mode == "drop":
                self.hit.set()
                st["drop"] = True
            if st.get("drop"):
                continue
            elif mode == "mute":
                st["mute"] = True
                self.hit.set()
            try:
                u.sendall(d)
            except OSError:
                break
        shut(c, u)

    def _down(self, u, c, st):
        while True:
            try:
                d = u.recv(65536)
            except OSError:
                d = b""
            if not d:
                break
            if st["mute"]:
                continue
            try:
                c.sendall(d)
            except OSError:
                break
        shut(c, u)
