"""Virtual networks through the API (run inside a private network namespace by
t-server-net.sh): NAT with a DHCP range, internal between two VMs, bridged; MACs generated,
unique and stable; the NICs on the VMM's command line; bad network requests."""
import os, re, shutil, signal, socket, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
import lib
from lib import *

tmp = tempfile.mkdtemp(prefix="vsrv-net.")
d = Daemon(os.path.join(tmp, "data")).start()
shutil.copy(os.path.join(GUESTS, "vnet.elf"), os.path.join(d.data, "images"))
shutil.copy(os.path.join(GUESTS, "vblk.elf"), os.path.join(d.data, "images"))
adm = d.login("admin", "adminpass1")


def req(m, p, b=None):
    return d.req(m, p, b, token=adm)


def console(name):
    st, text = req("GET", "/api/v1/vms/%s/console" % name)
    return text if st == 200 and isinstance(text, bytes) else b""


def vmm_cmdline(name):
    js = wait_for(lambda: (lambda r: r[1] if r[0] == 200 and r[1].get("pid") else None)(
        req("GET", "/api/v1/vms/%s/status" % name)), 5)
    try:
        return open("/proc/%d/cmdline" % js["pid"], "rb").read().split(b"\0")
    except (OSError, KeyError, TypeError):
        return []


def bridges():
    out = subprocess.run(["ip", "-o", "link", "show", "type", "bridge"], capture_output=True, text=True).stdout
    return [l.split(":")[1].strip().split("@")[0] for l in out.splitlines()]


def vm(name, cmdline, nics):
    return req("POST", "/api/v1/vms", {"name": name, "kernel": "vnet.elf", "memory_mib": 64,
                                       "cmdline": cmdline, "nics": nics})


