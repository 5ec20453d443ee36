"""A cluster where one host has no KVM (run by t-server-kvmplace.sh): three vsrv hosts on one
shared inventory in etcd; b's starts check a KVM device that is not there (VSRV_TEST_KVM), a's
and c's one that is (/dev/null: their VMMs need none in this test). b has the most free
memory, so the placement rule would choose it first if it did not know.

- b's alive key says "kvm": false, a's and c's true; GET /api/v1/hosts shows kvm for every
  host, whichever host answers (it showed it only for the host that answered);
- a start placed by the rule goes to a host with KVM, not to b (it went to b, which answered
  503); a VM only b has the memory for is refused with each host's reason, b's "no KVM";
- an incoming live migration onto b is refused at once (503) with b's reason, before anything
  is prepared there;
- a VM on a killed host is failed over to c, not to b: b neither claims it nor records it
  (b took it, could not start it and held its ownership key, so that no host ever ran it)."""
import hashlib, json, os, signal, shutil, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
from etcd_cluster import EtcdCluster, Unavailable, stop_hosts

TTL = 4
SLACK = 3.0
KERNEL = os.path.join(GUESTS, "console.elf")

tmp = tempfile.mkdtemp(prefix="vsrv-kvmplace.")
daemons = []


def host(name, mem, endpoints, prefix, kvm="/dev/null", ttl=TTL):
    d = Daemon(os.path.join(tmp, name), kvm=kvm, extra=[
        "--cluster", endpoints, "--inventory", "etcd", "--inventory-prefix", prefix,
        "--host-name", name, "--cluster-ttl", str(ttl), "--host-memory", str(mem)])
    daemons.append(d)
    return d.start()


def placement(etcd, vm):
    v = etcd.get("/vsrv/vms/%s/placement" % vm)
    return json.loads(v[0]) if v else None


def alive(etcd, name):
    v = etcd.get("/vsrv/hosts/%s/alive" % name)
    return json.loads(v[0]) if v else {}


