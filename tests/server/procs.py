"""A VM's processes (issue 10, items 5 and 7): a monitor's death takes its VMM with it; the
server never runs two VMMs for one VM and leaves none behind (start/off storms, a SIGKILLed
monitor under restart policy on-failure); server-started VMs run as an unprivileged user
(`vsrv serve --run-as`, default the system user vsrv) and get none of the server's file
descriptors. The parts that need a running VM need /dev/kvm; the monitor's own contract and
the server's user handling are checked everywhere."""
import ast, os, pwd, shutil, signal, sqlite3, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def alive(pid):
    s = proc_state(pid)
    return s is not None and s != "Z"


def ppid_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def procs_with(text, exclude=()):
    """Live processes whose command line mentions text (zombies have none)."""
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit() and int(e) not in exclude and int(e) != os.getpid():
            if any(text.encode() in a for a in cmdline(int(e))):
                out.append(int(e))
    return out


def fd_targets(pid):
    d = "/proc/%d/fd" % pid
    out = {}
    for fd in os.listdir(d):
        try:
            out[int(fd)] = os.readlink(os.path.join(d, fd))
        except OSError:
            pass
    return out


def status_field(pid, name):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith(name + ":"):
                return line.split()[1:]
    except OSError:
        pass
    return None


tmp = tempfile.mkdtemp(prefix="vsrv-procs.")
try:
    # --- the monitor: its VMM dies with it, and gets only the console's fds ----------------
    mdir = os.path.join(tmp, "mon")
    os.makedirs(mdir)
    extra = open(os.path.join(tmp, "inherited"), "w")
    sleep = shutil.which("sleep")
    mon = subprocess.Popen([VSRV, "monitor", mdir, "--", sleep, "600"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, pass_fds=(extra.fileno(),))
    vp = wait_for(lambda: int(open(os.path.join(mdir, "vmm.pid")).read() or 0)
                  if os.path.exists(os.path.join(mdir, "vmm.pid")) else 0, 10)
    vp = vp and wait_for(lambda: vp if cmdline(vp)[:1] == [sleep.encode()] else 0, 10)
    fds = fd_targets(vp) if vp else {}
    ok("monitor-vmm-fds", vp and sorted(fds) == [0, 1, 2], "the VMM has %s" % fds)
    mon.send_signal(signal.SIGKILL)
    mon.wait()
    ok("monitor-death-kills-vmm", vp and wait_for(lambda: not alive(vp), 10),
       "the VMM (pid %s) outlived its SIGKILLed monitor" % vp)
    if vp and alive(vp):
        os.kill(vp, signal.SIGKILL)
    extra.close()

    # --- the user VMs run as ----------------------------------------------------------------
    def serve_fails(args):
        p = subprocess.run([VSRV, "serve", "--data-dir", os.path.join(tmp, "bad"), "--no-tcp"] + args,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        return p.returncode, p.stdout.decode(errors="replace")

    rc, out = serve_fails(["--run-as", "no-such-user-here"])
    ok("serve-run-as-unknown", rc == 1 and "no such user" in out, "status %d: %s" % (rc, out))
    if os.geteuid() != 0:
        skip("serve-run-as-default-user", "not root")
    else:
        d0 = Daemon(os.path.join(tmp, "u")).start()
        d0.stop()
        try:
            pw = pwd.getpwnam("vsrv")
        except KeyError:
            pw = None
        ok("serve-run-as-default-user", pw and pw.pw_uid != 0 and pw.pw_shell.endswith("nologin"),
           "user vsrv: %s" % (pw,))

    # The useradd that creates that user gets none of the server's descriptors either: only
    # stdin, stdout and stderr. A stand-in useradd (bound over /usr/sbin/useradd, with an
    # /etc/passwd without vsrv, in a mount namespace of its own) records the descriptors it
    # has, and the server holds one it was started with (not close-on-exec).
    if os.geteuid() != 0 or not shutil.which("unshare") or \
            subprocess.run(["unshare", "-m", "true"], stderr=subprocess.DEVNULL).returncode:
        skip("serve-useradd-inherits-no-fds", "needs root and a mount namespace (unshare -m)")
    else:
        ua, seen, passwd = (os.path.join(tmp, n) for n in ("useradd", "useradd.fds", "passwd"))
        with open(ua, "w") as f:
            f.write("#!%s -S\nimport os\nd = '/proc/self/fd'\nfds = []\nfor n in os.listdir(d):\n"
                    "    try:\n        fds.append((int(n), os.readlink(d + '/' + n)))\n"
                    "    except OSError:\n        pass  # the listing's own\n"
                    "open(%r, 'w').write(repr(sorted(fds)))\nraise SystemExit(1)\n" % (sys.executable, seen))
        os.chmod(ua, 0o755)
        with open("/etc/passwd") as src, open(passwd, "w") as dst:
            dst.writelines(l for l in src if not l.startswith("vsrv:"))
        held = open(os.path.join(tmp, "held-by-the-server"), "w")
        p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            'mount --bind "$1" /usr/sbin/useradd && mount --bind "$2" /etc/passwd && '
                            'exec "$3" serve --data-dir "$4" --no-tcp', "sh", ua, passwd, VSRV,
                            os.path.join(tmp, "ua")],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           pass_fds=(held.fileno(),), timeout=30)
        held.close()
        out = p.stdout.decode(errors="replace")
        fds = ast.literal_eval(open(seen).read()) if os.path.exists(seen) else None
        ok("serve-useradd-inherits-no-fds", p.returncode == 1 and "cannot create the system user" in out and
           fds is not None and [n for n, _ in fds] == [0, 1, 2], "status %d: %s; useradd had %s" %
           (p.returncode, out.strip(), fds))

    # What is left of a VM's earlier run is killed before it starts again, but only the vsrv
    # binary's processes: another program that names the VM's directory (an administrator's
    # `ls`, `watch`, a backup) is left alone.
    db = Daemon(os.path.join(tmp, "bystander")).start()
    try:
        shutil.copy(os.path.join(GUESTS, "console.elf"), os.path.join(db.data, "images"))
        tb = db.login("admin", "adminpass1")
        db.req("POST", "/api/v1/vms", {"name": "b", "kernel": "console.elf"}, token=tb)
        vid = vm_id(db.data, "b")
        bdir = os.path.join(db.data, "vms", str(vid))
        os.makedirs(bdir, exist_ok=True)
        by = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", bdir])
        time.sleep(0.2)
        st, _ = db.req("POST", "/api/v1/vms/b/start", {}, token=tb)
        time.sleep(0.5)
        ok("start-spares-other-programs-naming-the-vm-dir", st == 202 and by.poll() is None,
           "start %s, bystander %s" % (st, "killed" if by.poll() is not None else "alive"))
        by.kill()
        by.wait()
        db.req("POST", "/api/v1/vms/b/off", {}, token=tb)
    finally:
        db.stop()

    if not have_kvm():
        skip("server-procs-vms", "no usable /dev/kvm or build/guests/hello.elf")
        sys.exit(1 if fails else 0)

    d = Daemon(os.path.join(tmp, "data"), extra=["--host-memory", "4096"])
    # a descriptor the server inherits must not reach its VMs either
    leak = open(os.path.join(tmp, "leak-me"), "w")
    popen = subprocess.Popen
    subprocess.Popen = lambda *a, **k: popen(*a, pass_fds=(leak.fileno(),), **k)
    try:
        d.start()
    finally:
        subprocess.Popen = popen
    leak.close()
    shutil.copy(os.path.join(GUESTS, "console.elf"), os.path.join(d.data, "images"))
    adm = d.login("admin", "adminpass1")

    def status(name):
        return d.req("GET", "/api/v1/vms/%s/status" % name, token=adm)[1]

    def vm_dir(name):
        """The runtime directory of a running VM: its monitor's first argument."""
        mp = d.req("GET", "/api/v1/vms/" + name, token=adm)[1]["monitor_pid"]
        c = cmdline(mp) if mp else []
        return c[2].decode() if len(c) > 2 and c[1] == b"monitor" else None

    def run_tree(vdir):
        """[VMM, its sandboxed child] of the VM whose directory is vdir once the child runs
        under its filter (the VM is built then), else None."""
        runs = [p for p in procs_with(vdir) if cmdline(p)[1:2] == [b"run"]]
        tops = [p for p in runs if ppid_of(p) not in runs]
        kids = [p for p in runs if ppid_of(p) in tops and status_field(p, "Seccomp") == ["2"]]
        return [tops[0], kids[0]] if len(tops) == 1 and len(kids) == 1 else None

    def orphans():
        return procs_with(d.data, exclude=(d.proc.pid,))

    # --- a server-started VM: an unprivileged user, none of the server's descriptors ------
    d.req("POST", "/api/v1/disks", {"name": "d0", "size": 1 << 20}, token=adm)
    d.req("POST", "/api/v1/vms", {"name": "fds", "kernel": "console.elf", "memory_mib": 32,
                                  "disks": [{"disk": "d0"}]}, token=adm)
    d.req("POST", "/api/v1/vms/fds/start", token=adm)
    wait_for(lambda: status("fds")["state"] == "running", 10)
    vdir = vm_dir("fds") or "?"
    tree = wait_for(lambda: run_tree(vdir), 10) or []
    vmm, child = tree if len(tree) == 2 else (0, 0)
    uid = status_field(child, "Uid") if child else None
    vsrv_uid = pwd.getpwnam("vsrv").pw_uid
    ok("vm-runs-as-vsrv-user", uid and all(int(u) == vsrv_uid for u in uid),
       "the VM's process %s has Uid %s (vsrv is %d)" % (child, uid, vsrv_uid))
    server_fds = set(fd_targets(d.proc.pid).values())
    bad = []
    for p in [x for x in (vmm, child) if x]:
        for fd, t in fd_targets(p).items():
            shared = t in server_fds and not t.startswith("/dev/")
            # its own files: the VM's directory and its disk; nothing else of the data dir
            own = t.startswith(vdir + "/") or t.startswith(os.path.join(d.data, "disks", "d0."))
            if shared or "leak-me" in t or (t.startswith(d.data) and not own):
                bad.append((p, fd, t))
    ok("vm-fds-only-its-own", vmm and child and not bad, "pids %s/%s: %s" % (vmm, child, bad))
    d.req("POST", "/api/v1/vms/fds/off", token=adm)
    d.wait_state(adm, "fds", ("stopped", "crashed"))

    # --- off right after start, 4 clients x 30 cycles: no VMM left behind ------------------
    for t in range(4):
        d.req("POST", "/api/v1/vms", {"name": "s%d" % t, "kernel": "console.elf", "memory_mib": 32},
              token=adm)
    deadline = time.time() + 120
    errors = []

    def storm(t):
        name = "s%d" % t
        for _ in range(30):
            if time.time() > deadline:
                errors.append("%s: out of time" % name)
                return
            d.req("POST", "/api/v1/vms/%s/start" % name, token=adm)
            d.req("POST", "/api/v1/vms/%s/off" % name, token=adm)
            if not d.wait_state(adm, name, ("stopped", "crashed"), 10):
                errors.append("%s: %s" % (name, status(name)))
                return
    ths = [threading.Thread(target=storm, args=(t,)) for t in range(4)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    states = [status("s%d" % t)["state"] for t in range(4)]
    left = orphans()
    ok("start-off-storm-no-orphans", not errors and not left and
       all(s in ("stopped", "crashed") for s in states),
       "errors %s, states %s, left %s" % (errors[:3], states, [(p, cmdline(p)[:3]) for p in left]))

    # --- SIGKILL of a monitor under restart policy on-failure: one VMM, the old one gone ---
    d.req("POST", "/api/v1/vms", {"name": "pf", "kernel": "console.elf", "memory_mib": 32,
                                  "restart_policy": "on-failure"}, token=adm)
    d.req("POST", "/api/v1/vms/pf/start", token=adm)
    wait_for(lambda: status("pf")["state"] == "running", 10)
    old_mon = d.req("GET", "/api/v1/vms/pf", token=adm)[1]["monitor_pid"]
    vdir = vm_dir("pf") or "?"
    old_tree = wait_for(lambda: run_tree(vdir), 10) or []
    os.kill(old_mon, signal.SIGKILL)
    js = wait_for(lambda: (lambda s: s if s["state"] == "running" and s["restarts"] == 1 and
                           run_tree(vdir) and run_tree(vdir) != old_tree else None)(status("pf")), 15)
    # every `vsrv run` of this VM: the VMM and its sandboxed child, of one tree only
    runs = [p for p in procs_with(vdir) if cmdline(p)[1:2] == [b"run"]]
    tops = [p for p in runs if ppid_of(p) not in runs]
    ok("monitor-sigkill-one-vmm", js and len(old_tree) == 2 and len(tops) == 1 and
       not any(alive(p) for p in old_tree),
       "status %s, old tree %s (alive %s), VMMs now %s" %
       (js, old_tree, [p for p in old_tree if alive(p)], tops))
    d.req("PATCH", "/api/v1/vms/pf", {"restart_policy": "never"}, token=adm)
    d.req("POST", "/api/v1/vms/pf/off", token=adm)
    d.wait_state(adm, "pf", ("stopped", "crashed"))
    left = orphans()
    ok("monitor-sigkill-no-orphans", not left, "left %s" % [(p, cmdline(p)[:3]) for p in left])
finally:
    try:
        d.stop()
    except NameError:
        pass
    # leave no VM behind, whatever failed
    for p in procs_with(tmp):
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
