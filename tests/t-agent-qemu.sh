#!/usr/bin/env bash
# The server's guest agent service (src/server/agent*.c, through build/tests/unit-server-agent
# --guest) against Debian's qemu-ga in a real guest: the Linux test guest (guests/linux, its
# initramfs made with --agent, /init starting qemu-ga on vsrv_agent=1) under QEMU with TCG, its
# virtio-serial port org.qemu.guest_agent.0 on a Unix socket. Heartbeat and what the agent says
# of the guest, set-time (the clock moves), fsfreeze freeze/status/thaw, shutdown (QEMU ends by
# itself). This proves the guest's side and the protocol client without KVM; the VMM's own port
# (--device vport) meets the same guest in the server's tests on hosts with KVM.
source "$(dirname "$0")/lib.sh"
LG=$GUESTS/linux
bin=$ROOT/build/tests/unit-server-agent
command -v qemu-system-x86_64 >/dev/null || { skip agent-qemu "qemu-system-x86_64 not installed"; exit 0; }
[ -x "$bin" ] || { skip agent-qemu "$bin not built (make)"; exit 0; }
for f in bzImage initramfs-agent.cpio; do
  [ -s "$LG/$f" ] || { skip agent-qemu "$LG/$f not built (make linux-guest, with qemu-guest-agent installed)"; exit 0; }
done
cd "$TMP" || exit 1
cmdline="$(cat "$ROOT/guests/linux/cmdline") vsrv_agent=1"
timeout -k 5 300 qemu-system-x86_64 -M pc -accel tcg -m 256 -nodefaults -nographic -serial file:console.log \
  -no-reboot -kernel "$LG/bzImage" -initrd "$LG/initramfs-agent.cpio" -append "$cmdline" \
  -device virtio-serial-pci -chardev socket,id=qga,path="$TMP/qga.sock",server=on,wait=off \
  -device virtserialport,chardev=qga,name=org.qemu.guest_agent.0 </dev/null >qemu.log 2>&1 &
qpid=$!
for _ in $(seq 200); do [ -S qga.sock ] && break; sleep 0.05; done
"$bin" --guest "$TMP/qga.sock" 2>agent.log | sed 's/^\(PASS\|FAIL\) \([a-z_]*\)/\1 agent-qemu-\2/'
wait $qpid; rc=$?
[ "$rc" -eq 0 ] && pass agent-qemu-guest-powered-off ||
  fail agent-qemu-guest-powered-off "QEMU exited with $rc"
echo "agent-qemu: console:"; tail -n 20 console.log | sed 's/^/  | /'; sed 's/^/  # /' agent.log qemu.log | tail -n 10
finish
