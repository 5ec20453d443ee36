"""What a newcomer reads from the CLI, checked against what it does (issues 10 and 11): the
top-level help names every client group and the order in which the client picks its server
(the command line, then the environment, then the saved login), a group's help keeps a long
command's name apart from its summary, show commands give times in local time (as vm show
and events do) rather than Unix seconds, and vsrv img's help says check's status 63.
Against a real server."""
import json, os, re, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *

tmp = tempfile.mkdtemp(prefix="vsrv-cli-newcomer.")
d = Daemon(os.path.join(tmp, "data")).start()
adm = d.login("admin", "adminpass1")
URL = "http://127.0.0.1:%d" % d.port
env = {k: v for k, v in os.environ.items() if not k.startswith("VSRV_") and k != "XDG_CONFIG_HOME"}
env["HOME"] = os.path.join(tmp, "home")
os.makedirs(env["HOME"])


def run(args, extra=None, stdin=None):
    return subprocess.run([VSRV] + args, env=dict(env, **(extra or {})), capture_output=True,
                          text=True, timeout=30, input=stdin)


# --- vsrv --help: every client group, and where the client goes -------------------------
r = run(["--help"])
top = " ".join(r.stdout.split())
groups = re.search(r"The client \(([^)]*)\)", top)
names = groups.group(1).replace(",", " ").split() if groups else []
ok("top-help-names-every-group",
   all(g in names for g in ("vm", "disk", "net", "image", "user", "events", "hosts", "login", "logout")),
   "the client's groups in vsrv --help: %r" % names)
# the order the help gives: VSRV_SOCKET before the saved login
ok("top-help-socket-before-saved-login",
   0 <= top.find("VSRV_SOCKET") < top.find("the login saved"), top[top.find("The client"):])
# ... and what the client does: a saved login to a server that is not there, VSRV_SOCKET here
r = run(["login", "--server", URL, "--user", "admin"], stdin="adminpass1\n")
saved = os.path.join(env["HOME"], ".config", "vsrv", "login.json")
with open(saved) as f:
    js = json.load(f)
js["server"] = "http://127.0.0.1:%d" % free_port()
with open(saved, "w") as f:
    json.dump(js, f)
r = run(["user", "list"], {"VSRV_SOCKET": d.sock()})
ok("vsrv-socket-beats-saved-login", r.returncode == 0 and "admin" in r.stdout, r.stdout + r.stderr)

# --- a group's help: lines of at most 79 columns; a command wider than its column is on a
# line of its own (the snapshot line ran on into its summary, 103 columns) -----------------
bad = []
for g in ("vm", "disk", "net", "image", "user", "events", "hosts", "login", "logout"):
    r = run([g, "--help"])
    bad += [(g, r.returncode, r.stderr)] if r.returncode else []
    bad += [(g, l) for l in r.stdout.split("\n") if len(l) > 79]
ok("group-help-79-columns", not bad, str(bad))
r = run(["vm", "--help"])
ok("vm-help-snapshot-line", re.search(r"^  snapshot list\|create\|revert\|delete NAME \[SNAPSHOT\]\n {27}\S",
                                      r.stdout, re.M) is not None, r.stdout)

# --- show: times in local time ----------------------------------------------------------
with open(os.path.join(tmp, "small.iso"), "wb") as f:
    f.write(os.urandom(64 * 1024))
DATE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"
api = {"VSRV_SERVER": URL, "VSRV_TOKEN": adm}
outs = {
    "user": run(["user", "create", "bob", "--password", "bobpass123"], api),
    "disk": run(["disk", "create", "d1", "1M", "--format", "raw"], api),
    "image": run(["image", "upload", os.path.join(tmp, "small.iso")], api),
}
outs["disk-show"] = run(["disk", "show", "d1"], api)
outs["user-show"] = run(["user", "show", "bob"], api)
outs["image-show"] = run(["image", "show", "small.iso"], api)
bad = []
for k, r in outs.items():
    field = "modified" if k.startswith("image") else "created"
    line = [l for l in r.stdout.split("\n") if l.startswith(field + " ")]
    if r.returncode != 0 or len(line) != 1 or not re.search(DATE, line[0]):
        bad.append((k, r.returncode, line, r.stderr))
ok("show-times-local", not bad, str(bad))
# json keeps the API's Unix time
r = run(["user", "show", "bob", "--json"], api)
ok("show-json-unix-time", r.returncode == 0 and isinstance(json.loads(r.stdout)["created"], int), r.stdout)

