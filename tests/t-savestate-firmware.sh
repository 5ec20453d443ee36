#!/usr/bin/env bash
# A VM booted with --firmware saved mid-run, restored, and migrated (docs/firmware.md "Save,
# restore, migration"). SeaBIOS boots guests/fwboot from a virtio-blk disk with ticks=N: the
# guest checks what the firmware told it, then prints `fwboot: tick K` every 20 ms, reading
# before each the q35 PAM and SMRAM registers, the LPC bridge's PMBASE, ACPI_CNTL and PIRQ
# routing, fw_cfg's signature and CPU count, CMOS 0x5f and a checksum of 0xC0000-0xFFFFF
# (SeaBIOS's shadowed code and tables): after the restore all of them must read as before
# (PASS fwboot-fwstate), the ticks before the save and after the restore are 0..N-1 exactly
# once, and the guest ends with status 33. The same VM is migrated to a second process
# (--incoming) and ends there; a destination without --firmware refuses it. UEFI:
# OVMF saved during its shell's startup countdown reaches its prompt after the restore, its
# vars file given afresh (made from the template) ends up with the saved VM's variables;
# migrated with the same vars file on both sides (its lock handed over), it reaches the
# prompt on the destination.
# Mismatches are refused with one line: the file restored without --firmware, with another
# --name, with another firmware; a direct-boot file restored with --firmware.
source "$(dirname "$0")/lib.sh"

if ! have_kvm; then skip savestate-firmware "$kvm_reason"; exit 0; fi
BIOS=/usr/share/seabios/bios.bin
if [ ! -r "$BIOS" ]; then skip savestate-firmware "Debian's seabios is not installed"; exit 0; fi
for f in "$GUESTS/fwboot.img" "$GUESTS/savecount.elf"; do
	[ -f "$f" ] || { fail savestate-firmware "missing $f (run make)"; finish; exit; }
done

VSRV_TESTS=$(cd "$(dirname "$0")" && pwd) timeout 400 python3 - "$VSRV" "$GUESTS" "$TMP" <<'EOF'
import os, re, subprocess, sys, time
vsrv, guests, tmp = sys.argv[1:4]
sys.path.insert(0, os.environ["VSRV_TESTS"])
import vmstate
from vmstate import ok, start, wait_for, ctl_cmd, finish_vm, read, strip_run
vmstate.setup(vsrv, tmp)

UUID = "5f1c2d3e-4b5a-4978-8a9b-0c1d2e3f4a5b"
N = 150

def image(tag, text):
    data = bytearray(open(guests + "/fwboot.img", "rb").read())
    mark = b"VSRVFWBOOT:"
    at = data.find(mark)
    t = text.encode() + b"\0"
    data[at + len(mark):at + len(mark) + len(t)] = t
    path = os.path.join(tmp, tag + ".img")
    open(path, "wb").write(data)
    return path

def ticks(text):
    return [int(k) for k in re.findall(r"fwboot: tick (\d+)", text)]

