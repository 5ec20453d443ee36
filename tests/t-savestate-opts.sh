#!/usr/bin/env bash
# vsrv run --restore takes the VM's options from the save file's RUN section
# (docs/savestate.md "The run configuration"), without KVM: a file saved by this build
# (fuzz/corpus/savestate/devices-4m, a RUN section added to it as this build writes one:
# tests/vmstate.py add_run) restores with no VM option at all up to the point where the VM
# is built (the file's --disk is opened: a missing one is named; the file's memory and vCPU
# count match, so what remains is /dev/kvm); options given otherwise are refused naming the
# option before anything is built; the same file without the section (the format before)
# still needs the options; vsrv img info shows the configuration.
. "$(dirname "$0")/lib.sh"
seed=$ROOT/fuzz/corpus/savestate/devices-4m
[ -r "$seed" ] || { fail savestate-opts "missing $seed"; finish; exit; }
disk=$TMP/d.raw
python3 - "$ROOT/tests" "$seed" "$TMP/run.state" "$disk" "$TMP/nodisk.state" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import vmstate
seed, out, disk, nodisk = sys.argv[2:6]
d = open(seed, "rb").read()
opts = ["--kernel=/nonexistent/guest.elf", "--memory=4M", "--disk=%s,transport=pci", "--device=rng"]
open(out, "wb").write(vmstate.add_run(d, [o % disk if "%s" in o else o for o in opts]))
open(nodisk, "wb").write(vmstate.add_run(d, [o % (disk + ".gone") if "%s" in o else o for o in opts]))
PY
truncate -s 1M "$disk"
# run NAME WANT-STATUS PATTERN [NOT-PATTERN] -- ARGS...: vsrv run's status and stderr
run() {
	local name=$1 want=$2 pat=$3 not=${4:-} err rc; shift 4
	[ "${1:-}" = -- ] && shift
	err=$(timeout 30 "$VSRV" run "$@" 2>&1 >/dev/null); rc=$?
	if [ "$rc" = "$want" ] && grep -q -- "$pat" <<<"$err" && { [ -z "$not" ] || ! grep -q -- "$not" <<<"$err"; }; then
		pass "$name"
	else
		fail "$name" "status $rc: $err"
	fi
}
if have_kvm; then
	skip savestate-opts-from-file "a usable /dev/kvm: the restore would run (t-savestate.sh restores with no options)"
else
	# every check of the file against the configuration passes: the VM is the file's
	run savestate-opts-from-file 1 "cannot open /dev/kvm" "this one" -- --restore "$TMP/run.state" --serial none
	run savestate-opts-same-given 1 "cannot open /dev/kvm" "is not what" -- --restore "$TMP/run.state" \
		--serial none --memory 4 --cpus 1 --disk "$disk,transport=pci" --device rng
fi
run savestate-opts-disk-from-file 1 "disk $disk.gone: No such file" "" -- --restore "$TMP/nodisk.state" --serial none
run savestate-opts-other-memory 1 "--memory=8M is not what the saved VM has (--memory=4M)" "" -- \
	--restore "$TMP/run.state" --serial none --memory 8M
run savestate-opts-other-disk 1 "--disk=$disk,transport=mmio is not what the saved VM has" "" -- \
	--restore "$TMP/run.state" --serial none --disk "$disk,transport=mmio" --device rng
run savestate-opts-old-file-needs-them 1 "the saved VM has 4 MiB of memory, this one 128 MiB" "" -- \
	--restore "$seed" --serial none
if "$VSRV" img info "$TMP/run.state" | grep -q -- "run configuration: --kernel=/nonexistent/guest.elf"; then
	pass savestate-opts-img-info
else
	fail savestate-opts-img-info "$("$VSRV" img info "$TMP/run.state" 2>&1 | tail -5)"
fi
finish