# --- vsrv img --help: check's status 63, as README.md and vsrv img check say -------------
r = run(["img", "--help"])
raw = os.path.join(tmp, "x.raw")
run(["img", "create", raw, "1M"])
c = run(["img", "check", raw])
ok("img-help-check-63", r.returncode == 0 and c.returncode == 63 and "63" in r.stdout,
   "check of a raw image: %d; help: %s" % (c.returncode, r.stdout[-200:]))

# -U (force-share), which README.md and docs/vhd.md give, is in the help of each command
# that takes it, and taken
bad = [c for c in ("info", "check", "convert", "compare", "map")
       if not re.search(r"^  %s \[[^\n]*(\n {10}[^\n]*)?\[-U\]" % c, r.stdout, re.M)]
i = run(["img", "info", "-U", raw])
ok("img-help-force-share", not bad and "-U reads an image that another process uses" in r.stdout and
   i.returncode == 0, "no -U for %s; info -U: %d %s" % (bad, i.returncode, i.stderr))

# vsrv serve --help: every option of its synopsis has its line (--no-tcp, --tls-cert,
# --tls-key, --token-ttl and --shutdown-timeout had none)
r = run(["serve", "--help"])
syn, _, body = r.stdout.partition("\n  --")
body = "  --" + body
bad = [o for o in sorted(set(re.findall(r"--[a-z][a-z-]*", syn)))
       if not re.search(r"^  %s\b" % re.escape(o), body, re.M)]
ok("serve-help-every-option", r.returncode == 0 and len(syn) > 100 and not bad, "no line for %s" % bad)

# vsrv serve's option mistakes: one line that names the option and where the help is, status
# 2 (an unknown option printed getopt's "serve: unrecognized option" and the whole usage, 70
# lines, on stderr; --shutdown-timeout abc was taken as 0, --host-memory 12x as 12)
bad = []
for args, want in ((["--frob"], "vsrv serve: unknown option '--frob' (see vsrv serve --help)"),
                   (["--data-dir"], "vsrv serve: option '--data-dir' needs a value (see vsrv serve --help)"),
                   (["--shutdown-timeout", "abc"], "vsrv serve: --shutdown-timeout wants a number"),
                   (["--host-memory", "12x"], "vsrv serve: --host-memory wants a number"),
                   (["--token-ttl", "1d"], "vsrv serve: --token-ttl wants a number")):
    # (--no-tcp: a server that takes a bad value runs, on its socket alone, until killed)
    try:
        r = subprocess.run([VSRV, "serve", "--data-dir", os.path.join(tmp, "never"), "--no-tcp"] + args,
                           env=env, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        bad.append((args, "taken: the server started"))
        continue
    if r.returncode != 2 or len(r.stderr.strip().split("\n")) != 1 or not r.stderr.startswith(want):
        bad.append((args, r.returncode, r.stderr[:200]))
ok("serve-option-errors", not bad, str(bad))
shutil.rmtree(os.path.join(tmp, "never"), ignore_errors=True)

# after vsrv logout, a command that cannot reach the default socket says how to go on; one
# given a socket (VSRV_SOCKET) that is not there does not
home2 = os.path.join(tmp, "home2")
os.makedirs(home2)
h2 = {"HOME": home2}
li = run(["login", "--socket", d.sock(), "--user", "admin"], h2, stdin="adminpass1\n")
lo = run(["logout"], h2)
r = run(["vm", "list"], h2)
g = run(["vm", "list"], dict(h2, VSRV_SOCKET=os.path.join(tmp, "none.sock")))
ok("logout-then-hint", li.returncode == 0 and lo.returncode == 0 and r.returncode == 1 and
   "cannot reach" in r.stderr and "vsrv login" in r.stderr and "VSRV_SERVER" in r.stderr and
   "VSRV_SOCKET" in r.stderr and g.returncode == 1 and "cannot reach" in g.stderr and
   "vsrv login" not in g.stderr, li.stderr + lo.stderr + r.stderr + g.stderr)

# vsrv monitor (internal) follows the one parser convention: --help and -h print its usage on
# stdout with status 0; a usage error stays status 2 on stderr
bad = []
for h in ("--help", "-h"):
    r = run(["monitor", h])
    if r.returncode != 0 or not r.stdout.startswith("usage: vsrv monitor") or r.stderr:
        bad.append((h, r.returncode, r.stdout[:60], r.stderr[:100]))
r = run(["monitor", "dir"])
if r.returncode != 2 or "usage: vsrv monitor" not in r.stderr or r.stdout:
    bad.append(("dir", r.returncode, r.stderr[:100]))
ok("monitor-help-status-0", not bad, str(bad))

# --- man pages for run, img, serve and control too, from their --help (the client's
# groups had pages; `man vsrv-run` found nothing) -------------------------------------------
man_dir = os.path.join(ROOT, "build", "man")
bad = []
for c in ("run", "img", "serve", "control"):
    page = os.path.join(man_dir, "vsrv-%s.1" % c)
    if not os.path.exists(page):
        bad.append((c, "no " + page))
        continue
    w = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page], capture_output=True, text=True)
    txt = subprocess.run(["man", "-l", page], capture_output=True, text=True,
                         env=dict(os.environ, MANWIDTH="100", PAGER="cat")).stdout
    txt = re.sub(r".\x08", "", txt).replace("\u2010", "-").replace("\u2212", "-")
    h = run([c, "--help"]).stdout
    opts = re.findall(r"^  (?:-\w, )?(--?[a-zA-Z][a-z-]*)", h, re.M)
    if w.returncode or w.stderr:
        bad.append((c, w.stderr[:200]))
    if not re.search(r"^NAME\n\s+vsrv-%s - \S" % c, txt, re.M) or "SYNOPSIS" not in txt:
        bad.append((c, txt[:200]))
    bad += [(c, o) for o in opts if not re.search(r"^\s+%s\b" % re.escape(o), txt, re.M)]
    if c in ("run", "serve") and len(opts) < 10:
        bad.append((c, "options not found in the help", opts))
