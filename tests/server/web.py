"""Black-box tests of the web console's serving (src/server/web.c): the files under /ui/
with their types and security headers, ETag revalidation, redirects, 404 for anything
else, traversal attempts refused, and the API behind the console still wanting a token.
Also GET /api/v1/images (the create form's kernel list)."""
import json, os, shutil, socket, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
from lib import *

WEB = os.path.join(ROOT, "web")
TYPES = {".html": "text/html", ".css": "text/css", ".mjs": "text/javascript", ".svg": "image/svg+xml"}


def get(path, method="GET", headers=None):
    c = d.conn()
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def raw_request(line):
    """Send a request line byte for byte (no client-side normalisation of the path)."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    s.sendall(line.encode() + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    head = data.split(b"\r\n", 1)[0].decode(errors="replace")
    return int(head.split()[1]) if len(head.split()) > 1 else 0, data


def directives(csp):
    return {p.split()[0]: p.split()[1:] for p in csp.split(";") if p.strip()}


def secure(h):
    # Inline style is allowed (xterm.js makes <style> elements), script only from here.
    csp = h.get("content-security-policy", "")
    dv = directives(csp)
    return ("default-src 'self'" in csp and "frame-ancestors 'none'" in csp and
            dv.get("script-src") == ["'self'"] and dv.get("default-src") == ["'self'"] and
            dv.get("style-src") == ["'self'", "'unsafe-inline'"] and "unsafe-eval" not in csp and
            h.get("x-frame-options") == "DENY" and h.get("x-content-type-options") == "nosniff")


tmp = tempfile.mkdtemp(prefix="vsrv-web.")
d = Daemon(os.path.join(tmp, "data")).start()
try:
    adm = d.login("admin", "adminpass1")
    files = sorted(f for f in os.listdir(WEB) if os.path.splitext(f)[1] in TYPES)
    ok("web-files-exist", "index.html" in files and "app.mjs" in files, str(files))

    # --- every file, byte for byte, with its type, headers and an ETag ------------------
    bad = []
    for f in files:
        st, h, body = get("/ui/" + f)
        want = TYPES[os.path.splitext(f)[1]]
        if st != 200 or body != open(os.path.join(WEB, f), "rb").read() or \
                not h.get("content-type", "").startswith(want) or not secure(h) or \
                not h.get("etag") or "no-cache" not in h.get("cache-control", ""):
            bad.append((f, st, h.get("content-type")))
    ok("web-files-served", not bad, str(bad))

    # The vendored browser libraries (mk/npm.sh --web: npm at the versions of
    # mk/web-npm/package-lock.json) are served from the binary like web/'s own files.
    vendor = os.path.join(ROOT, "build", "web-vendor")
    bad = []
    for f in ("xterm.mjs", "xterm.css", "uplot.mjs", "uplot.css"):
        st, h, body = get("/ui/" + f)
        if st != 200 or body != open(os.path.join(vendor, f), "rb").read() or len(body) < 1000 or \
                not h.get("content-type", "").startswith(TYPES[os.path.splitext(f)[1]]) or not secure(h):
            bad.append((f, st, h.get("content-type")))
    ok("web-vendor-files-served", not bad, str(bad))
    lock = json.load(open(os.path.join(ROOT, "mk", "web-npm", "package-lock.json")))
    pinned = {k: v for k, v in lock["packages"].items() if k.startswith("node_modules/")}
    ok("web-vendor-pinned", set(pinned) == {"node_modules/@xterm/xterm", "node_modules/uplot",
                                             "node_modules/@novnc/novnc"} and
       all(v.get("integrity", "").startswith("sha512-") for v in pinned.values()), str(pinned))
    xterm_ver = json.load(open(os.path.join(ROOT, "build", "web-npm", "node_modules", "@xterm", "xterm",
                                            "package.json")))["version"]
    ok("web-vendor-installed-version", xterm_ver == pinned["node_modules/@xterm/xterm"]["version"], xterm_ver)
    # noVNC's modules, as a tree under /ui/novnc/ (they import each other by relative paths)
    bad = []
    for f in ("core/rfb.js", "core/input/keyboard.js", "vendor/pako/lib/zlib/inflate.js"):
        st, h, body = get("/ui/novnc/" + f)
        if st != 200 or body != open(os.path.join(vendor, "novnc", f), "rb").read() or \
                not h.get("content-type", "").startswith("text/javascript") or not secure(h):
            bad.append((f, st, h.get("content-type")))
    ok("web-vendor-novnc-served", not bad, str(bad))

    st, h, body = get("/ui/")
    ok("web-index", st == 200 and body == open(os.path.join(WEB, "index.html"), "rb").read()
       and h["content-type"].startswith("text/html") and secure(h), "%s %s" % (st, h))
    # No inline script anywhere in the page: the CSP would refuse it, and there is none.
    html = body.decode()
    ok("web-no-inline-script", "<script>" not in html and "onclick" not in html.lower() and
       'style="' not in html and '<script type="module" src="app.mjs">' in html, html[:300])

    st, h, _ = get("/ui/", headers={"If-None-Match": h["etag"]})
    ok("web-etag-304", st == 304, str(st))
    st, h, body = get("/ui/app.mjs", method="HEAD")
    ok("web-head", st == 200 and body == b"" and h.get("content-type", "").startswith("text/javascript"),
       "%s %s" % (st, h))

    for p in ("/", "/ui"):
        st, h, _ = get(p)
        ok("web-redirect " + p, st == 302 and h.get("location") == "/ui/" and secure(h), "%s %s" % (st, h))

    # --- unknown names and other methods -----------------------------------------------
    for p in ("/ui/nope.js", "/ui/index.htm", "/ui/INDEX.HTML", "/ui/sub/index.html", "/ui//index.html",
              "/ui/.hidden", "/ui/index.html/", "/uix", "/ui.html", "/index.html"):
        st, h, body = get(p)
        if not ok("web-404 " + p, st == 404, "%s %r" % (st, body[:100])):
            break
    # libmicrohttpd decodes %00 into a NUL that ends the name: the file named before it (and
    # its own type) or nothing, never another file or type.
    st, h, body = get("/ui/index.html%00.png")
    ok("web-nul", st == 404 or (st == 200 and h["content-type"].startswith("text/html") and
                                body == open(os.path.join(WEB, "index.html"), "rb").read()), str(st))
    st, h, _ = get("/ui/index.html", method="POST")
    ok("web-post-405", st == 405 and h.get("allow") == "GET, HEAD", "%s %s" % (st, h))
    st, h, _ = get("/ui/index.html", method="DELETE")
    ok("web-delete-405", st == 405, str(st))

    # --- traversal: nothing outside the embedded files, whatever the spelling ------------
    if INVENTORY != "sqlite":
        # no inventory file in DATA on etcd: one of the same name to not leak
        with open(os.path.join(d.data, "inventory.db"), "wb") as f:
            f.write(os.urandom(16))
    secret = open(os.path.join(d.data, "inventory.db"), "rb").read(16)
    leaks = []
    for p in ("/ui/../api/v1/whoami", "/ui/../../etc/passwd", "/ui/%2e%2e/api/v1/vms",
              "/ui/%2e%2e/%2e%2e/etc/passwd", "/ui/..%2fapi%2fv1%2fvms", "/ui/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
              "/ui/....//....//etc/passwd", "/ui/%252e%252e/etc/passwd", "/ui/..\\..\\etc\\passwd",
              "/ui/../inventory.db", "/ui/%2e%2e/inventory.db", "/ui/../../../../proc/self/environ",
              "/ui/./index.html/../../api/v1/vms"):
        st, data = raw_request("GET %s HTTP/1.1" % p)
        if st == 200 or b"root:" in data or secret in data or b'"vms"' in data or b'"user"' in data:
            leaks.append((p, st))
    ok("web-traversal-refused", not leaks, str(leaks))

    st, data = raw_request("GET /ui/" + "a" * 100000 + " HTTP/1.1")
    ok("web-long-path", st in (404, 414, 431) or st == 0, str(st))
    st, data = raw_request("GET /ui/" + "../" * 3000 + "etc/passwd HTTP/1.1")
    ok("web-long-traversal", st != 200 and b"root:" not in data, str(st))
    ok("web-server-still-up", d.req("GET", "/api/v1/health")[0] == 200)

    # --- the console's files are public; the API behind them is not ----------------------
    for m, p in (("GET", "/api/v1/vms"), ("GET", "/api/v1/whoami"), ("GET", "/api/v1/events?follow=1"),
                 ("GET", "/api/v1/images"), ("GET", "/api/v1/host")):
        st, _ = d.req(m, p)
        if not ok("web-api-needs-token %s" % p, st == 401, str(st)):
            break
    # A token in the query string or a cookie is not a token.
    st, _ = d.req("GET", "/api/v1/vms?token=" + adm)
    st2, _ = d.req("GET", "/api/v1/vms", headers={"Cookie": "token=" + adm})
    ok("web-token-only-in-header", st == 401 and st2 == 401, "%s %s" % (st, st2))
    st, js = d.req("GET", "/api/v1/vms", token=adm)
    ok("web-api-with-token", st == 200 and "vms" in js, str(st))

    # --- GET /api/v1/images: the kernel list of the create form -------------------------
    img = os.path.join(d.data, "images")
    open(os.path.join(img, "k.elf"), "wb").write(b"\x7fELF" + b"\0" * 60)
    open(os.path.join(img, ".hidden"), "wb").write(b"x")
    os.mkdir(os.path.join(img, "subdir"))
    os.symlink("/etc/passwd", os.path.join(img, "link"))
    st, js = d.req("GET", "/api/v1/images", token=adm)
    ok("images-list", st == 200 and [i["name"] for i in js["images"]] == ["k.elf"] and
       js["images"][0]["size"] == 64, str(js))
    d.req("POST", "/api/v1/users", {"name": "viewer", "password": "viewerpass1"}, token=adm)
    d.req("PUT", "/api/v1/permissions", {"grants": [{"user": "viewer", "permissions": ["view"]}]}, token=adm)
    vt = d.login("viewer", "viewerpass1")
    st, js = d.req("GET", "/api/v1/images", token=vt)
    ok("images-needs-modify", st == 403, "%s %s" % (st, js))
    st, _ = d.req("POST", "/api/v1/images", {"name": "x"}, token=adm)
    ok("images-get-only", st == 405, str(st))
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
