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
        got = {k: oct(mode(os.path.join(data, k))) for k in want if os.path.exists(os.path.join(data, k))}
        bad = {k: got.get(k) for k in want if got.get(k) != oct(want[k])}
        ok("data-dir-private", st == 201 and st2 == 201 and not bad, str((st, st2, bad)))
        ok("data-dir-symlink-target-untouched", mode("/etc/hostname") == hostname_mode,
           oct(mode("/etc/hostname")))
    finally:
        d.stop()


sections = [secrets_and_modes]
try:
    only = os.environ.get("ABUSE_ONLY")
    for fn in sections:
        if not only or only in fn.__name__:
            try:
                fn()
            except Exception as e:   # a section that cannot run fails as a whole
                ok(fn.__name__, False, "%s: %s" % (type(e).__name__, e))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