top = subprocess.run(["man", "-l", os.path.join(man_dir, "vsrv.1")], capture_output=True, text=True,
                     env=dict(os.environ, PAGER="cat")).stdout.replace("\u2010", "-")
bad += [("vsrv.1 see also", c) for c in ("run", "img", "serve", "control") if "vsrv-%s(1)" % c not in top]
ok("man-run-img-serve", not bad, str(bad[:6]))

# --- disk show: the image's own view as lines for people, not compact JSON -------------------
r0 = run(["disk", "create", "dv", "2M", "--format", "vhd"], api)
r = run(["disk", "show", "dv"], api)
lines = r.stdout.split("\n")
sub = lines[lines.index("image") + 1:] if "image" in lines else []
ok("disk-show-image-lines", r0.returncode == 0 and r.returncode == 0 and "{" not in r.stdout and
   any(re.match(r"^  format\s+vhd$", l) for l in sub) and
   any(re.match(r"^  subformat\s+dynamic$", l) for l in sub) and
   any(re.match(r"^  virtual_size\s+\d+$", l) for l in sub) and
   any(re.match(r"^  timestamp\s+" + DATE, l) for l in sub),
   r0.stderr + r.stdout + r.stderr)
j = run(["disk", "show", "dv", "--json"], api)
ok("disk-show-json-image", j.returncode == 0 and isinstance(json.loads(j.stdout)["image"]["timestamp"], int),
   j.stdout)

# --- bash completion: VM names after `vm snapshot list|create|revert|delete` ------------------
comp = os.path.join(ROOT, "build", "completion", "vsrv")
os.makedirs(os.path.join(d.data, "images"), exist_ok=True)
shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(d.data, "images", "k.elf"))
st, js = d.req("POST", "/api/v1/vms", {"name": "snapvm", "kernel": "k.elf", "memory_mib": 32}, token=adm)
ok("create-snapvm", st in (200, 201), "%s %s" % (st, js))
script = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); _vsrv; printf "%s\\n" "${COMPREPLY[@]}"'


def complete(words):
    return subprocess.run(["bash", "-c", script, "x", comp, VSRV] + words, env=dict(env, **api),
                          capture_output=True, text=True).stdout.split()


ok("complete-snapshot-vm-names", complete(["vm", "snapshot", "list", "snap"]) == ["snapvm"] and
   complete(["vm", "snapshot", "revert", ""]) == complete(["vm", "start", ""]) != [] and
   complete(["vm", "snapshot", "l"]) == ["list"],
   str((complete(["vm", "snapshot", "list", "snap"]), complete(["vm", "snapshot", "revert", ""]))))

