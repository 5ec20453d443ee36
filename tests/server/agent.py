"""A VM's guest agent through the API (see t-server-agent.sh): the agent field and endpoint,
the command table's permissions (guest-agent is not part of full), bad bodies, the state
check; with /dev/kvm, a shutdown of a VM without an agent falls back to the ACPI power
button and its event says so. The protocol itself is tested against the real qemu-ga by
build/tests/unit-server-agent (a running VM's agent needs KVM)."""
import glob, json, os, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *

tmp = tempfile.mkdtemp(prefix="vsrv-agent.")
d = Daemon(os.path.join(tmp, "data"), extra=["--shutdown-timeout", "2"]).start()
try:
    adm = d.login("admin", "adminpass1")
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(d.data, "images", "k.elf"))

    def req(m, p, b=None, tok=None):
        return d.req(m, p, b, token=tok or adm)

    def user(name):
        req("POST", "/api/v1/users", {"name": name, "password": "Password-" + name})
        return d.login(name, "Password-" + name)

    st, js = req("POST", "/api/v1/vms", {"name": "av", "kernel": "k.elf"})
    ok("agent-vm-created", st == 201, str((st, js)))
    absent = {"status": "absent", "last_seen": None, "os": None, "hostname": None,
              "interfaces": None, "users": None}
    st, js = req("GET", "/api/v1/vms/av")
    ok("agent-field-absent-when-stopped", st == 200 and js.get("agent") == absent, str(js))
    st, js = req("GET", "/api/v1/vms/av/agent")
    ok("agent-endpoint-absent-when-stopped", st == 200 and js == absent, str((st, js)))
    st, js = req("POST", "/api/v1/vms/av/agent", {"command": "guest-ping"})
    ok("agent-command-needs-running-vm", st == 409 and "not running" in js["error"]["message"],
       str((st, js)))
    bad = [{}, {"command": "guest-nope"}, {"command": "guest-ping", "extra": 1},
           {"command": "guest-ping", "arguments": []}, {"command": "guest-ping", "timeout_ms": 0},
           {"command": 7}, {"command": "guest-sync-delimited"}, {"command": "guest-ping\n"}]
    codes = [req("POST", "/api/v1/vms/av/agent", b)[0] for b in bad]
    ok("agent-bad-bodies-400", codes == [400] * len(bad), str(codes))
    st, js = req("POST", "/api/v1/vms/nosuch/agent", {"command": "guest-ping"})
    ok("agent-unknown-vm-404", st == 404, str((st, js)))

    # guest-agent: administrators hold it; full does not include it; a grant names it.
    st, js = req("GET", "/api/v1/whoami")
    ok("agent-admin-holds-guest-agent", "guest-agent" in js.get("server_permissions", []), str(js))
    owner = user("owner")
    viewer = user("viewer")
    req("PUT", "/api/v1/vms/av/permissions", {"grants": [
        {"user": "owner", "permissions": ["full"]}, {"user": "viewer", "permissions": ["view"]}]})
    st, js = req("POST", "/api/v1/vms/av/agent", {"command": "guest-exec", "arguments":
                                                  {"path": "/bin/true"}}, owner)
    ok("agent-exec-not-in-full", st == 403 and "guest-agent" in js["error"]["message"], str((st, js)))
    st, js = req("POST", "/api/v1/vms/av/agent", {"command": "guest-set-user-password"}, owner)
    ok("agent-password-not-in-full", st == 403, str((st, js)))
    st, js = req("POST", "/api/v1/vms/av/agent", {"command": "guest-ping"}, owner)
    ok("agent-ping-with-full", st == 409, str((st, js)))
    st, js = req("POST", "/api/v1/vms/av/agent", {"command": "guest-shutdown"}, viewer)
    ok("agent-shutdown-needs-control", st == 403 and "control" in js["error"]["message"], str((st, js)))
    st, js = req("GET", "/api/v1/vms/av/agent", tok=viewer)
    ok("agent-status-with-view", st == 200 and js == absent, str((st, js)))
    # full cannot hand out what it does not hold
    st, js = req("PUT", "/api/v1/vms/av/permissions", {"grants": [
        {"user": "owner", "permissions": ["full"]}, {"user": "viewer", "permissions": ["guest-agent"]}]},
        owner)
    ok("agent-full-cannot-grant-guest-agent", st == 403, str((st, js)))
    st, js = req("PUT", "/api/v1/vms/av/permissions", {"grants": [
        {"user": "owner", "permissions": ["full", "guest-agent"]}]})
    ok("agent-grant-guest-agent", st == 200 and any(
        "guest-agent" in g["permissions"] for g in js["grants"]), str((st, js)))
    st, js = req("POST", "/api/v1/vms/av/agent", {"command": "guest-exec", "arguments":
                                                  {"path": "/bin/true"}}, owner)
    ok("agent-exec-with-grant", st == 409, str((st, js)))
    st, js = req("GET", "/api/v1/vms/av", tok=owner)
    ok("agent-vm-permissions-list-it", st == 200 and js["permissions"] == ["full", "guest-agent"],
       str(js.get("permissions")))

    # the CLI: `vsrv vm agent NAME` prints it, --run sends a command
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSRV_")}
    env.update(HOME=tmp, VSRV_SERVER="http://127.0.0.1:%d" % d.port, VSRV_TOKEN=adm)
    r = subprocess.run([VSRV, "vm", "agent", "av"], env=env, capture_output=True, text=True, timeout=30)
    ok("agent-cli-show", r.returncode == 0 and r.stdout.split() == ["agent:", "absent"], r.stdout + r.stderr)
    r = subprocess.run([VSRV, "vm", "agent", "av", "--json"], env=env, capture_output=True, text=True,
                       timeout=30)
    ok("agent-cli-json", r.returncode == 0 and json.loads(r.stdout) == absent, r.stdout + r.stderr)
    r = subprocess.run([VSRV, "vm", "agent", "av", "--run", "guest-get-time"], env=env,
                       capture_output=True, text=True, timeout=30)
    ok("agent-cli-run-not-running", r.returncode == 1 and "not running" in r.stderr, r.stdout + r.stderr)
    r = subprocess.run([VSRV, "vm", "agent", "av", "--run", "guest-exec", "--args", "[1]"], env=env,
                       capture_output=True, text=True, timeout=30)
    ok("agent-cli-bad-args", r.returncode == 2 and "JSON object" in r.stderr, r.stdout + r.stderr)

    # The server gives every VM its agent port (--device vport,...,name=org.qemu.guest_agent.0):
    # the real vsrv takes that argv (without KVM it then stops at /dev/kvm, not at the spec).
    if not have_kvm():
        req("POST", "/api/v1/vms/av/start")
        js = d.wait_state(adm, "av", ("crashed", "stopped"), 20)
        reason = ((js or {}).get("last_exit") or {}).get("reason", "")
        ok("agent-port-spec-accepted-by-vmm", "/dev/kvm" in reason and "--device" not in reason,
           str(js))
        skip("agent-shutdown-falls-back-to-acpi", "no usable /dev/kvm")
    else:
        shutil.copy(os.path.join(GUESTS, "console.elf"), os.path.join(d.data, "images", "c.elf"))
        req("POST", "/api/v1/vms", {"name": "ac", "kernel": "c.elf"})
        req("POST", "/api/v1/vms/ac/start")
        d.wait_state(adm, "ac", ("running",))
        st, js = req("GET", "/api/v1/vms/ac/agent")
        ok("agent-absent-without-agent", st == 200 and js["status"] == "absent", str((st, js)))
        socks = glob.glob(os.path.join(d.data, "vms", "*", "agent.sock"))
        ok("agent-port-socket-made-by-vmm", len(socks) == 1, str(socks))
        st, js = req("POST", "/api/v1/vms/ac/shutdown")
        js = d.wait_state(adm, "ac", ("stopped",), 10)
        evs = [e for e in req("GET", "/api/v1/events?limit=1000")[1]["events"]
               if e["type"] == "vm-stopping" and e["object"] == "ac"]
        data = evs[-1].get("data") or {} if evs else {}
        ok("agent-shutdown-falls-back-to-acpi", js and data.get("method") == "acpi" and
           data.get("agent") == "guest agent absent" and data.get("timeout_s") == 2 and
           "ACPI power button" in evs[-1]["message"], str(evs[-1:]))
    # With KVM, the Linux test guest with Debian's qemu-ga (initramfs-agent.cpio, vsrv_agent=1)
    # on the VMM's own port: the heartbeat, what the agent says, commands through the API,
    # freeze and thaw, and a shutdown through the agent.
    LG = os.path.join(GUESTS, "linux")
    if not have_kvm() or not os.path.exists(os.path.join(LG, "initramfs-agent.cpio")):
        skip("agent-linux-guest", "no usable /dev/kvm or build/guests/linux/initramfs-agent.cpio")
    else:
        for f in ("bzImage", "initramfs-agent.cpio"):
            shutil.copy(os.path.join(LG, f), os.path.join(d.data, "images", f))
        cmdline = open(os.path.join(ROOT, "guests", "linux", "cmdline")).read().strip() + " vsrv_agent=1"
        st, js = req("POST", "/api/v1/vms", {"name": "lg", "kernel": "bzImage", "initrd": "initramfs-agent.cpio",
                                             "cmdline": cmdline, "memory_mib": 256})
        req("POST", "/api/v1/vms/lg/start")
        ag = wait_for(lambda: (lambda a: a if a["status"] == "responding" and a["users"] is not None
                               and a["interfaces"] is not None else None)(req("GET", "/api/v1/vms/lg")[1]["agent"]),
                      180, 0.5)
        ok("agent-linux-responding", ag and ag["os"]["id"] == "vsrv" and
           any(i["name"] == "lo" for i in ag["interfaces"]), str(ag))
        st, js = req("POST", "/api/v1/vms/lg/agent", {"command": "guest-get-time"})
        ok("agent-linux-get-time", st == 200 and abs(js["return"] / 1e9 - time.time()) < 300, str((st, js)))
        codes = [req("POST", "/api/v1/vms/lg/agent", {"command": c, "arguments": a})[0] for c, a in
                 (("guest-fsfreeze-freeze-list", {"mountpoints": ["/tmp"]}), ("guest-fsfreeze-status", {}),
                  ("guest-fsfreeze-thaw", {}))]
        st, js = req("POST", "/api/v1/vms/lg/agent", {"command": "guest-fsfreeze-status"})
        ok("agent-linux-freeze-thaw", codes == [200] * 3 and js == {"return": "thawed"}, str((codes, js)))
        st, js = req("POST", "/api/v1/vms/lg/agent", {"command": "guest-exec", "arguments":
                                                      {"path": "/bin/echo", "arg": ["hi"], "capture-output": True}})
        ok("agent-linux-exec-admin", st == 200 and js["return"]["pid"] > 0, str((st, js)))
        req("POST", "/api/v1/vms/lg/shutdown")
        js = d.wait_state(adm, "lg", ("stopped",), 60)
        evs = [e for e in req("GET", "/api/v1/events?limit=1000")[1]["events"]
               if e["type"] == "vm-stopping" and e["object"] == "lg"]
        ok("agent-linux-shutdown-through-agent", js and js["last_exit"]["exit"] == "exited 0" and evs and
           (evs[-1].get("data") or {}).get("method") == "agent", str((js, evs[-1:])))
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
