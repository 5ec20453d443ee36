"""A hostile tenant against the newer endpoints (issue 10, second wave), over real HTTP,
see t-server-authz.sh: alice and bob hold server modify (they create VMs and disks) and
every permission on what they create, nothing on each other's; an administrator. Each
probe passes when the server refuses as it should: the right status, the same answer as
for a missing object when the caller may not see one, nothing changed, nothing leaked.
Saved states, snapshots, clones, CD/DVD media, balloon, guest agent, hooks, display and
console, tasks and events (also across a deleted and re-created name), metrics, hosts,
drain, balance, migrate, grants, users, host paths in a VM's fields, limits."""
import json, os, re, shutil, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
import lib

tmp = tempfile.mkdtemp(prefix="vsrv-tenant2.")
os.chmod(tmp, 0o711)
shim, vmm_argvs = vmm_shim(tmp)
d = Daemon(os.path.join(tmp, "data"), extra=["--vmm", shim]).start()
try:
    adm = d.login("admin", "adminpass1")
    IMG = os.path.join(d.data, "images")
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(IMG, "k.elf"))
    with open(os.path.join(IMG, "cd.iso"), "wb") as f:
        f.write(b"\0" * 4096)

    def req(m, p, b=None, tok=None):
        return d.req(m, p, b, token=tok or adm)

    def raw(m, p, b, tok, headers=None):
        """Status and body bytes, as the server sent them."""
        c = d.conn(timeout=10)
        h = dict(headers or {})
        if tok:
            h["Authorization"] = "Bearer " + tok
        if b is not None:
            h["Content-Type"] = "application/json"
        c.request(m, p, body=json.dumps(b) if b is not None else None, headers=h)
        r = c.getresponse()
        out = (r.status, r.read())
        c.close()
        return out

    def user(name):
        return new_user(d, adm, name)

    def task_end(tid, tok=None, timeout=30):
        return task_wait(d, tok or adm, tid, timeout)

    alice = user("alice")
    bob = user("bob")
    req("PUT", "/api/v1/permissions", {"grants": [{"user": "alice", "permissions": ["modify"]},
                                                  {"user": "bob", "permissions": ["modify"]}]})
    st1, _ = req("POST", "/api/v1/disks", {"name": "adisk", "size": 1 << 20}, alice)
    st2, _ = req("POST", "/api/v1/vms", {"name": "avm", "kernel": "k.elf",
                                         "disks": [{"disk": "adisk"}]}, alice)
    st3, _ = req("POST", "/api/v1/vms", {"name": "bvm", "kernel": "k.elf"}, bob)
    ok("tenant2-setup", (st1, st2, st3) == (201, 201, 201), str((st1, st2, st3)))

    # === every VM endpoint: another tenant's VM answers exactly as a missing one ========
    def walk(vm):
        return [
            ("GET", "/api/v1/vms/%s/snapshots" % vm, None),
            ("POST", "/api/v1/vms/%s/snapshots" % vm, {"name": "s1"}),
            ("POST", "/api/v1/vms/%s/snapshots" % vm, {"bogus": 1}),
            ("POST", "/api/v1/vms/%s/snapshots/s1/revert" % vm, None),
            ("DELETE", "/api/v1/vms/%s/snapshots/s1" % vm, None),
            ("POST", "/api/v1/vms/%s/clone" % vm, {"name": "stolen"}),
            ("POST", "/api/v1/vms/%s/clone" % vm, {"name": "stolen", "linked": True}),
            ("POST", "/api/v1/vms/%s/migrate" % vm, {"to": "elsewhere"}),
            ("POST", "/api/v1/vms/%s/media" % vm, {"drive": 0, "image": "cd.iso"}),
            ("POST", "/api/v1/vms/%s/media" % vm, {"drive": 0, "image": None}),
            ("GET", "/api/v1/vms/%s/balloon" % vm, None),
            ("PUT", "/api/v1/vms/%s/balloon" % vm, {"target_mib": 16}),
            ("GET", "/api/v1/vms/%s/agent" % vm, None),
            ("POST", "/api/v1/vms/%s/agent" % vm, {"command": "guest-ping"}),
            ("POST", "/api/v1/vms/%s/agent" % vm, {"command": "guest-exec",
                                                   "arguments": {"path": "/bin/sh"}}),
            ("GET", "/api/v1/vms/%s/undo-disks" % vm, None),
            ("POST", "/api/v1/vms/%s/undo-disks" % vm, {"action": "discard"}),
            ("GET", "/api/v1/vms/%s/screenshot" % vm, None),
            ("GET", "/api/v1/vms/%s/console/serial" % vm, None),
            ("GET", "/api/v1/vms/%s/console/vnc" % vm, None),
            ("POST", "/api/v1/vms/%s/save" % vm, None),
            ("POST", "/api/v1/vms/%s/discard-saved" % vm, None),
            ("POST", "/api/v1/vms/%s/start" % vm, {"host": "elsewhere"}),
            ("PATCH", "/api/v1/vms/%s" % vm, {"memory_min_mib": 64, "memory_buffer_pct": 50}),
            ("PATCH", "/api/v1/vms/%s" % vm, {"cdroms": [{"image": "cd.iso"}]}),
            ("PATCH", "/api/v1/vms/%s" % vm, {"template": True}),
        ]
    missing = [raw(m, p, b, bob) for m, p, b in walk("ghost")]
    hidden = [raw(m, p, b, bob) for m, p, b in walk("avm")]
    diff = ["%s %s: %s, missing: %s" % (m, p, h, x) for (m, p, b), h, x in
            zip(walk("avm"), hidden, [(s, t.replace(b"ghost", b"avm")) for s, t in missing])
            if h != x or h[0] != 404]
    ok("tenant2-other-vm-as-missing-%d-requests" % len(hidden), not diff, "; ".join(diff[:3]))
    # the same through a WebSocket handshake (the display and the serial console)
    ws = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    got = [raw("GET", "/api/v1/vms/%s/console/%s" % (v, k), None, bob, ws)
           for v in ("avm", "ghost") for k in ("vnc", "serial")]
    ok("tenant2-other-vm-websocket-as-missing", [g[0] for g in got] == [404] * 4 and
       got[0][1].replace(b"avm", b"ghost") == got[2][1], str(got))
    # the session cookie (for browsers' WebSockets) is no credential for the other routes:
    # a cross-site form cannot act with it
    got = [raw(m, p, b, None, {"Cookie": "vsrv_session=" + alice})[0] for m, p, b in (
        ("GET", "/api/v1/vms", None), ("POST", "/api/v1/vms/avm/start", None),
        ("PUT", "/api/v1/vms/avm/permissions", {"grants": [{"user": "bob", "permissions": ["full"]}]}),
        ("POST", "/api/v1/vms/avm/agent", {"command": "guest-ping"}))]
    ok("tenant2-cookie-only-for-websockets", got == [401] * 4, str(got))
    # a template of someone else's that is not published answers as a missing one
    a_t = raw("POST", "/api/v1/vms", {"name": "tclone", "from_template": "avm"}, bob)
    a_g = raw("POST", "/api/v1/vms", {"name": "tclone", "from_template": "ghost"}, bob)
    ok("tenant2-from-invisible-template-as-missing", a_t[0] == 404 and
       a_t[1].replace(b"avm", b"ghost") == a_g[1], str((a_t, a_g)))
    _, js = req("GET", "/api/v1/vms/avm")
    _, vms = req("GET", "/api/v1/vms")
    ok("tenant2-other-vm-unchanged", not js.get("template") and js.get("cdroms") in ([], None) and
       sorted(v["name"] for v in vms["vms"]) == ["avm", "bvm"], str((js, vms)))

    # === the guest agent's commands that reach into the guest need guest-agent =========
    got = [raw("POST", "/api/v1/vms/avm/agent", {"command": c, "arguments": a}, alice)
           for c, a in (("guest-exec", {"path": "/bin/sh"}), ("guest-file-open", {"path": "/etc/shadow"}),
                        ("guest-set-user-password", {"username": "root", "password": "eA==",
                                                     "crypted": False}),
                        ("guest-ssh-add-authorized-keys", {"username": "root", "keys": ["x"]}))]
    ok("tenant2-agent-full-is-not-guest-agent", [g[0] for g in got] == [403] * 4, str(got))
    # nor can alice grant it to herself or bob (she does not hold it)
    st, js = req("PUT", "/api/v1/vms/avm/permissions", {"grants": [
        {"user": "alice", "permissions": ["full", "guest-agent"]}]}, alice)
    st2, js2 = req("PUT", "/api/v1/vms/avm/permissions", {"grants": [
        {"user": "alice", "permissions": ["full"]}, {"user": "bob", "permissions": ["guest-agent"]}]}, alice)
    _, g = req("GET", "/api/v1/vms/avm/permissions")
    ok("tenant2-cannot-grant-guest-agent", st == 403 and st2 == 403 and
       g["grants"] == [{"user": "alice", "permissions": ["full"]}], str((st, js, st2, g)))
    # ... nor through a group she creates or joins
    st, js = req("POST", "/api/v1/groups", {"name": "agents", "members": ["alice"]}, alice)
    ok("tenant2-cannot-make-groups", st == 403, str((st, js)))

    # === hooks run commands on the host: administrators only ===========================
    walk_h = [("GET", "/api/v1/hooks", None), ("GET", "/api/v1/hooks/1", None),
              ("POST", "/api/v1/hooks", {"event": "*", "command": "touch %s/pwned" % tmp}),
              ("POST", "/api/v1/hooks", {"event": "*", "url": "http://127.0.0.1:1/x"}),
              ("DELETE", "/api/v1/hooks/1", None)]
    req("POST", "/api/v1/hooks", {"event": "vm-crashed", "command": "true"})
    got = [raw(m, p, b, alice)[0] for m, p, b in walk_h]
    _, hooks = req("GET", "/api/v1/hooks")
    req("PATCH", "/api/v1/vms/avm", {"description": "an event for a hook"}, alice)
    time.sleep(0.3)
    ok("tenant2-hooks-admin-only", got == [403] * 5 and len(hooks["hooks"]) == 1 and
       not os.path.exists(os.path.join(tmp, "pwned")), str((got, hooks)))

    # === the server's business: hosts, metrics, drain, balance, images' admin ===========
    got = [raw(m, p, b, alice)[0] for m, p, b in (
        ("GET", "/metrics", None), ("GET", "/api/v1/host", None), ("GET", "/api/v1/hosts", None),
        ("POST", "/api/v1/hosts/localhost/drain", None), ("DELETE", "/api/v1/hosts/localhost/drain", None),
        ("POST", "/api/v1/cluster/balance", None), ("DELETE", "/api/v1/images/cd.iso", None),
        ("GET", "/api/v1/users", None), ("GET", "/api/v1/groups", None))]
    ok("tenant2-server-endpoints-refused", got == [403] * 9 and os.path.exists(os.path.join(IMG, "cd.iso")),
       str(got))
    st, js = req("PATCH", "/api/v1/users/alice", {"admin": True}, alice)
    st2, js2 = req("PATCH", "/api/v1/users/alice", {"groups": ["agents"]}, alice)
    st3, _ = req("GET", "/api/v1/whoami", None, alice)
    _, me = req("GET", "/api/v1/users/alice")
    ok("tenant2-cannot-promote-self", st == 403 and st2 in (400, 403) and not me["admin"], str((st, js, st2, js2)))

    # === host paths in a VM's fields ===================================================
    os.makedirs(os.path.join(d.data, "vms"), exist_ok=True)
    os.symlink(os.path.join(d.data, "inventory.db"), os.path.join(IMG, "inv-link"))
    probes = [("kernel", "/etc/passwd"), ("kernel", "../inventory.db"), ("initrd", "/etc/shadow"),
              ("initrd", "../inventory.db"), ("initrd", "./../inventory.db"),
              ("initrd", "../../../../proc/self/environ"), ("initrd", "/proc/self/environ"),
              ("kernel", "k.elf/../../inventory.db")]
    got = []
    for field, path in probes:
        b = {"name": "pathvm", "kernel": "k.elf"}
        b[field] = path
        got.append((field, path, req("POST", "/api/v1/vms", b, alice)[0],
                    req("PATCH", "/api/v1/vms/avm", {field: path}, alice)[0]))
    _, js = req("GET", "/api/v1/vms/avm")
    bad = [g for g in got if g[2] not in (400, 403) or g[3] not in (400, 403)]
    ok("tenant2-vm-host-paths-refused", not bad and js.get("initrd") in (None, "") and
       js["kernel"] == "k.elf", str((bad, js.get("kernel"), js.get("initrd"))))
    # the image store's names stay plain names: no path, no symbolic link
    got = [req("PATCH", "/api/v1/vms/avm", {"cdroms": [{"image": n}]}, alice)[0]
           for n in ("../inventory.db", "/etc/passwd", "inv-link", ".", "..")]
    got2 = [req("POST", "/api/v1/vms/avm/media", {"drive": 0, "image": n}, alice)[0]
            for n in ("../inventory.db", "/etc/passwd", "inv-link")]
    got3 = [req("POST", "/api/v1/disks", {"name": "fromimg", "from_image": n}, alice)[0]
            for n in ("../inventory.db", "/etc/passwd", "inv-link", "../disks/adisk.raw")]
    _, js = req("GET", "/api/v1/vms/avm")
    ok("tenant2-image-names-no-paths", all(s in (400, 404) for s in got + got2 + got3) and
       js.get("cdroms") in ([], None), str((got, got2, got3, js.get("cdroms"))))
    # a disk (or anything) by path is not a field tenants have
    st, js = req("POST", "/api/v1/disks", {"name": "bypath", "size": 4096,
                                           "path": os.path.join(d.data, "inventory.db")}, alice)
    st2, js2 = req("PATCH", "/api/v1/vms/avm", {"disks": [{"disk": "adisk", "path": "/etc/passwd"}]}, alice)
    st3, js3 = req("PATCH", "/api/v1/vms/avm", {"vmm_args": ["--serial", "file:/etc/passwd"]}, alice)
    ok("tenant2-no-path-fields", (st, st2, st3) == (400, 400, 400), str((st, js, st2, js2, st3, js3)))

    # === a NAT network's gateway does not lead to the host's loopback (etcd, the API...) =
    st, _ = req("POST", "/api/v1/networks", {"name": "anat", "kind": "nat"}, alice)
    st2, _ = req("POST", "/api/v1/vms", {"name": "natvm", "kernel": "k.elf", "nics": [{"network": "anat"}]},
                 alice)
    n0 = len(vmm_argvs())
    st3, _ = req("POST", "/api/v1/vms/natvm/start", None, alice)
    wait_for(lambda: len(vmm_argvs()) > n0, 30)
    argv = (vmm_argvs()[n0:] or [[]])[-1]
    nets = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--net"]
    ok("tenant2-nat-no-host-loopback", (st, st2) == (201, 201) and len(nets) == 1 and
       nets[0].startswith("user,") and "hostloop=off" in nets[0].split(","), str((st, st2, st3, nets, argv)))
    req("POST", "/api/v1/vms/natvm/off", None, alice)
    d.wait_state(alice, "natvm", ("stopped", "crashed"), 30)

    # === tasks and events of another tenant's objects, also across a re-used name ======
    st, js = req("POST", "/api/v1/disks/adisk/copy", {"name": "acopy"}, alice)
    t = task_end(js["task"], alice) if st == 202 else None
    st2, _ = req("GET", "/api/v1/tasks/%d" % js["task"], None, bob) if st == 202 else (None, None)
    _, lst = req("GET", "/api/v1/tasks", None, bob)
    _, ev = req("GET", "/api/v1/events?limit=1000", None, alice)
    _, tl = req("GET", "/api/v1/tasks", None, alice)
    ok("tenant2-events-tasks-name-no-host-path", d.data.encode() not in json.dumps([ev, tl]).encode() and
       [e["message"] for e in ev["events"] if e["type"] == "disk-created" and e["object"] == "acopy"] ==
       ["disk acopy created by alice (from disk adisk)"],
       str([e for e in ev["events"] if d.data in json.dumps(e)][:2]))
    ok("tenant2-other-task-invisible", t and t["state"] == "done" and st2 == 404 and
       not [x for x in lst["tasks"] if x["user"] == "alice"], str((st, js, t, st2, lst)))
    # alice's secret in her VM's events and her disk's task; then she deletes both and
    # bob takes the names: what was hers stays hers
    req("POST", "/api/v1/vms", {"name": "reused", "kernel": "k.elf"}, alice)
    req("PATCH", "/api/v1/vms/reused", {"description": "alice-secret-1234", "cmdline": "pw=alice-secret-1234"},
        alice)
    req("POST", "/api/v1/disks", {"name": "rdisk", "size": 1 << 20}, alice)
    st, js = req("POST", "/api/v1/disks/rdisk/copy", {"name": "rcopy"}, alice)
    task_end(js["task"], alice)
    tid = js["task"]
    req("POST", "/api/v1/disks/rdisk/convert", {"name": "rcopy", "format": "vhd"}, alice)
    st1, _ = req("DELETE", "/api/v1/vms/reused", None, alice)
    st2, _ = req("DELETE", "/api/v1/disks/rcopy", None, alice)
    time.sleep(1.1)   # a task is told from its disk's earlier namesake by the Unix second
    st3, _ = req("POST", "/api/v1/vms", {"name": "reused", "kernel": "k.elf"}, bob)
    st4, _ = req("POST", "/api/v1/disks", {"name": "rcopy", "size": 1 << 20}, bob)
    _, ev = req("GET", "/api/v1/events?limit=1000", None, bob)
    leak = [e for e in ev["events"] if e.get("user") == "alice" or "alice" in json.dumps(e)]
    ok("tenant2-events-of-reused-name-not-shown", (st1, st2, st3, st4) == (204, 204, 201, 201) and
       not leak, str(leak[:3]))
    # the same through the event stream, from the start of the history
    c = d.conn(timeout=10)
    c.request("GET", "/api/v1/events?follow=1&since=0", headers={"Authorization": "Bearer " + bob})
    sse = c.getresponse()
    buf = sse_read(sse, rb'"type":"disk-created","object_type":"disk","object":"rcopy","user":"bob"')
    c.close()
    ok("tenant2-event-stream-of-reused-name-not-shown", sse.status == 200 and b'"user":"bob"' in buf and
       b"alice" not in buf, buf.decode(errors="replace")[-600:])
    # a user's logins (and failed ones, with their addresses) are not its namesake's
    user("carol")
    d.req("POST", "/api/v1/login", {"user": "carol", "password": "wrong-password"})
    st6, _ = req("DELETE", "/api/v1/users/carol")
    carol = user("carol")
    _, ev = req("GET", "/api/v1/events?limit=1000", None, carol)
    ok("tenant2-logins-of-reused-user-name-not-shown", st6 == 204 and
       [e["type"] for e in ev["events"]] == ["login"], str(ev))
    st5, tj = req("GET", "/api/v1/tasks/%d" % tid, None, bob)
    _, lst = req("GET", "/api/v1/tasks", None, bob)
    ok("tenant2-tasks-of-reused-name-not-shown", st5 == 404 and
       not [x for x in lst["tasks"] if x["user"] == "alice"], str((st5, tj, lst)))

    # === a VM's deletion with its disks takes only the disks its caller may remove ======
    req("PUT", "/api/v1/permissions", {"grants": [{"user": "alice", "permissions": ["modify", "remove"]},
                                                  {"user": "bob", "permissions": ["modify"]}]})
    req("POST", "/api/v1/disks", {"name": "adminsecret", "size": 1 << 20})
    req("POST", "/api/v1/disks", {"name": "bobdisk", "size": 1 << 20}, bob)
    req("POST", "/api/v1/disks", {"name": "adel", "size": 1 << 20}, alice)
    st0, _ = req("POST", "/api/v1/vms", {"name": "delvm", "kernel": "k.elf", "disks": [{"disk": "adel"}]},
                 alice)
    st1, _ = req("PATCH", "/api/v1/vms/delvm", {"disks": [{"disk": "adel"}, {"disk": "adminsecret"},
                                                          {"disk": "bobdisk", "readonly": True}]})
    paths = [os.path.join(d.data, "disks", n + ".raw") for n in ("adminsecret", "bobdisk", "adel")]
    st2, js2 = req("DELETE", "/api/v1/vms/delvm?disks=true", None, alice)
    left = [req("GET", "/api/v1/disks/" + n)[0] for n in ("adminsecret", "bobdisk", "adel")]
    ok("tenant2-vm-delete-with-disks-only-removable", (st0, st1, st2) == (201, 200, 204) and
       left == [200, 200, 404] and [os.path.exists(p) for p in paths] == [True, True, False],
       str((st0, st1, st2, js2, left)))

    # === limits: huge bodies, deep JSON, long names, many objects =======================
    st, _ = d.req("POST", "/api/v1/vms", raw=b'{"name": "' + b"x" * (32 << 20) + b'"}', token=alice)
    st2, _ = d.req("PATCH", "/api/v1/vms/avm", raw=b"[" * 30000 + b"]" * 30000, token=alice)
    st3, _ = d.req("PATCH", "/api/v1/vms/avm", {"description": "x" * 5000}, token=alice)
    st4, _ = d.req("POST", "/api/v1/vms", {"name": "n" * 64, "kernel": "k.elf"}, token=alice)
    st5, _ = d.req("POST", "/api/v1/vms/avm/snapshots", {"name": "s" * 64}, token=alice)
    st6, _ = d.req("POST", "/api/v1/vms/avm/agent", {"command": "guest-ping", "arguments": {}},
                   token=alice)   # not running: 409, before any guest is involved
    st7, _ = req("GET", "/api/v1/health")
    ok("tenant2-limits", st in (400, 413) and st2 == 400 and st3 == 400 and st4 == 400 and st5 == 400 and
       st6 == 409 and st7 == 200, str((st, st2, st3, st4, st5, st6, st7)))
finally:
    d.stop()
sys.exit(1 if fails else 0)
