#!/usr/bin/env bash
# vsrv run --enlightenments under Linux's own detection (guests/linux: CONFIG_KVM_GUEST and
# CONFIG_HYPERV): kvm, the default, is found as KVM and the kernel clocks on kvm-clock; hyperv
# is found as Microsoft Hyper-V, the kernel clocks on the Hyper-V TSC page and the VMBus probe
# (which vsrv answers as a Hyper-V without VMBus) does not end the VM; none offers no
# hypervisor leaves at all; xen (CONFIG_XEN_PVHVM) is found as Xen HVM, the kernel takes its
# events through the callback vector and clocks on the Xen pvclock (KVM's Xen emulation:
# KVM_CAP_XEN_HVM; a host whose KVM has none skips those, naming the reason). Each boot
# powers off with status 0. Skips only without /dev/kvm.
source "$(dirname "$0")/lib.sh"

need_linux_guest linux-enlight vmlinux initramfs.cpio
cd "$TMP" || exit 1

# boot E: runs the guest with --enlightenments E into E.log; sets rc and result
boot() {
  local times
  times=$(python3 "$ROOT/guests/linux/timeboot.py" --timeout 110 --log "$1.ts" -- \
    "$VSRV" run --kernel "$LG/vmlinux" --initrd "$LG/initramfs.cpio" --memory 128M \
    --cmdline "$(cat "$ROOT/guests/linux/cmdline")" --serial stdio --no-reboot \
    --enlightenments "$1")
  sed 's/^\[ *[0-9.]*\] //' "$1.ts" >"$1.log"
  rc=$(sed -n 's/.* status=\([-0-9]*\) .*/\1/p' <<<"$times")
  result=$(grep -a '^VSRV-RESULT ' "$1.log" | tail -n1 | tr -d '\r')
  echo "linux-enlight $1: $times; $result"
  grep -a -E 'Hypervisor detected|Hyper-V|kvm-clock|clocksource|vmbus|[Xx]en' "$1.log" | sed 's/^/  | /' | tail -n 12
}

boot kvm
[ "$rc" = 0 ] && grep -q "^VSRV-RESULT ok" <<<"$result" && pass linux-enlight-kvm-boots ||
  fail linux-enlight-kvm-boots "status '$rc', '${result:-no result}'"
grep -aq 'Hypervisor detected: KVM' kvm.log && pass linux-enlight-kvm-detected ||
  fail linux-enlight-kvm-detected "Linux did not detect KVM"
grep -q 'clock=kvm-clock' <<<"$result" && pass linux-enlight-kvm-clock ||
  fail linux-enlight-kvm-clock "clock source: '${result:-none}'"

boot hyperv
[ "$rc" = 0 ] && grep -q "^VSRV-RESULT ok" <<<"$result" && pass linux-enlight-hyperv-boots ||
  fail linux-enlight-hyperv-boots "status '$rc', '${result:-no result}'"
grep -aq 'Hypervisor detected: Microsoft Hyper-V' hyperv.log && pass linux-enlight-hyperv-detected ||
  fail linux-enlight-hyperv-detected "Linux did not detect Hyper-V"
grep -q 'clock=hyperv_clocksource_tsc_page' <<<"$result" && pass linux-enlight-hyperv-tsc-page ||
  fail linux-enlight-hyperv-tsc-page "clock source: '${result:-none}'"

boot xen
if grep -aqE "enlightenments xen: this host's KVM (has no|lacks)" xen.log; then
  why=$(grep -a "enlightenments xen:" xen.log | head -n1)
  for t in boots detected callback-vector clock; do skip "linux-enlight-xen-$t" "${why#vsrv: }"; done
else
  [ "$rc" = 0 ] && grep -q "^VSRV-RESULT ok" <<<"$result" && pass linux-enlight-xen-boots ||
    fail linux-enlight-xen-boots "status '$rc', '${result:-no result}'"
  grep -aq 'Hypervisor detected: Xen HVM' xen.log && grep -aq 'Xen version 4\.16\.' xen.log &&
    pass linux-enlight-xen-detected || fail linux-enlight-xen-detected "Linux did not detect Xen HVM"
  grep -aq 'Xen HVM callback vector for event delivery is enabled' xen.log &&
    pass linux-enlight-xen-callback-vector ||
    fail linux-enlight-xen-callback-vector "no callback vector: $(grep -a -i 'callback' xen.log | head -n 2)"
  grep -q 'clock=xen' <<<"$result" && pass linux-enlight-xen-clock ||
    fail linux-enlight-xen-clock "clock source: '${result:-none}'"
fi

boot none
[ "$rc" = 0 ] && grep -q "^VSRV-RESULT ok" <<<"$result" && pass linux-enlight-none-boots ||
  fail linux-enlight-none-boots "status '$rc', '${result:-no result}'"
! grep -aq 'Hypervisor detected' none.log && pass linux-enlight-none-hidden ||
  fail linux-enlight-none-hidden "$(grep -a 'Hypervisor detected' none.log)"
finish
