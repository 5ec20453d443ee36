"""The image store (see t-server-images.sh): uploads streamed to disk with their SHA-256,
checksum and size refusals that keep nothing, dropped and concurrent uploads, kinds, users
and delete, a VHD disk made from an image as a task, permissions, the CLI, and the server's
memory during a large upload."""
import hashlib, http.client, json, os, shutil, socket, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
import lib
from lib import *

MiB = 1 << 20
LIMIT = 16 * MiB
tmp = tempfile.mkdtemp(prefix="vsrv-images.")
# The daemon runs `vsrv img` through a shim that lists what each `img` run inherits: nothing
# of the daemon's beyond stdio (an etcd inventory's libcurl handles keep sockets that are not
# close-on-exec: run_tool closes them in the child).
FDS = os.path.join(tmp, "img-fds")
SHIM = os.path.join(tmp, "vsrv-img-shim")
with open(SHIM, "w") as f:
    f.write('#!/bin/sh\n[ "$1" = img ] && ls -l /proc/$$/fd/ >> "%s" 2>&1\nexec %s "$@"\n' % (FDS, VSRV))
os.chmod(SHIM, 0o755)
d = Daemon(os.path.join(tmp, "data"), extra=["--image-max-size", "16M", "--vmm", SHIM]).start()
adm = d.login("admin", "adminpass1")
IMG = os.path.join(d.data, "images")


def put(name, data, tok=adm, query="", chunked=False):
    """PUT data (bytes, or an iterable of bytes with len given as data[1] when a tuple) to
    /api/v1/images/NAME; the answer checked against docs/api.yaml."""
    path = "/api/v1/images/%s%s" % (name, query)
    c = d.conn(timeout=120)
    h = {"Authorization": "Bearer " + tok, "Content-Type": "application/octet-stream"}
    if isinstance(data, tuple):
        body, n = data
        if not chunked:
            h["Content-Length"] = str(n)
    else:
        body = iter([data[i:i + 65536] for i in range(0, len(data), 65536)]) if chunked else data
    c.request("PUT", path, body=body, headers=h, encode_chunked=chunked)
    r = c.getresponse()
    text = r.read()
    c.close()
    check_answer("PUT", path, r.status, r.getheader("Content-Type"), text)
    return r.status, (json.loads(text) if text else None)


def leftovers():
    """What is in the images directory besides the images named and the cache."""
    return sorted(f for f in os.listdir(IMG) if f != ".meta")


def images(tok=adm):
    st, js = d.req("GET", "/api/v1/images", token=tok)
    return {i["name"]: i for i in js["images"]} if st == 200 else None


def raw_request(path, length, tok=adm, expect=False):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=60)
    s.sendall(("PUT %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n%s\r\n"
               % (path, tok, length, "Expect: 100-continue\r\n" if expect else "")).encode())
    return s


def read_answer(f):
    """(status, json body) of the next answer on file f (a 100 Continue: (100, None))."""
    line = f.readline()
    status = int(line.split()[1])
    n = 0
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode().partition(":")
        if k.strip().lower() == "content-length":
            n = int(v)
    body = f.read(n) if n else b""
    return status, (json.loads(body) if body else None)