# --- vm show: lists for people (its disks were compact JSON, [] when none; permissions
# ["full",...]); a VM that never ran was "started 0" ------------------------------------------
e = run(["vm", "edit", "snapvm", "--disk", "dv"], api)
r = run(["vm", "show", "snapvm"], api)
ls = r.stdout.split("\n")
ok("vm-show-lists", e.returncode == 0 and r.returncode == 0 and "[" not in r.stdout and
   "{" not in r.stdout and "disks" in ls and ls[ls.index("disks") + 1] == "  disk dv, bus virtio-blk, readonly no" and
   re.search(r"^nics\s+none$", r.stdout, re.M) and re.search(r"^permissions\s+\w[\w-]*(, [\w-]+)*$", r.stdout, re.M)
   and re.search(r"^started\s+never$", r.stdout, re.M), e.stderr + r.stdout + r.stderr)
j = run(["vm", "show", "snapvm", "--json"], api)
ok("vm-show-json-lists", j.returncode == 0 and json.loads(j.stdout)["disks"][0]["disk"] == "dv" and
   json.loads(j.stdout)["started"] == 0, j.stdout[:300])

# --- `vsrv help CMD` is `vsrv CMD --help` (it printed the top-level help); an unknown one is
# a usage error ------------------------------------------------------------------------------
bad = []
for c in ("vm", "disk", "run", "img", "serve"):
    a, b = run(["help", c]), run([c, "--help"])
    if a.returncode != 0 or a.stdout != b.stdout or not a.stdout.startswith("usage: vsrv %s" % c):
        bad.append((c, a.returncode, a.stdout[:80]))
f = run(["help", "frob"])
ok("help-command", not bad and f.returncode == 2 and "unknown command 'frob'" in f.stderr, str(bad) + f.stderr)

# --- user create without a password: a usage error (status 2, as the CLI's others) that says
# where a password comes from (it was "vsrv: no password given", status 1) -------------------
r = run(["user", "create", "carol"], api, stdin="")
ok("user-create-no-password", r.returncode == 2 and r.stderr.startswith("vsrv user create: no password given") and
   "--password" in r.stderr and "VSRV_PASSWORD" in r.stderr, "%d %r" % (r.returncode, r.stderr))

# --- exit statuses as documented: vsrv run --help gives them (it gave none), and vsrv.1 no
# longer says a usage error is 2 for every command (run's and img's are 1, as qemu-img's) ----
h = run(["run", "--help"]).stdout
u = run(["run", "--frobnicate"])
top = subprocess.run(["man", "-l", os.path.join(man_dir, "vsrv.1")], capture_output=True, text=True,
                     env=dict(os.environ, PAGER="cat", MANWIDTH="200")).stdout.replace("\u2010", "-")
es = " ".join(top.partition("EXIT STATUS")[2].partition("SEE ALSO")[0].split())
i = run(["img", "frob"])
c = run(["control"])
ok("exit-status-documented", "Exit status:" in h and "1 a bad option or file" in h and "2 the guest crashed" in h
   and u.returncode == 1 and "2 for the client's commands, serve and control, 1 for run and img" in es and
   i.returncode == 1 and c.returncode == 2, "%s | %s | run %d img %d control %d" %
   (h[-300:], es, u.returncode, i.returncode, c.returncode))

# --- a server that is not there: whether one runs, and how to start one (it said only
# "Couldn't connect to server") --------------------------------------------------------------
r = run(["vm", "list", "--server", "http://127.0.0.1:%d" % free_port()])
s2 = run(["vm", "list", "--socket", os.path.join(tmp, "none.sock")])
ok("unreachable-server-hint", r.returncode == 1 and s2.returncode == 1 and
   all("is vsrv serve running there?" in x.stderr and "make run" in x.stderr for x in (r, s2)),
   r.stderr + s2.stderr)

# --- a refusal's hint names the CLI's command, not only the API's call ----------------------
run(["disk", "create", "rawd", "1M", "--format", "raw"], api)
d.req("POST", "/api/v1/vms", {"name": "rawvm", "kernel": "k.elf", "memory_mib": 32,
                              "disks": [{"disk": "rawd"}]}, token=adm)
r = run(["vm", "snapshot", "create", "rawvm", "s1"], api)
ok("snapshot-raw-hint-cli", r.returncode == 1 and "vsrv disk convert rawd NEW --format vhd" in r.stderr,
   r.stderr)
d.req("POST", "/api/v1/vms", {"name": "tmpl", "kernel": "k.elf", "memory_mib": 32}, token=adm)
t = run(["vm", "edit", "tmpl", "--template", "yes"], api)
r = run(["vm", "start", "tmpl"], api)
ok("template-start-hint-cli", t.returncode == 0 and r.returncode == 1 and
   "vsrv vm create NEW --from-template tmpl" in r.stderr and "--template no" in r.stderr,
   t.stderr + r.stderr)

d.stop()
shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
