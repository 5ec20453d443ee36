#!/usr/bin/env bash
# Linux boot time: the test kernel and initramfs (guests/linux) booted to /init and powered off, under
# `vsrv run` and under `qemu-system-x86_64 -M microvm -enable-kvm` with the same files, in one run.
# Figures (medians of RUNS boots, seconds from process start): first console output, the kernel's first
# line, its "x86/fpu:" line (the last QEMU reaches here: see below), /init running ("vsrv-init: up"),
# process exit. The guest does nothing but print and power off (no disks, no network).
# Contended variants (issue 18): the boots again under each load of BENCH_CONTEND
# (bench/lib/contend.sh; default "busy guests": a busy loop per core, and guests computing;
# "" for quiet only), the same load for both monitors; one block of lines per variant.
# Usage: bench/linux-boot.sh   (RUNS=3 by default; LINUX_BENCH_TIMEOUT=120 per boot)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LG=$ROOT/build/guests/linux
VSRV=$ROOT/build/vsrv
RUNS=${RUNS:-3}
TO=${LINUX_BENCH_TIMEOUT:-120}
cmdline=$(cat "$ROOT/guests/linux/cmdline")
[ -w /dev/kvm ] || { echo "linux-boot: skipped (no usable /dev/kvm: no guest boots here)"; exit 0; }
log=$(mktemp -d /tmp/vsrv-linux-bench.XXXXXX)
. "$ROOT/bench/lib/contend.sh"
trap 'contend_stop; rm -rf "$log"' EXIT
VARIANTS=(quiet)
for k in ${BENCH_CONTEND-busy guests}; do
	why=$(contend_why_not "$k")
	if [ -z "$why" ]; then VARIANTS+=("$k"); else echo "linux-boot: $k-contended variant skipped: $why"; fi
done

for f in bzImage vmlinux initramfs.cpio; do
  [ -s "$LG/$f" ] || { echo "linux-boot: $LG/$f missing (make linux-guest)"; exit 1; }
done

run_one() { # LABEL COMMAND...: one timed boot, prints timeboot's line
  python3 "$ROOT/guests/linux/timeboot.py" --timeout "$TO" --stop-on "KVM internal error" \
    --log "$log/$1.console" -- "${@:2}"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else print a[int((NR + 1) / 2)]}'; }

bench() { # LABEL COMMAND...
  local label=$1 i line
  shift
  : >"$log/$label.runs"
  for ((i = 0; i < RUNS; i++)); do
    line=$(run_one "$label" "$@")
    echo "$line" >>"$log/$label.runs"
  done
  for k in first_output kernel fpu init exit; do
    local v
    v=$(sed -n "s/.* *$k=\([^ ]*\).*/\1/p;s/^$k=\([^ ]*\).*/\1/p" "$log/$label.runs" | grep -v '^-$' | median)
    eval "${label}_$k=\$v"
  done
  local st; st=$(sed -n 's/.*status=\([^ ]*\).*/\1/p' "$log/$label.runs" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
  local ll; ll=$(tail -n1 "$log/$label.runs" | sed -n "s/.*last_line=//p")
  printf '%-13s output %6s  kernel %6s  fpu %6s  init %6s  exit %6s  (statuses: %s last: %s)\n' \
    "$label" "$(eval echo \$${label}_first_output)" "$(eval echo \$${label}_kernel)" \
    "$(eval echo \$${label}_fpu)" "$(eval echo \$${label}_init)" "$(eval echo \$${label}_exit)" "$st" "$ll"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a == 0) print "-"; else printf "%.2fx", b / a }'; }

for var in "${VARIANTS[@]}"; do
[ "$var" = quiet ] || contend_start "$var" || exit 1
for l in vsrv_bzImage vsrv_vmlinux qemu_microvm qemu_vmlinux; do
  for k in first_output kernel fpu init exit; do eval "${l}_$k=-"; done
