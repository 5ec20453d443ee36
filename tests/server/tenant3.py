"""A hostile tenant, third wave (issue 10), over real HTTP, see t-server-authz.sh: alice and
bob hold server modify and remove (they create VMs, disks and images) and every permission on
what they create, nothing on each other's; an administrator.
1. No host path reaches a tenant: a VM's kernel, initrd and CD/DVD media are image names, a
   linked clone's parent is a disk's name, and no answer or event (VMs, disks, snapshots,
   images, tasks, events, the event stream, errors) contains the data or images directory.
2. Images have an owner: what a user uploads is private to it (and administrators), what an
   administrator uploads or the host places is public; administrators PATCH {"public"}.
   Another tenant's private image answers exactly as a missing one everywhere it is named.
3. A clone copies only disks its caller may read (view, as GET /disks/NAME needs)."""
import json, os, re, shutil, socket, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
import lib

tmp = tempfile.mkdtemp(prefix="vsrv-tenant3.")
os.chmod(tmp, 0o711)
d = Daemon(os.path.join(tmp, "data")).start()
try:
    adm = d.login("admin", "adminpass1")
    IMG = os.path.join(d.data, "images")
    DATA = os.path.realpath(d.data)
    KERNEL = open(os.path.join(GUESTS, "hello.elf"), "rb").read()
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(IMG, "k.elf"))
    with open(os.path.join(IMG, "cd.iso"), "wb") as f:
        f.write(b"\0" * 4096)
    # a kernel outside the images directory: only an administrator names it, by path
    OUT = os.path.join(tmp, "outside")
    os.makedirs(OUT)
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(OUT, "own.elf"))

    def req(m, p, b=None, tok=None):
        return d.req(m, p, b, token=tok or adm)

    def raw(m, p, b, tok, data=None):
        """Status and body bytes, as the server sent them (data: a raw body)."""
        c = d.conn(timeout=20)
        h = {"Authorization": "Bearer " + tok}
        if b is not None:
            h["Content-Type"] = "application/json"
            data = json.dumps(b).encode()
        c.request(m, p, body=data, headers=h)
        r = c.getresponse()
        out = (r.status, r.read())
        c.close()
        return out

    def upload(name, data, tok):
        st, body = raw("PUT", "/api/v1/images/" + name, None, tok, data)
        return st, json.loads(body) if body else None

    def user(name):
        return new_user(d, adm, name)

    def task_end(tid, tok=None, timeout=30):
        return task_wait(d, tok or adm, tid, timeout)

    def same_as_missing(calls, tok, real, ghost):
        """Each call (method, path, body) naming real answers byte for byte as the same call
        naming ghost (with ghost's name put back): the differences, as text."""
        out = []
        for m, p, b in calls:
            h = raw(m, p.replace("%s", real), json.loads(json.dumps(b).replace("%s", real)) if b else b, tok)
            x = raw(m, p.replace("%s", ghost), json.loads(json.dumps(b).replace("%s", ghost)) if b else b, tok)
            x = (x[0], x[1].replace(ghost.encode(), real.encode()))
            if h != x or h[0] < 400:
                out.append("%s %s: %s, missing: %s" % (m, p.replace("%s", real), h, x))
        return out

    alice = user("alice")
    bob = user("bob")
    req("PUT", "/api/v1/permissions", {"grants": [{"user": "alice", "permissions": ["modify", "remove"]},
                                                  {"user": "bob", "permissions": ["modify", "remove"]}]})

    # === 2. images have an owner ========================================================
    st1, js1 = upload("akern.elf", KERNEL, alice)
    st2, js2 = upload("apriv.iso", b"\1" * 8192, alice)
    st3, js3 = upload("adm.iso", b"\2" * 4096, adm)
    ok("tenant3-image-owner-on-upload", (st1, st2, st3) == (201, 201, 201) and
       (js1.get("owner"), js1.get("public"), js3.get("owner"), js3.get("public")) ==
       ("alice", False, "admin", True), str((st1, js1, st2, js2, st3, js3)))
    names = lambda tok: sorted(i["name"] for i in req("GET", "/api/v1/images", None, tok)[1]["images"])
    _, one = req("GET", "/api/v1/images/cd.iso", None, bob)
    ok("tenant3-image-list-private", names(bob) == ["adm.iso", "cd.iso", "k.elf"] and
       names(alice) == ["adm.iso", "akern.elf", "apriv.iso", "cd.iso", "k.elf"] and
       names(adm) == names(alice) and (one.get("owner"), one.get("public")) == (None, True),
       str((names(bob), names(alice), names(adm), one)))
    # every place an image is named: bob's answer for alice's private image is the one for
    # a missing image
    req("POST", "/api/v1/vms", {"name": "bvm", "kernel": "k.elf", "cdroms": [{"image": None}]}, bob)
    calls = [("GET", "/api/v1/images/%s", None),
             ("DELETE", "/api/v1/images/%s", None),
             ("PATCH", "/api/v1/images/%s", {"public": True}),
             ("POST", "/api/v1/vms", {"name": "bk", "kernel": "%s"}),
             ("POST", "/api/v1/vms", {"name": "bk", "kernel": "k.elf", "initrd": "%s"}),
             ("POST", "/api/v1/vms", {"name": "bk", "kernel": "k.elf", "cdroms": [{"image": "%s"}]}),
             ("PATCH", "/api/v1/vms/bvm", {"kernel": "%s"}),
             ("PATCH", "/api/v1/vms/bvm", {"initrd": "%s"}),
             ("PATCH", "/api/v1/vms/bvm", {"cdroms": [{"image": "%s"}]}),
             ("POST", "/api/v1/vms/bvm/media", {"drive": 0, "image": "%s"}),
             ("POST", "/api/v1/disks", {"name": "bfrom", "from_image": "%s"})]
    diff = same_as_missing(calls, bob, "apriv.iso", "ghost.iso") + \
        same_as_missing(calls[3:5] + calls[6:8], bob, "akern.elf", "ghost.elf")
    _, bv = req("GET", "/api/v1/vms/bvm", None, bob)
    ok("tenant3-other-private-image-as-missing-%d-requests" % (len(calls) + 4), not diff and
       names(adm).count("apriv.iso") == 1 and req("GET", "/api/v1/disks/bfrom")[0] == 404 and
       bv["kernel"] == "k.elf" and bv.get("initrd") is None and bv["cdroms"][0]["image"] is None,
       "; ".join(diff[:3]))
    # a symbolic link the host left in the images directory is no image of the store (not
    # listed, no owner): not a tenant's kernel or initrd either, wherever it leads (another
    # user's private image, the inventory)
    os.symlink("akern.elf", os.path.join(IMG, "alink.elf"))
    os.symlink(os.path.join(DATA, "serve.lock"), os.path.join(IMG, "lock-link"))
    got = [req("POST", "/api/v1/vms", {"name": "bl", "kernel": "alink.elf"}, bob)[0],
           req("POST", "/api/v1/vms", {"name": "bl", "kernel": "k.elf", "initrd": "lock-link"}, bob)[0],
           req("PATCH", "/api/v1/vms/bvm", {"kernel": "alink.elf"}, bob)[0],
           req("PATCH", "/api/v1/vms/bvm", {"initrd": "alink.elf"}, bob)[0],
           req("PATCH", "/api/v1/vms/bvm", {"initrd": "lock-link"}, bob)[0]]
    _, bv = req("GET", "/api/v1/vms/bvm", None, bob)
    ok("tenant3-symlink-in-images-not-a-tenant-file", got == [400] * 5 and bv["kernel"] == "k.elf" and
       bv.get("initrd") is None and req("GET", "/api/v1/vms/bl", None, bob)[0] == 404, str((got, bv)))
    os.unlink(os.path.join(IMG, "alink.elf"))
    os.unlink(os.path.join(IMG, "lock-link"))
    # alice uses hers; only an administrator makes it public (or private again)
    st, _ = req("POST", "/api/v1/vms", {"name": "avm", "kernel": "akern.elf", "initrd": "apriv.iso",
                                        "cdroms": [{"image": "apriv.iso"}]}, alice)
    st2, _ = req("PATCH", "/api/v1/images/apriv.iso", {"public": True}, alice)
    st3, js3 = req("PATCH", "/api/v1/images/apriv.iso", {"public": True})
    seen = names(bob)
    st4, _ = req("PATCH", "/api/v1/vms/bvm", {"cdroms": [{"image": "apriv.iso"}]}, bob)
    st5, _ = req("PATCH", "/api/v1/vms/bvm", {"cdroms": [{"image": None}]}, bob)
    st6, js6 = req("PATCH", "/api/v1/images/apriv.iso", {"public": False})
    st7, _ = req("GET", "/api/v1/images/apriv.iso", None, bob)
    st8, _ = req("PATCH", "/api/v1/images/cd.iso", {"public": "yes"})
    ok("tenant3-image-public-by-admin", (st, st2, st3, st4, st5, st6, st7, st8) ==
       (201, 403, 200, 200, 200, 200, 404, 400) and "apriv.iso" in seen and js3["public"] and
       not js6["public"] and js6["owner"] == "alice", str((st, st2, st3, js3, seen, st4, st5, st6, js6,
                                                          st7, st8)))
    # a host file made private is the administrators' alone; deleting an image forgets its
    # owner: the name taken again is the new uploader's
    st, _ = req("PATCH", "/api/v1/images/cd.iso", {"public": False})
    st2, _ = req("GET", "/api/v1/images/cd.iso", None, alice)
    req("PATCH", "/api/v1/images/cd.iso", {"public": True})
    st3, _ = upload("bpriv.iso", b"\3" * 4096, bob)
    st4, _ = req("DELETE", "/api/v1/images/bpriv.iso", None, bob)
    st5, js5 = upload("bpriv.iso", b"\4" * 4096, alice)
    st6, _ = req("GET", "/api/v1/images/bpriv.iso", None, bob)
    ok("tenant3-image-private-host-file-and-reused-name", (st, st2, st3, st4, st5, st6) ==
       (200, 404, 201, 204, 201, 404) and js5["owner"] == "alice", str((st, st2, st3, st4, st5, js5, st6)))

    # a clone uses the images its source uses: not another user's private ones (bob may
    # control alice's VM, which boots from her private kernel)
    req("PUT", "/api/v1/vms/avm/permissions", {"grants": [{"user": "alice", "permissions": ["full"]},
                                                          {"user": "bob", "permissions": ["view", "control"]}]},
        alice)
    got = [raw("POST", "/api/v1/vms/avm/clone", {"name": "bclone", "linked": l}, bob) for l in (False, True)]
    req("PATCH", "/api/v1/vms/avm", {"template": True}, alice)
    got.append(raw("POST", "/api/v1/vms", {"name": "bclone", "from_template": "avm"}, bob))
    req("PATCH", "/api/v1/vms/avm", {"template": False}, alice)
    st, _ = req("GET", "/api/v1/vms/bclone")
    ok("tenant3-clone-needs-its-images", [g[0] for g in got] == [403] * 3 and st == 404 and
       not [g for g in got if b"akern" in g[1] or b"apriv" in g[1]], str((got, st)))
    # an upload that fails leaves no owner: the file the host places under that name later is
    # public
    st, _ = raw("PUT", "/api/v1/images/failed.iso?sha256=" + "0" * 64, None, alice, b"\7" * 4096)
    with open(os.path.join(IMG, "failed.iso"), "wb") as f:
        f.write(b"\7" * 4096)
    st2, js2 = req("GET", "/api/v1/images/failed.iso", None, bob)
    ok("tenant3-failed-upload-no-owner", st == 400 and st2 == 200 and js2["public"] and js2["owner"] is None,
       str((st, st2, js2)))
    # the host places a file under the name an upload is writing: the upload is refused (409)
    # and the file is the host's (public, no owner), not the uploader's
    s = socket.create_connection(("127.0.0.1", d.port), timeout=20)
    s.sendall(("PUT /api/v1/images/race.iso HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Length: 8192\r\nConnection: close\r\n\r\n" % alice).encode() + b"\1" * 4096)
    began = wait_for(lambda: [f for f in os.listdir(IMG) if f.startswith(".upload-race.iso")], 20)
    with open(os.path.join(IMG, "race.iso"), "wb") as f:
        f.write(b"\0" * 4096)
    s.sendall(b"\1" * 4096)
    answer = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        answer += chunk
    s.close()
    st2, js2 = req("GET", "/api/v1/images/race.iso", None, bob)
    st3 = req("DELETE", "/api/v1/images/race.iso", None, alice)[0]
    ok("tenant3-file-placed-during-upload-is-the-hosts", began and answer.startswith(b"HTTP/1.1 409") and
       st2 == 200 and (js2.get("owner"), js2.get("public")) == (None, True) and st3 == 403,
       str((began, answer[:200], st2, js2, st3)))
    # a deleted user's image stays private: the administrators' (its owner null)
    dave = user("dave")
    req("PUT", "/api/v1/permissions", {"grants": [{"user": n, "permissions": ["modify", "remove"]}
                                                  for n in ("alice", "bob", "dave")]})
    st, _ = upload("dave.iso", b"\6" * 4096, dave)
    st2, _ = req("DELETE", "/api/v1/users/dave")
    _, js = req("GET", "/api/v1/images/dave.iso")
    _, lst = req("GET", "/api/v1/images")
    st3, _ = req("GET", "/api/v1/images/dave.iso", None, bob)
    ok("tenant3-image-of-deleted-user", (st, st2, st3) == (201, 204, 404) and
       (js.get("owner"), js.get("public")) == (None, False) and
       [(i["owner"], i["public"]) for i in lst["images"] if i["name"] == "dave.iso"] == [(None, False)],
       str((st, st2, st3, js)))
    # a public image is every user's to use, not to delete: its owner's and the
    # administrators' (bob holds server remove)
    with open(os.path.join(IMG, "pub.iso"), "wb") as f:
        f.write(b"\0" * 4096)
    upload("apub.iso", b"\5" * 4096, alice)
    req("PATCH", "/api/v1/images/apub.iso", {"public": True})
    got = [req("DELETE", "/api/v1/images/" + n, None, bob)[0] for n in ("pub.iso", "adm.iso", "apub.iso")]
    got += [req("DELETE", "/api/v1/images/apub.iso", None, alice)[0], req("DELETE", "/api/v1/images/pub.iso")[0]]
    ok("tenant3-public-image-not-others-to-delete", got == [403, 403, 403, 204, 204] and
       "adm.iso" in names(adm), str(got))
    # the CLI lists what its user may see, with the owner; administrators edit
    r1 = cli(d, bob, "image", "list")
    r2 = cli(d, adm, "image", "list")
    r3 = cli(d, alice, "image", "edit", "apriv.iso", "--public", "yes")
    r4 = cli(d, adm, "image", "edit", "apriv.iso", "--public", "no")
    row = [l for l in r2[1].splitlines() if l.startswith("apriv.iso")]
    ok("tenant3-cli-image-owner", r1[0] == 0 and "apriv.iso" not in r1[1] and "cd.iso" in r1[1] and
       r2[0] == 0 and row and "alice" in row[0] and r3[0] == 1 and "administrators" in r3[1] and
       r4[0] == 0 and req("GET", "/api/v1/images/apriv.iso", None, bob)[0] == 404,
       str((r1, r2, r3, r4)))

    # === 3. a clone copies only the disks its caller may read ===========================
    req("POST", "/api/v1/disks", {"name": "cdisk", "size": 1 << 20, "format": "vhd"}, alice)
    req("POST", "/api/v1/vms", {"name": "cvm", "kernel": "k.elf", "disks": [{"disk": "cdisk"}]}, alice)
    req("POST", "/api/v1/disks", {"name": "secret", "size": 1 << 20, "format": "vhd"})
    req("POST", "/api/v1/disks", {"name": "rosecret", "size": 1 << 20, "format": "vhd"})
    st0, js0 = req("PATCH", "/api/v1/vms/cvm", {"disks": [{"disk": "cdisk"}, {"disk": "secret"}]})
    got = [raw("POST", "/api/v1/vms/cvm/clone", {"name": "stolen", "linked": l}, alice) for l in (False, True)]
    req("PATCH", "/api/v1/vms/cvm", {"disks": [{"disk": "cdisk"}, {"disk": "rosecret", "readonly": True}]})
    got += [raw("POST", "/api/v1/vms/cvm/clone", {"name": "stolen", "linked": l}, alice) for l in (False, True)]
    req("PATCH", "/api/v1/vms/cvm", {"template": True}, alice)
    got += [raw("POST", "/api/v1/vms", {"name": "stolen", "from_template": "cvm"}, alice)]
    req("PATCH", "/api/v1/vms/cvm", {"template": False}, alice)
    _, vms = req("GET", "/api/v1/vms")
    _, disks = req("GET", "/api/v1/disks")
    ok("tenant3-clone-needs-view-on-disks", st0 == 200 and [g[0] for g in got] == [403] * 5 and
       not [g for g in got if b"secret" in g[1]] and
       not [v for v in vms["vms"] if v["name"].startswith("stolen")] and
       not [x for x in disks["disks"] if x["name"].startswith("stolen")] and
       not [f for f in os.listdir(os.path.join(d.data, "disks")) if f.startswith("stolen")],
       str((st0, js0, got, [v["name"] for v in vms["vms"]], [x["name"] for x in disks["disks"]])))
    # view on the disk is enough (what GET /disks/NAME needs), and then it clones
    req("PUT", "/api/v1/disks/rosecret/permissions", {"grants": [{"user": "alice", "permissions": ["view"]}]})
    st, js = req("POST", "/api/v1/vms/cvm/clone", {"name": "ok1", "linked": True}, alice)
    req("PATCH", "/api/v1/vms/cvm", {"disks": [{"disk": "cdisk"}, {"disk": "secret"}]})
    req("PUT", "/api/v1/disks/secret/permissions", {"grants": [{"user": "alice", "permissions": ["view"]}]})
    st2, js2 = req("POST", "/api/v1/vms/cvm/clone", {"name": "ok2"}, alice)
    t = task_end(js2["task"], alice) if st2 == 202 else None
    ok("tenant3-clone-with-view-on-disks", st == 201 and t and t["state"] == "done" and
       req("GET", "/api/v1/disks/ok2-secret", None, alice)[0] == 200, str((st, js, st2, js2, t)))
    req("PUT", "/api/v1/disks/secret/permissions", {"grants": []})
    req("PATCH", "/api/v1/vms/cvm", {"disks": [{"disk": "cdisk"}]})

    # === 1. no host path reaches a tenant ===============================================
    # alice makes one of everything; the administrator's VM (its kernel by absolute path, in
    # and out of the images directory) and disk are granted to her for view
    req("POST", "/api/v1/disks", {"name": "pdisk", "size": 1 << 20, "format": "vhd"}, alice)
    req("POST", "/api/v1/vms", {"name": "pvm", "kernel": "k.elf", "initrd": "cd.iso",
                                "cdroms": [{"image": "adm.iso"}], "disks": [{"disk": "pdisk"}]}, alice)
    st1, _ = req("POST", "/api/v1/vms/pvm/snapshots", {"name": "s1"}, alice)
    st2, _ = req("POST", "/api/v1/vms/pvm/clone", {"name": "plink", "linked": True}, alice)
    st3, js3 = req("POST", "/api/v1/vms/pvm/clone", {"name": "pfull"}, alice)
    t3 = task_end(js3["task"], alice) if st3 == 202 else None
    st4, js4 = req("POST", "/api/v1/disks", {"name": "pimg", "from_image": "apriv.iso"}, alice)
    t4 = task_end(js4["task"], alice) if st4 == 202 else None
    st5, js5 = req("POST", "/api/v1/disks/pdisk/copy", {"name": "pcopy"}, alice)
    t5 = task_end(js5["task"], alice) if st5 == 202 else None
    st6, _ = req("POST", "/api/v1/networks", {"name": "pnet", "kind": "internal"}, alice)
    st7, _ = req("POST", "/api/v1/vms", {"name": "advm", "kernel": os.path.join(IMG, "k.elf"),
                                         "initrd": os.path.join(OUT, "own.elf")})
    st8, _ = req("POST", "/api/v1/vms", {"name": "advm2", "kernel": os.path.join(OUT, "own.elf")})
    req("POST", "/api/v1/disks", {"name": "addisk", "size": 1 << 20, "format": "vhd"})
    for k, n in (("vms", "advm"), ("vms", "advm2"), ("disks", "addisk")):
        req("PUT", "/api/v1/%s/%s/permissions" % (k, n), {"grants": [{"user": "alice", "permissions": ["view"]}]})
    # an administrator's change of a file by path: its event says no path to alice either
    st9, _ = req("PATCH", "/api/v1/vms/advm2", {"initrd": os.path.join(OUT, "own.elf"), "description": "p"})
    made = (st1, st2, st3, t3 and t3["state"], st4, t4 and t4["state"], st5, t5 and t5["state"], st6, st7, st8,
            st9)
    ok("tenant3-paths-setup", made == (201, 201, 202, "done", 202, "done", 202, "done", 201, 201, 201, 200),
       str(made))
    # the fields say names
    _, pv = req("GET", "/api/v1/vms/pvm", None, alice)
    _, av = req("GET", "/api/v1/vms/advm", None, alice)
    _, av2 = req("GET", "/api/v1/vms/advm2", None, alice)
    _, aav = req("GET", "/api/v1/vms/advm")
    _, lk = req("GET", "/api/v1/disks/plink-pdisk", None, alice)
    got = (pv["kernel"], pv["initrd"], av["kernel"], av["initrd"], av2["kernel"], lk["image"].get("parent"))
    ok("tenant3-vm-fields-are-names", got == ("k.elf", "cd.iso", "k.elf", None, None, "pdisk") and
       aav["kernel"] == "k.elf" and aav.get("initrd") is None and
       aav.get("initrd_path") == os.path.join(OUT, "own.elf"), str((got, aav)))
    # every answer and event alice may read
    paths = ["/api/v1/vms", "/api/v1/disks", "/api/v1/networks", "/api/v1/images", "/api/v1/tasks",
             "/api/v1/events?limit=1000", "/api/v1/whoami", "/api/v1/permissions", "/metrics",
             "/api/v1/host"]
    for v in ("pvm", "plink", "pfull", "advm", "advm2"):
        paths += ["/api/v1/vms/%s" % v, "/api/v1/vms/%s/status" % v, "/api/v1/vms/%s/snapshots" % v,
                  "/api/v1/vms/%s/undo-disks" % v, "/api/v1/vms/%s/permissions" % v]
    for k in ("pdisk", "plink-pdisk", "pfull-pdisk", "pimg", "pcopy", "addisk"):
        paths += ["/api/v1/disks/%s" % k]
    for i in ("akern.elf", "apriv.iso", "adm.iso", "k.elf", "cd.iso"):
        paths += ["/api/v1/images/%s" % i]
    for t in (js3, js4, js5):
        if isinstance(t, dict) and "task" in t:
            paths += ["/api/v1/tasks/%d" % t["task"]]
    bodies = [(p,) + raw("GET", p, None, alice) for p in paths]
    # errors that name the files: a kernel that is not one, a busy image, a medium of the
    # wrong kind, a disk from a kernel
    for m, p, b in (("POST", "/api/v1/vms", {"name": "e1", "kernel": "cd.iso"}),
                    ("PATCH", "/api/v1/vms/pvm", {"kernel": "apriv.iso"}),
                    ("PATCH", "/api/v1/vms/pvm", {"kernel": "nosuch.elf"}),
                    ("PATCH", "/api/v1/vms/pvm", {"cdroms": [{"image": "akern.elf"}]}),
                    ("DELETE", "/api/v1/images/adm.iso", None), ("DELETE", "/api/v1/images/akern.elf", None),
                    ("DELETE", "/api/v1/disks/pdisk", None), ("POST", "/api/v1/vms/plink/start", None),
                    ("POST", "/api/v1/disks", {"name": "e2", "from_image": "akern.elf"}),
                    ("PATCH", "/api/v1/disks/pdisk", {"size": 512})):
        bodies.append((m + " " + p,) + raw(m, p, b, alice))
    # (plink's start ends: the supervisor's writes meet no later request's transaction)
    req("POST", "/api/v1/vms/plink/off", None, alice)
    d.wait_state(alice, "plink", ("stopped", "crashed"), 30)
    # errors of files the host broke: a disk's image unreadable (its VHD footer gone), then
    # a copy, a full clone and a linked clone of it (the messages of the disk and VHD code
    # name files by path)
    req("POST", "/api/v1/disks", {"name": "broken", "size": 1 << 20, "format": "vhd"}, alice)
    req("POST", "/api/v1/vms", {"name": "bvm2", "kernel": "k.elf", "disks": [{"disk": "broken"}]}, alice)
    with open(os.path.join(d.data, "disks", "broken.vhd"), "r+b") as f:
        f.write(b"\xff" * 4096)
        f.seek(-512, 2)
        f.write(b"\xff" * 512)
    for m, p, b in (("GET", "/api/v1/disks/broken", None),
                    ("POST", "/api/v1/vms/bvm2/clone", {"name": "bc1", "linked": True}),
                    ("POST", "/api/v1/vms/bvm2/snapshots", {"name": "bs1"}),
                    ("PATCH", "/api/v1/disks/broken", {"size": 2 << 20})):
        bodies.append((m + " " + p,) + raw(m, p, b, alice))
    for p, b in (("/api/v1/vms/bvm2/clone", {"name": "bc2"}), ("/api/v1/disks/broken/copy", {"name": "bcopy"})):
        st, js = req("POST", p, b, alice)
        t = task_end(js["task"], alice) if st == 202 else None
        bodies.append(("task of " + p, st, json.dumps([js, t]).encode()))
    # the event stream, from the start of the history
    c = d.conn(timeout=3)
    c.request("GET", "/api/v1/events?follow=1&since=0", headers={"Authorization": "Bearer " + alice})
    sse = c.getresponse()
    buf = sse_read(sse)
    c.close()
    bodies.append(("events stream", sse.status, buf))
    # a viewer of the whole server (not an administrator) reads the server's pages too
    carol = user("carol")
    req("PUT", "/api/v1/permissions", {"grants": [{"user": "alice", "permissions": ["modify", "remove"]},
                                                  {"user": "bob", "permissions": ["modify", "remove"]},
                                                  {"user": "carol", "permissions": ["view"]}]})
    for p in ("/metrics", "/api/v1/host", "/api/v1/vms", "/api/v1/vms?limit=5", "/api/v1/disks",
              "/api/v1/disks/broken", "/api/v1/disks/plink-pdisk", "/api/v1/vms/advm", "/api/v1/tasks",
              "/api/v1/events?limit=1000"):
        bodies.append(("carol " + p,) + raw("GET", p, None, carol))
    leaks = [(p, st, b[max(0, b.find(x) - 80):b.find(x) + 80]) for p, st, b in bodies
             for x in (DATA.encode(), d.data.encode(), tmp.encode()) if x in b]
    ok("tenant3-no-host-path-in-%d-answers" % len(bodies), not leaks and b"vm-created" in buf and
       len([b for b in bodies if b[1] == 200]) >= len(paths) - 10, str(leaks[:4]))
    # the administrator still sees where a file is, beside the name
    _, lk = req("GET", "/api/v1/disks/plink-pdisk")
    _, bk = req("GET", "/api/v1/disks/broken")
    _, bk2 = req("GET", "/api/v1/disks/broken", None, alice)
    ok("tenant3-file-errors-say-DATA-to-tenants", DATA in bk["image"].get("error", "") and
       "DATA/disks/broken.vhd" in bk2["image"].get("error", ""), str((bk["image"], bk2["image"])))
    ok("tenant3-admin-sees-paths-beside-names", lk["image"].get("parent") == "pdisk" and
       lk["image"].get("parent_path", "").startswith(DATA) and
       aav.get("kernel_path") == os.path.join(os.path.realpath(IMG), "k.elf"), str((lk["image"], aav)))
finally:
    d.stop()
sys.exit(1 if fails else 0)