def task(tid, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        st, js = d.req("GET", "/api/v1/tasks/%d" % tid, token=adm)
        if st == 200 and js["state"] != "running":
            return js
        time.sleep(0.05)
    return None


def vsrv(*a):
    return subprocess.run([VSRV] + list(a), capture_output=True, text=True, timeout=120)


try:
    # --- an upload: streamed, SHA-256 computed, listed ---------------------------------------
    data = os.urandom(5 * MiB + 12345)
    sha = hashlib.sha256(data).hexdigest()
    st, js = put("blob.raw", data)
    ok("upload-returns-sha256", st == 201 and js["sha256"] == sha and js["size"] == len(data) and
       js["kind"] == "raw", str((st, js)))
    lst = images()
    ok("upload-listed-with-sha256", lst and lst["blob.raw"]["sha256"] == sha and
       lst["blob.raw"]["size"] == len(data) and lst["blob.raw"]["used_by"] is None, str(lst))
    ok("upload-content-kept", open(os.path.join(IMG, "blob.raw"), "rb").read() == data and
       leftovers() == ["blob.raw"], str(leftovers()))
    st, js = put("chunked.raw", data[:3 * MiB], chunked=True)
    ok("upload-chunked", st == 201 and js["sha256"] == hashlib.sha256(data[:3 * MiB]).hexdigest(), str((st, js)))
    st, js = put("checked.raw", data[:MiB], query="?sha256=" + hashlib.sha256(data[:MiB]).hexdigest().upper())
    ok("upload-expected-sha256-matches", st == 201, str((st, js)))

    # --- refusals keep nothing ---------------------------------------------------------------
    before = leftovers()
    st, js = put("bad.raw", data[:2 * MiB], query="?sha256=" + "0" * 64)
    ok("upload-sha256-mismatch-400-nothing-kept", st == 400 and "mismatch" in js["error"]["message"] and
       leftovers() == before, str((st, js, leftovers())))
    st, js = put("bad.raw", b"x", query="?sha256=abc")
    ok("upload-sha256-malformed-400", st == 400 and leftovers() == before, str((st, js)))
    st, js = put("big.raw", (iter([b"\0" * MiB] * 17), 17 * MiB))
    ok("upload-over-limit-413", st == 413 and "image-max-size" in js["error"]["message"] and
       leftovers() == before, str((st, js, leftovers())))
    st, js = put("big.raw", (iter([b"\1" * MiB] * 17), 17 * MiB), chunked=True)
    ok("upload-over-limit-chunked-413-partial-removed", st == 413 and leftovers() == before,
       str((st, js, leftovers())))
    st, js = put("blob.raw", data[:MiB])
    ok("upload-name-exists-409", st == 409 and
       open(os.path.join(IMG, "blob.raw"), "rb").read() == data, str((st, js)))
    bad_names = [("..", 400), (".hidden", 400), ("a%20b", 400), ("x" * 64, 400)]
    res = [(n, put(n, b"data")[0]) for n, _ in bad_names]
    ok("upload-bad-names-400", all(s == e for (_, s), (_, e) in zip(res, bad_names)) and
       leftovers() == before, str(res))

    # Expect: 100-continue: a refusal comes before the body; an acceptance asks for it.
    s = raw_request("/api/v1/images/early.raw", 20 * MiB, expect=True)
    f = s.makefile("rb")
    st, js = read_answer(f)
    s.close()
    ok("upload-expect-100-refused-before-body", st == 413, str((st, js)))
    small = os.urandom(100000)
    s = raw_request("/api/v1/images/continued.raw", len(small), expect=True)
    f = s.makefile("rb")
    st1, _ = read_answer(f)
    s.sendall(small)
    st2, js = read_answer(f)
    s.close()
    ok("upload-expect-100-continue", st1 == 100 and st2 == 201 and
       js["sha256"] == hashlib.sha256(small).hexdigest(), str((st1, st2, js)))

    # --- a client that goes away mid-body leaves nothing; the server keeps serving -----------
    before = leftovers()
    s = raw_request("/api/v1/images/dropped.raw", 10 * MiB)
    s.sendall(os.urandom(3 * MiB))
    streaming = wait_for(lambda: [x for x in os.listdir(IMG) if x.startswith(".upload-dropped.raw")], 20)
    s.close()
    gone = wait_for(lambda: leftovers() == before, 20)
    ok("upload-dropped-mid-body-leaves-nothing", streaming and gone and "dropped.raw" not in (images() or {}),
       str((streaming, leftovers())))
    ok("upload-dropped-server-keeps-serving", d.req("GET", "/api/v1/health")[0] == 200 and
       put("after-drop.raw", b"still here")[0] == 201)

    # --- two uploads of one name: one wins, the other 409 ------------------------------------
    first = os.urandom(6 * MiB)
    s = raw_request("/api/v1/images/race.raw", len(first))
    s.sendall(first[:2 * MiB])
    wait_for(lambda: [x for x in os.listdir(IMG) if x.startswith(".upload-race.raw")], 20)
    st_b, js_b = put("race.raw", os.urandom(MiB))
    s.sendall(first[2 * MiB:])
    st_a, js_a = read_answer(s.makefile("rb"))
    s.close()
    ok("upload-concurrent-same-name-one-wins", st_a == 201 and st_b == 409 and
       "in progress" in js_b["error"]["message"] and
       open(os.path.join(IMG, "race.raw"), "rb").read() == first, str((st_a, js_a, st_b, js_b)))

    # --- kinds --------------------------------------------------------------------------------
    src = os.path.join(tmp, "src")
    os.makedirs(os.path.join(src, "isodir"))
    with open(os.path.join(src, "isodir", "hello.txt"), "w") as fh:
        fh.write("hello from an ISO\n")
    files = {}
    r = subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-o", os.path.join(src, "cd.iso"),
                        os.path.join(src, "isodir")], capture_output=True, text=True)
    if r.returncode == 0:
        files["cd.iso"] = "iso"
    else:
        skip("kind-iso", "xorriso failed: " + r.stderr[-300:])
    if vsrv("img", "create", "-f", "vpc", os.path.join(src, "disk.vhd"), "8M").returncode == 0:
        files["disk.vhd"] = "vhd"
    for fmt in ("qcow2", "vmdk", "vhdx"):
        if subprocess.run(["qemu-img", "create", "-q", "-f", fmt, os.path.join(src, "disk." + fmt), "8M"]).returncode == 0:
            files["disk." + fmt] = fmt
    kernels = [k for k in (os.path.join(GUESTS, "console.elf"), os.path.join(GUESTS, "linuxboot.bzImage"))
               if os.path.exists(k)]
    for k in kernels:
        shutil.copy(k, os.path.join(src, os.path.basename(k)))
        files[os.path.basename(k)] = "kernel"
    for name, kind in files.items():
        st, js = put(name, open(os.path.join(src, name), "rb").read())
        ok("kind-" + name, st == 201 and js["kind"] == kind, str((st, js)))
    lst = images()
    ok("kinds-in-list", lst and all(lst[n]["kind"] == k for n, k in files.items()),
       str({n: lst[n]["kind"] for n in files} if lst else None))
    # a file copied in by hand: kind at once, SHA-256 computed in the background and cached
    hand = os.urandom(3 * MiB)
    with open(os.path.join(IMG, "byhand.iso.raw"), "wb") as fh:
        fh.write(hand)
    first_sha = images()["byhand.iso.raw"]["sha256"]
    later = wait_for(lambda: images()["byhand.iso.raw"]["sha256"], 30)
    ok("copied-in-sha256-computed-lazily", first_sha in (None, later) and
       later == hashlib.sha256(hand).hexdigest(), str((first_sha, later)))
    with open(os.path.join(IMG, "byhand.iso.raw"), "r+b") as fh:
        fh.write(b"changed")
    time.sleep(0.01)
    os.utime(os.path.join(IMG, "byhand.iso.raw"))
    changed = hashlib.sha256(b"changed" + hand[7:]).hexdigest()
    ok("copied-in-sha256-follows-a-change", wait_for(lambda: images()["byhand.iso.raw"]["sha256"] == changed, 30),
       str(images()["byhand.iso.raw"]))

    # --- used by a VM: delete refused; then deleted ------------------------------------------
    if "console.elf" in files:
        st, vm = d.req("POST", "/api/v1/vms", {"name": "kvm1", "kernel": "console.elf", "memory_mib": 32},
                       token=adm)
        lst = images()
        ok("image-used-by-vm-listed", st == 201 and lst["console.elf"]["used_by"] == "kvm1", str((st, lst and lst["console.elf"])))
        st, js = d.req("DELETE", "/api/v1/images/console.elf", token=adm)
        ok("image-delete-refused-while-used", st == 409 and "kvm1" in js["error"]["message"] and
           os.path.exists(os.path.join(IMG, "console.elf")), str((st, js)))
        d.req("DELETE", "/api/v1/vms/kvm1", token=adm)
        st, js = d.req("DELETE", "/api/v1/images/console.elf", token=adm)
        ok("image-delete", st == 204 and not os.path.exists(os.path.join(IMG, "console.elf")) and
           not os.path.exists(os.path.join(IMG, ".meta", "console.elf")) and
           d.req("GET", "/api/v1/images/console.elf", token=adm)[0] == 404, str((st, js)))
    ok("image-delete-missing-404", d.req("DELETE", "/api/v1/images/nope", token=adm)[0] == 404)

    # --- a VHD disk from an image, as a task --------------------------------------------------
    pattern = bytearray(8 * MiB)
    for off in range(0, len(pattern), 512 * 1024):
        pattern[off:off + 4096] = os.urandom(4096)
    st, js = put("pattern.raw", bytes(pattern))
    st, js = d.req("POST", "/api/v1/disks", {"name": "fromraw", "from_image": "pattern.raw"}, token=adm)
    t = task(js["task"]) if st == 202 else None
    disk = os.path.join(d.data, "disks", "fromraw.vhd")
    cmp = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "vpc", os.path.join(IMG, "pattern.raw"), disk],
                         capture_output=True, text=True)
    st2, dj = d.req("GET", "/api/v1/disks/fromraw", token=adm)
    ok("disk-from-raw-image", st == 202 and t and t["state"] == "done" and t["kind"] == "disk-from-image" and
       t["progress"] == 1 and cmp.returncode == 0 and st2 == 200 and dj["format"] == "vhd" and
       dj["size"] >= len(pattern), str((st, js, t, cmp.stdout, cmp.stderr, dj)))
    fds = open(FDS).read() if os.path.exists(FDS) else ""
    ok("disk-from-image-tool-inherits-no-socket", "->" in fds and "socket:" not in fds, fds)
    if "disk.vhd" in files:
        st, js = d.req("POST", "/api/v1/disks", {"name": "fromvhd", "from_image": "disk.vhd"}, token=adm)
        t = task(js["task"]) if st == 202 else None
        cmp = subprocess.run(["qemu-img", "compare", "-f", "vpc", "-F", "vpc", os.path.join(IMG, "disk.vhd"),
                              os.path.join(d.data, "disks", "fromvhd.vhd")], capture_output=True, text=True)
        ok("disk-from-vhd-image", t and t["state"] == "done" and cmp.returncode == 0, str((st, js, t, cmp.stdout)))
    if "disk.qcow2" in files:
        # vsrv img reads qcow2 or not (another change adds it): converted, or a clear 400
        readable = vsrv("img", "info", "-f", "qcow2", os.path.join(IMG, "disk.qcow2")).returncode == 0
        st, js = d.req("POST", "/api/v1/disks", {"name": "fromq", "from_image": "disk.qcow2"}, token=adm)
        if readable:
            t = task(js["task"]) if st == 202 else None
            ok("disk-from-qcow2-image", t and t["state"] == "done", str((st, js, t)))
        else:
            ok("disk-from-unreadable-format-400", st == 400 and "qcow2" in js["error"]["message"] and
               not os.path.exists(os.path.join(d.data, "disks", "fromq.vhd")) and
               d.req("GET", "/api/v1/disks/fromq", token=adm)[0] == 404, str((st, js)))
    # an image over a backing file would make the converter read a host file the uploader
    # names (another tenant's disk, say): refused before any task
    with tempfile.TemporaryDirectory() as td:
        base, over = os.path.join(td, "secret.qcow2"), os.path.join(td, "over.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "4M"], check=True)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", over], check=True)
        put("over.qcow2", open(over, "rb").read())
    st, js = d.req("POST", "/api/v1/disks", {"name": "fromover", "from_image": "over.qcow2"}, token=adm)
    ok("disk-from-image-with-backing-file-400", st == 400 and "backing file" in js["error"]["message"] and
       not os.path.exists(os.path.join(d.data, "disks", "fromover.vhd")), str((st, js)))
    # an empty reservation left by a task a daemon restart cut short is reclaimed
    open(os.path.join(d.data, "disks", "leftover.vhd"), "wb").close()
    st, js = d.req("POST", "/api/v1/disks", {"name": "leftover", "from_image": "pattern.raw"}, token=adm)
    t = task(js["task"]) if st == 202 else None
    ok("disk-from-image-reclaims-empty-reservation", t and t["state"] == "done" and
       os.path.getsize(os.path.join(d.data, "disks", "leftover.vhd")) > 0, str((st, js, t)))
    bad = [({"name": "x1", "from_image": "nope"}, 404), ({"name": "fromraw", "from_image": "pattern.raw"}, 409),
           ({"name": "../x", "from_image": "pattern.raw"}, 400), ({"from_image": "pattern.raw"}, 400),
           ({"name": "x2", "from_image": "pattern.raw", "size": 5}, 400)]
    res = [(b, d.req("POST", "/api/v1/disks", b, token=adm)[0], e) for b, e in bad]
    ok("disk-from-image-bad-requests", all(s == e for _, s, e in res), str(res))

    # --- permissions: server modify for the store, modify and remove to delete ---------------
    for u in ("viewer", "maker"):
        d.req("POST", "/api/v1/users", {"name": u, "password": "Password-" + u}, token=adm)
    d.req("PUT", "/api/v1/permissions", {"grants": [{"user": "viewer", "permissions": ["view"]},
                                                    {"user": "maker", "permissions": ["view", "modify"]}]},
          token=adm)
    vt, mt = d.login("viewer", "Password-viewer"), d.login("maker", "Password-maker")
    before = leftovers()
    res = {"list": d.req("GET", "/api/v1/images", token=vt)[0],
           "get": d.req("GET", "/api/v1/images/blob.raw", token=vt)[0],
           "put": put("v.raw", b"v" * 1000, tok=vt)[0],
           "delete": d.req("DELETE", "/api/v1/images/blob.raw", token=vt)[0],
           "disk": d.req("POST", "/api/v1/disks", {"name": "vd", "from_image": "blob.raw"}, token=vt)[0]}
    ok("permissions-without-modify-403", set(res.values()) == {403} and leftovers() == before, str(res))
    st, js = put("m.raw", b"m" * 1000, tok=mt)
    st2 = d.req("DELETE", "/api/v1/images/m.raw", token=mt)[0]
    ok("permissions-modify-uploads-but-delete-needs-remove", st == 201 and st2 == 403 and
       os.path.exists(os.path.join(IMG, "m.raw")), str((st, st2)))
    st, js = put("unauth.raw", b"x" * 1000, tok="not-a-token")
    ok("upload-unauthenticated-401", st == 401 and "unauth.raw" not in leftovers(), str((st, js)))

    # --- the CLI --------------------------------------------------------------------------------
    cli = ["--server", "http://127.0.0.1:%d" % d.port, "--token", adm]
    fpath = os.path.join(src, "cli-upload.bin")
    cdata = os.urandom(3 * MiB)
    with open(fpath, "wb") as fh:
        fh.write(cdata)
    r = vsrv("image", "upload", fpath, "--json", *cli)
    up = json.loads(r.stdout) if r.returncode == 0 else None
    ok("cli-image-upload", up and up["name"] == "cli-upload.bin" and
       up["sha256"] == hashlib.sha256(cdata).hexdigest(), r.stdout + r.stderr)
    r = vsrv("image", "upload", fpath, "--name", "cli-bad", "--sha256", "1" * 64, *cli)
    ok("cli-image-upload-sha256-mismatch", r.returncode != 0 and "mismatch" in r.stderr and
       "cli-bad" not in leftovers(), r.stdout + r.stderr)
    r = vsrv("image", "list", *cli)
    ok("cli-image-list", r.returncode == 0 and "cli-upload.bin" in r.stdout and
       hashlib.sha256(cdata).hexdigest() in r.stdout and "SHA256" in r.stdout, r.stdout + r.stderr)
    r = vsrv("disk", "create", "clidisk", "--from-image", "cli-upload.bin", "--json", *cli)
    t = task(json.loads(r.stdout)["task"]) if r.returncode == 0 else None
    ok("cli-disk-create-from-image", t and t["state"] == "done", r.stdout + r.stderr)
    r = vsrv("image", "delete", "cli-upload.bin", *cli)
    ok("cli-image-delete", r.returncode == 0 and "cli-upload.bin" not in leftovers(), r.stdout + r.stderr)
    r = vsrv("disk", "create", "x", "5M", "--from-image", "blob.raw", *cli)
    ok("cli-disk-create-from-image-refuses-size", r.returncode == 2, r.stderr)

    # --- disk-space admission: 507, nothing kept ------------------------------------------------
    d.stop()
    d.extra = ["--image-max-size", "16M", "--disk-overcommit", "1e-9"]
    d.start()
    adm = d.login("admin", "adminpass1")
    before = leftovers()
    st, js = put("nospace.raw", os.urandom(MiB))
    ok("upload-disk-space-admission-507", st == 507 and js["error"]["code"] == "insufficient_storage" and
       leftovers() == before, str((st, js)))
    r = vsrv("serve", "--data-dir", os.path.join(tmp, "other"), "--image-max-size", "lots")
    ok("serve-image-max-size-bad-value", r.returncode == 2 and "--image-max-size" in r.stderr, r.stderr)

    # --- memory: a large upload goes to disk, not into the server -------------------------------
    with open(os.path.join(IMG, ".upload-stale-XXXXXX"), "wb") as fh:
        fh.write(b"left by a crash")
    d.stop()
    d.extra = ["--image-max-size", "1G"]
    d.start()
    adm = d.login("admin", "adminpass1")
    ok("restart-removes-stale-upload-files", not os.path.exists(os.path.join(IMG, ".upload-stale-XXXXXX")))
    put("warm.raw", os.urandom(MiB))           # the first upload's one-time allocations

    def hwm(pid):
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return None

    pid = d.proc.pid
    base = hwm(pid)
    size = 200 * MiB
    block = os.urandom(MiB)
    h = hashlib.sha256()

    def gen(h=None):
        for i in range(size // MiB):
            b = block[:i % 4096] + bytes([i % 256]) + block[i % 4096 + 1:]
            if h:
                h.update(b)
            yield b

    st, js = put("large.raw", (gen(h), size))
    grown = hwm(pid) - base
    ok("large-upload-sha256", st == 201 and js["sha256"] == h.hexdigest() and js["size"] == size, str((st, js)))
    ok("large-upload-server-memory-does-not-grow-with-size", grown < size // 8,
       "the server's peak RSS grew by %d MiB during a %d MiB upload (base %d MiB)" %
       (grown // MiB, size // MiB, base // MiB))
    print("# VmHWM grew by %.1f MiB during the %d MiB upload (base %.1f MiB)" %
          (grown / MiB, size // MiB, base / MiB), flush=True)
    # the CLI streams the file too: its own peak RSS stays far below the file's size
    big = os.path.join(tmp, "large.bin")
    with open(big, "wb") as fh:
        for b in gen():
            fh.write(b)
    r = subprocess.run([sys.executable, "-c", "import resource, subprocess, sys\n"
                        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
                        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
                        "print(r.stdout + r.stderr)",
                        VSRV, "image", "upload", big, "--name", "large-cli.raw", "--json",
                        "--server", "http://127.0.0.1:%d" % d.port, "--token", adm],
                       capture_output=True, text=True, timeout=600)
    rc, rss = (int(x) for x in r.stdout.split("\n", 1)[0].split())
    lst = images()
    ok("cli-large-upload-streams", rc == 0 and lst and lst["large-cli.raw"]["sha256"] == h.hexdigest() and
       rss < size // 8, "exit %d, the CLI's peak RSS %d MiB for a %d MiB file: %s" %
       (rc, rss // MiB, size // MiB, r.stdout[-500:]))
    print("# the CLI's peak RSS: %.1f MiB for the %d MiB upload" % (rss / MiB, size // MiB), flush=True)
    os.unlink(big)

    # a task reads `vsrv img convert`'s progress from a pipe (VSRV_IMG_PROGRESS)
    r = subprocess.run([VSRV, "img", "convert", "-p", "-f", "raw", "-O", "vpc", os.path.join(IMG, "warm.raw"),
                        os.path.join(tmp, "p.vhd")], capture_output=True, text=True,
                       env=dict(os.environ, VSRV_IMG_PROGRESS="1"))
    ok("img-convert-progress-into-a-pipe", r.returncode == 0 and "100.0/100%" in r.stderr, r.stderr[-300:])
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