try:
    try:
        etcd = EtcdCluster(1).start()
    except Unavailable as e:
        skip("kvmplace", str(e))
        sys.exit(0)
    prefix = "/vsrv-kvmplace/%d/" % os.getpid()
    a = host("a", 1024, etcd.endpoints, prefix)
    b = host("b", 8192, etcd.endpoints, prefix, kvm=os.path.join(tmp, "no-such-kvm"))
    c = host("c", 2048, etcd.endpoints, prefix)
    ta, tb, tc = (d.login("admin", "adminpass1") for d in (a, b, c))

    # --- what each host says of itself, and what every host shows ----------------------------
    ok("alive-kvm", alive(etcd, "a").get("kvm") is True and alive(etcd, "b").get("kvm") is False
       and alive(etcd, "c").get("kvm") is True, str([alive(etcd, n) for n in "abc"]))
    for d, t in ((a, ta), (b, tb), (c, tc)):
        st, js = d.req("GET", "/api/v1/hosts", token=t)
        kv = {h["name"]: h.get("kvm") for h in (js or {}).get("hosts", [])}
        ok("hosts-kvm-from-" + os.path.basename(d.data),
           st == 200 and kv == {"a": True, "b": False, "c": True}, str((st, js)))

    # vsrv hosts, asked of a: b's KVM column says no, a's and c's yes
    rc, out = cli(a, ta, "hosts")
    lines = out.strip().split("\n")
    col = lines[0].split().index("KVM") if lines and "KVM" in lines[0].split() else None
    rows = {l.split()[0]: l.split()[col] for l in lines[1:] if col is not None and l.split()}
    ok("cli-hosts-kvm-column", rc == 0 and rows == {"a": "yes", "b": "no", "c": "yes"}, out)

    # --- placement --------------------------------------------------------------------------
    for name, mem in (("va", 256), ("vx", 64), ("vhuge", 4096)):
        st, js = a.req("POST", "/api/v1/vms", {"name": name, "kernel": KERNEL, "memory_mib": mem,
                                               "restart_policy": "always"}, token=ta)
        ok("created-" + name, st == 201, str((st, js)))
    st, js = a.req("POST", "/api/v1/vms/vx/start", token=ta)
    ok("placed-not-on-b", st == 202 and (placement(etcd, "vx") or {}).get("host") == "c",
       "%s %s" % ((st, js), placement(etcd, "vx")))
    st, js = c.req("POST", "/api/v1/vms/vhuge/start", token=tc)
    ok("no-host-with-kvm-fits", st == 409 and "b: no KVM" in err_message(js) and
       "no host of the cluster can run it" in err_message(js), str((st, js)))
    # asked of b by name: b's own refusal, what to do
    st, js = a.req("POST", "/api/v1/vms/vhuge/start", {"host": "b"}, token=ta)
    ok("start-on-b-by-name-503", st == 503 and "no-such-kvm" in err_message(js), str((st, js)))

    # --- an incoming live migration onto b: refused before anything is prepared ------------
    # (the .../incoming endpoints take a host's own credential: a host "tpeer" of this
    # test's, registered in etcd as a host does, as in migrate.py)
    peer_tok = os.urandom(32).hex()
    etcd.put("/vsrv/hosts/tpeer/info", json.dumps({
        "name": "tpeer", "api_url": "http://127.0.0.1:%d" % free_port(),
        "peer_key": hashlib.sha256(peer_tok.encode()).hexdigest()}))
    peer_lease = etcd.grant(300)
    etcd.put("/vsrv/hosts/tpeer/alive", json.dumps({"lease": "%x" % peer_lease, "inventory":
                                                    "elsewhere"}), lease=peer_lease)
    PEER = {"Authorization": "VsrvHost tpeer " + peer_tok, "X-Vsrv-By": "admin"}
    st, js = b.req("POST", "/api/v1/vms/vx/incoming", {"from": "c"}, headers=PEER)
    ok("incoming-on-b-503", st == 503 and "host b cannot take it" in err_message(js) and
       "no-such-kvm" in err_message(js), str((st, js)))
    ok("incoming-on-b-nothing-prepared", "incoming" not in log_of(b), log_of(b)[-600:])

    # --- failover: a dies, va goes to c (b has the most free memory, but no KVM) -------------
    st, js = a.req("POST", "/api/v1/vms/va/start", {"host": "a"}, token=ta)
    ok("va-started-on-a", st == 202 and (placement(etcd, "va") or {}).get("host") == "a",
       "%s %s" % ((st, js), placement(etcd, "va")))
    rev0 = etcd.revision()
    kill_host(a)
    t_kill = time.time()
    moved = wait_for(lambda: (placement(etcd, "va") or {}).get("host") == "c" and time.time(),
                     2 * TTL + TTL / 3.0 + SLACK + 5, 0.05)
    ok("va-failed-over-to-c", moved is not None, log_of(b)[-800:] + log_of(c)[-800:])
    print("# va placed on c %s s after a's kill" % (moved and round(moved - t_kill, 3)))
    hist = etcd.history("/vsrv/vms/va/owner", rev0 + 1)
    ok("b-never-claimed-va", "b" not in {json.loads(v)["host"] for t, v in hist if t == "PUT"},
       str(hist))
    ok("b-not-taking-it", "taking it" not in log_of(b), log_of(b)[-800:])

    # --- d loses KVM after it registered: its first refused start says so in its alive key
    # at once (its facts are looked at again only every T/3 = 20 s otherwise) ---------------
    dkvm = os.path.join(tmp, "d-kvm")
    os.symlink("/dev/null", dkvm)
    d = host("d", 512, etcd.endpoints, prefix, kvm=dkvm, ttl=60)
    td = d.login("admin", "adminpass1")
    ok("d-alive-kvm-true", alive(etcd, "d").get("kvm") is True, str(alive(etcd, "d")))
    os.unlink(dkvm)
    st, js = d.req("POST", "/api/v1/vms", {"name": "vd", "kernel": KERNEL, "memory_mib": 32},
                   token=td)
    st, js = d.req("POST", "/api/v1/vms/vd/start", {"host": "d"}, token=td)
    ok("d-start-503", st == 503 and "d-kvm" in err_message(js), str((st, js)))
    ok("d-alive-kvm-false-at-once", alive(etcd, "d").get("kvm") is False, str(alive(etcd, "d")))
finally:
    stop_hosts(daemons, tmp)
sys.exit(1 if fails else 0)