def restore(tag, state, args, timeout=90):
    ser = os.path.join(tmp, tag + ".out")
    try:
        q = subprocess.run([vsrv, "run", "--restore", state, "--serial", "file:" + ser] + args,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "timed out", read(ser)
    return q.returncode, q.stderr.decode(errors="replace"), read(ser)

def check_ticks(name, before, after):
    # the two outputs joined: a line the save cut in two is whole again
    b, a, both = ticks(before), ticks(after), ticks(before + after)
    ok(name + "-ticks-continue", both == list(range(N)) and len(b) >= 20 and a,
       "before %s..%s, after %s..%s" % (b[:1], b[-1:], a[:1], a[-1:]))
    ok(name + "-fwstate", "PASS fwboot-fwstate" in after and "FAIL" not in after,
       after[-400:])

# --- SeaBIOS, --uuid given: save mid-run, restore, go on ---
name = "fw-bios-save"
disk = image(name, "mem=256M cpus=1 uuid=%s sector=512 ticks=%d" % (UUID, N))
cfg = ["--firmware", "bios", "--memory", "256M", "--cpus", "1", "--uuid", UUID, "--no-reboot",
       "--disk", disk + ",format=raw"]
p, ctl, ser = start(name, cfg)
ok(name + "-running", wait_for(ser, r"fwboot: tick 20\b", 60), read(ser)[-300:])
state = os.path.join(tmp, name + ".state")
r = ctl_cmd(ctl, {"cmd": "save", "path": state})
ok(name + "-reply", r.get("ok") is True and r.get("state") == "stopped", r)
rc, err = finish_vm(p)
ok(name + "-vm-ends", rc == 0 and "saved the VM to " + state in err, "status %s: %s" % (rc, err))
before = read(ser)
ok(name + "-checks-passed", "PASS fwboot-uuid" in before and "FAIL" not in before, before[-300:])
rc, err, after = restore(name + "-b", state, cfg)
ok(name + "-restored-passes", rc == 33 and "RESULT: PASS" in after, "status %s: %s %s" % (rc, err, after[-300:]))
check_ticks(name, before, after)

# the same file, other configurations: one line, status 1, no guest output. The file keeps
# the VM's options (its RUN section): options given otherwise are refused naming them; the
# file as written before it kept them ("old") is refused by the firmware's own checks.
old_state = state + ".old"
open(old_state, "wb").write(strip_run(open(state, "rb").read()))
for tag, args, pat, old_pat in (
        ("no-firmware", [a for a in cfg if a not in ("--firmware", "bios", "--uuid", UUID)],
         None, "booted with --firmware, this one not"),
        ("other-name", cfg + ["--name", "other"], "--name=other is not what the saved VM has",
         "firmware's configuration"),
        ("other-uuid", [a if a != UUID else "00000000-1111-2222-3333-444444444444" for a in cfg],
         "--uuid=00000000-1111-2222-3333-444444444444 is not what the saved VM has", "SMBIOS UUID"),
        ("other-rom", [a if a != "bios" else guests + "/fwboot.img" for a in cfg],
         "is not what the saved VM has (--firmware=bios)", "another firmware ROM")):
    for which, st, want in (("", state, pat), ("old-", old_state, old_pat)):
        if want is None:
            continue
        rc, err, out = restore(name + "-" + which + tag, st, args, 30)
        ok(name + "-refused-" + which + tag, rc == 1 and want in err and "fwboot: tick" not in out,
           "status %s: %s" % (rc, err))

# a direct-boot file restored with --firmware
p, ctl, dser = start("direct", ["--kernel", guests + "/savecount.elf", "--memory", "256M"])
ok("direct-running", wait_for(dser, r"step 3 of", 30))
dstate = os.path.join(tmp, "direct.state")
ctl_cmd(ctl, {"cmd": "save", "path": dstate})
finish_vm(p)
rc, err, out = restore("direct-b", dstate, ["--firmware", "bios", "--memory", "256M"], 30)
ok("fw-direct-file-refused", rc == 1 and "--firmware=bios is not what the saved VM has" in err,
   "status %s: %s" % (rc, err))
open(dstate + ".old", "wb").write(strip_run(open(dstate, "rb").read()))
rc, err, out = restore("direct-old-b", dstate + ".old", ["--firmware", "bios", "--memory", "256M"], 30)
ok("fw-direct-old-file-refused", rc == 1 and "booted directly" in err, "status %s: %s" % (rc, err))

# --- the same VM migrated to a second process ---
name = "fw-bios-migrate"
disk = image(name, "mem=256M cpus=1 uuid=%s sector=512 ticks=%d" % (UUID, N))
cfg = ["--firmware", "bios", "--memory", "256M", "--cpus", "1", "--uuid", UUID, "--no-reboot",
       "--disk", disk + ",format=raw"]
uri = "unix:" + os.path.join(tmp, name + ".sock")
dser = os.path.join(tmp, name + "-dst.out")
d = subprocess.Popen([vsrv, "run", "--incoming", uri, "--serial", "file:" + dser] + cfg,
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
for _ in range(500):
    if os.path.exists(uri[5:]) or d.poll() is not None: break
    time.sleep(0.01)
p, ctl, ser = start(name, cfg)
ok(name + "-running", wait_for(ser, r"fwboot: tick 20\b", 60))
r = ctl_cmd(ctl, {"cmd": "migrate", "to": uri})
rc, err = finish_vm(p)
ok(name + "-migrated", r.get("ok") is True and rc == 0, "%s status %s %s" % (r, rc, err))
drc, derr = finish_vm(d)
after = read(dser)
ok(name + "-destination-passes", drc == 33 and "RESULT: PASS" in after,
   "status %s: %s %s" % (drc, derr, after[-300:]))
check_ticks(name, read(ser), after)
# a destination without --firmware refuses before any memory moves; the source goes on
name = "fw-bios-migrate-mismatch"
uri = "unix:" + os.path.join(tmp, name + ".sock")
d = subprocess.Popen([vsrv, "run", "--incoming", uri, "--serial", "none", "--memory", "256M",
                      "--cpus", "1", "--disk", disk + ",format=raw"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
for _ in range(500):
    if os.path.exists(uri[5:]) or d.poll() is not None: break
    time.sleep(0.01)
p, ctl, ser = start(name, cfg)
ok(name + "-running", wait_for(ser, r"fwboot: tick 5\b", 60))
r = ctl_cmd(ctl, {"cmd": "migrate", "to": uri})
ok(name + "-refused", r.get("ok") is False and "firmware" in r.get("error", ""), r)
drc, derr = finish_vm(d)
rc, err = finish_vm(p)
ok(name + "-source-goes-on", rc == 33 and "RESULT: PASS" in read(ser), "status %s" % rc)

# --- OVMF: saved during the shell's countdown, restored with a fresh vars file ---
code, tmpl = "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"
if os.access(code, os.R_OK) and os.access(tmpl, os.R_OK):
    name = "fw-uefi-save"
    va, vb = os.path.join(tmp, "a_VARS.fd"), os.path.join(tmp, "b_VARS.fd")
    cfg = ["--memory", "256M", "--no-reboot"]
    p, ctl, ser = start(name, ["--firmware", "uefi,vars=" + va] + cfg)
    got = wait_for(ser, r"Press ESC in|Shell>", 90)
    state = os.path.join(tmp, name + ".state")
    early = "Shell>" not in read(ser)
    r = ctl_cmd(ctl, {"cmd": "save", "path": state})
    rc, err = finish_vm(p)
    ok(name + "-saved", got and r.get("ok") is True and rc == 0, "%s %s %s" % (r, rc, read(ser)[-300:]))
    if not early:
        print("SKIP %s-continues: the shell's prompt was out before the save" % name)
    rser = os.path.join(tmp, name + "-b.out")
    q = subprocess.Popen([vsrv, "run", "--restore", state, "--serial", "file:" + rser,
                          "--firmware", "uefi,vars=" + vb] + cfg,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    reached = wait_for(rser, r"Shell>", 60)
    q.terminate()
    qrc, qerr = finish_vm(q)
    if early:
        ok(name + "-continues", reached, "status %s: %s %s" % (qrc, qerr, read(rser)[-300:]))
    a, b, t = (open(f, "rb").read() for f in (va, vb, tmpl))
    ok(name + "-vars-restored", a == b and a != t,
       "%d of %d blocks differ" % (sum(a[i:i + 4096] != b[i:i + 4096] for i in range(0, len(a), 4096)),
                                   len(a) // 4096))
    rc, err, out = restore(name + "-bios", state, ["--firmware", "bios"] + cfg, 30)
    ok(name + "-refused-as-bios", rc == 1 and "firmware" in err, "status %s: %s" % (rc, err))

    # migrated on the same host with the same vars file (shared storage): the lock is
    # handed over, and the destination reaches the shell
    name = "fw-uefi-migrate"
    vm_ = os.path.join(tmp, "m_VARS.fd")
    uri = "unix:" + os.path.join(tmp, name + ".sock")
    dser = os.path.join(tmp, name + "-dst.out")
    fwcfg = ["--firmware", "uefi,vars=" + vm_] + cfg
    p, ctl, ser = start(name, fwcfg)
    got = wait_for(ser, r"Press ESC in|Shell>", 90)
    d = subprocess.Popen([vsrv, "run", "--incoming", uri, "--serial", "file:" + dser] + fwcfg,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(500):
        if os.path.exists(uri[5:]) or d.poll() is not None: break
        time.sleep(0.01)
    early = "Shell>" not in read(ser)
    r = ctl_cmd(ctl, {"cmd": "migrate", "to": uri})
    rc, err = finish_vm(p)
    ok(name + "-migrated", got and r.get("ok") is True and rc == 0, "%s status %s %s" % (r, rc, err))
    reached = wait_for(dser, r"Shell>", 60)
    d.terminate()
    drc, derr = finish_vm(d)
    if early:
        ok(name + "-continues", reached, "status %s: %s %s" % (drc, derr, read(dser)[-300:]))
    else:
        print("SKIP %s-continues: the shell's prompt was out before the migration" % name)
else:
    print("SKIP fw-uefi-save: Debian's ovmf is not installed")
sys.exit(1 if vmstate.fails else 0)
EOF
[ $? -eq 0 ] || _fails=1
finish