done
echo "Linux boot (guests/linux, $RUNS runs each, median seconds from process start), $var"
if "$VSRV" run --help 2>&1 | grep -q -- --initrd; then
  bench vsrv_bzImage "$VSRV" run --kernel "$LG/bzImage" --initrd "$LG/initramfs.cpio" --memory 128M \
    --cmdline "$cmdline" --serial stdio --no-reboot
  bench vsrv_vmlinux "$VSRV" run --kernel "$LG/vmlinux" --initrd "$LG/initramfs.cpio" --memory 128M \
    --cmdline "$cmdline" --serial stdio --no-reboot
else
  echo "vsrv           (vsrv run lacks --initrd: not measured)"
fi
if command -v qemu-system-x86_64 >/dev/null; then
  # microvm's own defaults (ACPI with a GED power-off); no PIT/PIC needed by this kernel.
  # QEMU's KVM has no int3 assist: this kernel's int3 self-test (alternative_instructions) stops it
  # with "KVM internal error" on hosts like these; the figures then show how far it got.
  bench qemu_microvm qemu-system-x86_64 -M microvm -enable-kvm -m 128 -nodefaults -nographic \
    -serial stdio -no-reboot -kernel "$LG/bzImage" -initrd "$LG/initramfs.cpio" -append "$cmdline"
  # The same vmlinux through its PVH entry note (qboot then skips the decompressor).
  bench qemu_vmlinux qemu-system-x86_64 -M microvm -enable-kvm -m 128 -nodefaults -nographic \
    -serial stdio -no-reboot -kernel "$LG/vmlinux" -initrd "$LG/initramfs.cpio" -append "$cmdline"
else
  echo "qemu_microvm   (qemu-system-x86_64 not installed)"
fi
echo "$var: ratio QEMU/vsrv to the kernel's x86/fpu line: bzImage $(ratio "$vsrv_bzImage_fpu" "$qemu_microvm_fpu"), vmlinux $(ratio "$vsrv_vmlinux_fpu" "$qemu_vmlinux_fpu") (QEMU stops there: no int3 assist)"
contend_stop
# the figures of this variant for the side-by-side table (QEMU has no figure past x86/fpu)
printf '%s %s %s %s\n' "bzImage-to-x86/fpu" "$var" "$vsrv_bzImage_fpu" "$qemu_microvm_fpu" \
  "vmlinux-to-x86/fpu" "$var" "$vsrv_vmlinux_fpu" "$qemu_vmlinux_fpu" \
  "bzImage-to-/init" "$var" "$vsrv_bzImage_init" "$qemu_microvm_init" \
  "vmlinux-to-/init" "$var" "$vsrv_vmlinux_init" "$qemu_vmlinux_init" >>"$log/summary"
done
echo "quiet and contended side by side (median seconds; ratio = qemu / vsrv, >1: vsrv faster):"
awk -v vs="${VARIANTS[*]}" 'BEGIN { nv = split(vs, V, " ") }
  { if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } a[$1, $2] = $3; b[$1, $2] = $4 }
  END {
    printf "%-22s", "figure"; for (i = 1; i <= nv; i++) printf " | %-6s %7s %7s %6s", V[i], "vsrv", "qemu", "ratio"; printf "\n"
    for (j = 1; j <= n; j++) {
      printf "%-22s", order[j]
      for (i = 1; i <= nv; i++) {
        x = a[order[j], V[i]]; y = b[order[j], V[i]]
        r = (x != "-" && y != "-" && x > 0) ? sprintf("%.2fx", y / x) : "-"
        printf " | %-6s %7s %7s %6s", "", x, y, r
      }
      printf "\n"
    }
  }' "$log/summary"
for q in qemu_microvm qemu_vmlinux; do
  echo "last $q console lines:"; grep -aE 'x86/fpu|KVM internal error|emulation failure' "$log/$q.console" 2>/dev/null | tail -n 3 | cut -c1-150 | sed 's/^/  | /'
done