MAC = re.compile(r"^52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$")
try:
    # --- bad requests ----------------------------------------------------------------
    bad = [{"name": "x", "kind": "nat", "subnet": "10.0.7.0/24", "dhcp_start": "10.0.8.20"},
           {"name": "x", "kind": "nat", "subnet": "10.0.7.1/24"},
           {"name": "x", "kind": "nat", "dhcp_start": "10.0.2.2"},
           {"name": "x", "kind": "nat", "dhcp_start": "10.0.2.250"},
           {"name": "x", "kind": "nat", "dhcp_start": "10.0.2.20", "dhcp_end": "10.0.2.200"},
           {"name": "x", "kind": "internal", "subnet": "10.0.7.0/24"},
           {"name": "x", "kind": "bridged"},
           {"name": "x", "kind": "internal", "bridge": "br0"},
           {"name": "x", "kind": "nat", "bridge": "br0"}]
    codes = [req("POST", "/api/v1/networks", b)[0] for b in bad]
    ok("net-bad-requests-400", codes == [400] * len(bad) and req("GET", "/api/v1/networks/x")[0] == 404, str(codes))

    # --- NAT: the lease comes from the network's range -------------------------------
    st, js = req("POST", "/api/v1/networks", {"name": "nat1", "kind": "nat", "subnet": "10.0.7.0/24",
                                             "dhcp_start": "10.0.7.50"})
    ok("net-nat-create", st == 201 and js["dhcp_start"] == "10.0.7.50" and js["dhcp_end"] == "10.0.7.65",
       str((st, js)))
    st, js = vm("natvm", "mode=dhcp", [{"network": "nat1"}])
    mac = js["nics"][0]["mac"] if st == 201 else ""
    ok("nic-mac-generated", st == 201 and MAC.match(mac), str((st, js)))
    req("POST", "/api/v1/vms/natvm/start")
    js = d.wait_state(adm, "natvm", ("stopped", "crashed"), 30)
    ok("net-nat-dhcp-lease", js and js["last_exit"]["exit"] == "exited 33" and
       b"vnet: dhcp lease 10.0.7.50 from 10.0.7.2" in console("natvm"), str(js) + repr(console("natvm")[-300:]))

    # --- per-device counters in the status and /metrics (the VMM's control socket) --------
    # vnet.elf does DHCP on a NAT NIC and holds (a disk attached, untouched); vblk.elf writes
    # and reads its 4 MiB disk whole and holds.
    def metric(text, line):
        m = re.search(("^" + re.escape(line) + r" (\d+)$").encode(), text, re.M)
        return int(m.group(1)) if m else None

    req("POST", "/api/v1/disks", {"name": "iod", "size": 1 << 20})
    req("POST", "/api/v1/disks", {"name": "bd", "size": 4 << 20})
    req("POST", "/api/v1/vms", {"name": "iovm", "kernel": "vnet.elf", "memory_mib": 64,
                                "cmdline": "mode=dhcp hold", "nics": [{"network": "nat1"}],
                                "disks": [{"disk": "iod"}]})
    req("POST", "/api/v1/vms", {"name": "blkvm", "kernel": "vblk.elf", "memory_mib": 64,
                                "cmdline": "qd=8 hold", "disks": [{"disk": "bd"}]})
    for n in ("iovm", "blkvm"):
        req("POST", "/api/v1/vms/%s/start" % n)
    held = wait_for(lambda: all(b"rt: holding" in console(n) for n in ("iovm", "blkvm")) or None, 30)

    def io_status():
        st, js = req("GET", "/api/v1/vms/iovm/status")
        n = (js.get("nics") or [{}])[0] if st == 200 else {}
        return js if n.get("rx_packets", 0) >= 2 and n.get("tx_packets", 0) >= 2 else None
    js = wait_for(io_status, 5) or req("GET", "/api/v1/vms/iovm/status")[1]
    n, dk = (js.get("nics") or [{}])[0], (js.get("disks") or [{}])[0]
    ok("status-vm-device-counters", held and n.get("name") == "net0" and n.get("backend") == "user" and
       n.get("rx_bytes", 0) > 0 and n.get("tx_bytes", 0) > 0 and dk.get("name") == "disk0" and
       dk.get("bus") == "virtio-blk" and dk.get("write_ops") == 0, str(js) + repr(console("iovm")[-200:]))
    # GET of the running VM: its configured disks and NICs stay what they are, the VMM's
    # counters come apart under "runtime" (they used to replace the configuration).
    st, got = req("GET", "/api/v1/vms/iovm")
    rt = (got or {}).get("runtime") or {}
    ok("vm-get-config-apart-from-runtime", st == 200 and got["state"] == "running" and
       got["disks"] == [{"disk": "iod", "bus": "virtio-blk", "readonly": False}] and
       len(got["nics"]) == 1 and got["nics"][0]["network"] == "nat1" and
       set(got["nics"][0]) == {"network", "mac"} and rt.get("pid") and
       [x.get("name") for x in rt.get("disks", [])] == ["disk0"] and
       [x.get("name") for x in rt.get("nics", [])] == ["net0"] and
       rt["nics"][0].get("mac") == got["nics"][0]["mac"], str(got))
    st, text = req("GET", "/metrics")
    vals = {k: metric(text, 'vsrv_vm_network_%s_total{vm="iovm",interface="net0"}' % k)
            for k in ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "drops")}
    ok("metrics-vm-nat-nic", vals["rx_packets"] and vals["rx_packets"] >= 2 and vals["tx_packets"] >= 2 and
       vals["rx_bytes"] > 0 and vals["tx_bytes"] > 0 and vals["drops"] == 0, str(vals))
    ok("metrics-vm-idle-disk", metric(text, 'vsrv_vm_disk_write_ops_total{vm="iovm",disk="disk0"}') == 0 and
       metric(text, 'vsrv_vm_disk_flush_ops_total{vm="iovm",disk="disk0"}') == 0, repr(text[-800:]))
    vals = {k: metric(text, 'vsrv_vm_disk_%s_total{vm="blkvm",disk="disk0"}' % k)
            for k in ("read_bytes", "write_bytes", "read_ops", "write_ops", "flush_ops")}
    ok("metrics-vm-disk-counters", None not in vals.values() and vals["write_bytes"] >= 4 << 20 and
       vals["read_bytes"] >= 4 << 20 and vals["write_ops"] >= 64 and vals["read_ops"] >= 64 and
       vals["flush_ops"] >= 1 and b"# TYPE vsrv_vm_disk_flush_ops_total counter" in text, str(vals))
    for n in ("iovm", "blkvm"):
        req("POST", "/api/v1/vms/%s/off" % n)
        d.wait_state(adm, n, ("stopped", "crashed"), 10)
        req("DELETE", "/api/v1/vms/" + n)

    st, js = req("PATCH", "/api/v1/vms/natvm", {"nics": [{"network": "nat1"}, {"network": "nat1"}]})
    macs = [n["mac"] for n in js["nics"]] if st == 200 else []
    ok("nic-mac-stable-and-unique", len(macs) == 2 and macs[0] == mac and macs[1] != mac and MAC.match(macs[1]),
       str((st, js)))
    st, js = vm("dupmac", "mode=dhcp", [{"network": "nat1", "mac": mac}])
    ok("nic-mac-taken-409", st == 409 and req("GET", "/api/v1/vms/dupmac")[0] == 404, str((st, js)))
    st, js = vm("nonet", "mode=dhcp", [{"network": "nope"}])
    ok("nic-unknown-network-400", st == 400 and "nope" in js["error"]["message"], str((st, js)))

    # --- internal: two VMs echo frames through the daemon's bridge -------------------
    st, js = req("POST", "/api/v1/networks", {"name": "lab", "kind": "internal"})
    br = js.get("bridge") if st == 201 else None
    ok("net-internal-create", st == 201 and br and br not in bridges(), str((st, js, bridges())))
    vm("echo", "mode=echo count=300", [{"network": "lab"}])
    st, js = vm("send", "mode=send count=300", [{"network": "lab"}])
    smac = js["nics"][0]["mac"]
    req("POST", "/api/v1/vms/echo/start")
    d.wait_state(adm, "echo", ("running",), 10)
    emac = req("GET", "/api/v1/vms/echo")[1]["nics"][0]["mac"]
    cl = vmm_cmdline("echo")
    ok("net-internal-bridge-created", br in bridges(), str(bridges()))
    ok("vmm-cmdline-nic", b"--net" in cl and ("bridge=%s,mac=%s" % (br, emac)).encode() in cl, str(cl))
    req("POST", "/api/v1/vms/send/start")
    a = d.wait_state(adm, "send", ("stopped", "crashed"), 40)
    b = d.wait_state(adm, "echo", ("stopped", "crashed"), 10)
    ok("net-internal-two-vms", a and b and a["last_exit"]["exit"] == "exited 33" and b["last_exit"]["exit"] == "exited 33" and
       b"all echoed" in console("send"), str((a, b)) + repr(console("send")[-300:]) + repr(console("echo")[-300:]))
    st, _ = req("DELETE", "/api/v1/networks/lab")
    ok("net-delete-with-vms-409", st == 409 and br in bridges(), str(st))
    for n in ("echo", "send"):
        req("DELETE", "/api/v1/vms/" + n)
    st, _ = req("DELETE", "/api/v1/networks/lab")
    ok("net-internal-delete-removes-bridge", st == 204 and br not in bridges(), str((st, bridges())))

    # --- bridged: the administrator's bridge -----------------------------------------
    st, js = req("POST", "/api/v1/networks", {"name": "lan", "kind": "bridged", "bridge": "brlan"})
    vm("onlan", "mode=echo count=1000", [{"network": "lan"}])
    st, js = req("POST", "/api/v1/vms/onlan/start")
    ok("net-bridged-missing-bridge-409", st == 409 and "bridge" in js["error"]["message"], str((st, js)))
    subprocess.run(["ip", "link", "add", "brlan", "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", "brlan", "up"], check=True)
    st, js = req("POST", "/api/v1/vms/onlan/start")
    d.wait_state(adm, "onlan", ("running",), 10)
    lmac = req("GET", "/api/v1/vms/onlan")[1]["nics"][0]["mac"]
    cl = vmm_cmdline("onlan")
    ok("net-bridged-start", st == 202 and ("bridge=brlan,mac=%s" % lmac).encode() in cl, str((st, cl)))
    # Per-VM network counters: the VMM's virtio-net device, with its TAP on the bridge.
    # Frames of ethertype 0x88b5 from the bridge are echoed back by the guest, once its driver
    # is up (it says so on the console; frames sent before then find no receive buffers).
    wait_for(lambda: b"mode echo" in console("onlan") or None, 20)
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    raw.bind(("brlan", 0))
    for i in range(5):
        raw.send(b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + bytes(100))
    raw.close()

    def counters():
        st, js = req("GET", "/api/v1/vms/onlan/status")
        n = js.get("nics") or [{}]
        return n[0] if n[0].get("rx_packets", 0) >= 5 and n[0].get("tx_packets", 0) >= 1 else None
    c = wait_for(counters, 5)
    ifn = c["ifname"] if c else "?"
    st, text = req("GET", "/metrics")
    ok("metrics-vm-network-counters", c and c["backend"] == "bridge" and
       os.path.exists("/sys/class/net/brlan/brif/" + ifn) and
       (metric(text, 'vsrv_vm_network_rx_packets_total{vm="onlan",interface="net0"}') or 0) >= 5 and
       (metric(text, 'vsrv_vm_network_tx_bytes_total{vm="onlan",interface="net0"}') or 0) > 0,
       str(c) + repr(text[-600:]))
    req("POST", "/api/v1/vms/onlan/off")
    d.wait_state(adm, "onlan", ("stopped", "crashed"), 10)
finally:
    dd = os.path.join(d.data, "vms")
    for v in os.listdir(dd) if os.path.isdir(dd) else []:
        try:
            os.kill(int(open(os.path.join(dd, v, "vmm.pid")).read()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
