#!/usr/bin/env bash
# UART output flow control (src/devices/serial.c): the guest's console output goes through a
# bounded ring that the control loop drains; a slow reader slows the guest down (LSR.THRE
# reads 0 while the ring is full) instead of losing bytes or blocking a vCPU thread.
# The guest (tests/vmm-guests/flood.S) prints 1536 numbered 64-byte lines (96 KiB, more than
# the ring) after one byte of input, then "flood done", and exits with status 33.
source "$(dirname "$0")/lib.sh"
G=$ROOT/build/vmm-guests
if ! have_kvm; then skip serial-flow "$kvm_reason"; exit 0; fi
if ! command -v python3 >/dev/null; then skip serial-flow "python3 is not installed"; exit 0; fi

# expected output, generated the same way
python3 - >"$TMP/expected" <<'EOF'
import sys
t = " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZabcdef\n"
sys.stdout.write("".join("%04X%s" % (i, t) for i in range(1536)) + "flood done\n")
EOF

# 1. A Unix-socket client that reads 2 KiB every 10 ms (about 200 KB/s): every byte arrives,
#    in order.
"$VSRV" run --kernel "$G/flood.elf" --serial "unix:$TMP/con.sock" </dev/null >"$TMP/unix.out" 2>&1 &
pid=$!
timeout 60 python3 - "$TMP/con.sock" "$TMP/got" <<'EOF'
import socket, sys, time
for _ in range(400):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.05)
s.sendall(b"g")
buf = b""
while True:
    time.sleep(0.01)
    d = s.recv(2048)
    if not d: break
    buf += d
open(sys.argv[2], "wb").write(buf)
EOF
wait $pid; rc=$?
if [ $rc -eq 33 ] && cmp -s "$TMP/expected" "$TMP/got"; then
	pass serial-unix-slow-reader
else
	fail serial-unix-slow-reader "status $rc, got $(wc -c <"$TMP/got" 2>/dev/null) of $(wc -c <"$TMP/expected") bytes, first difference: $(cmp "$TMP/expected" "$TMP/got" 2>&1 | head -1); $(head -c 300 "$TMP/unix.out")"
fi

# 2. stdout into a pipe that is read only after a second: nothing lost.
echo g | (timeout 60 "$VSRV" run --kernel "$G/flood.elf" --serial stdio 2>"$TMP/pipe.err"; echo $? >"$TMP/pipe.rc") |
	{ sleep 1; cat >"$TMP/got2"; }
rc=$(cat "$TMP/pipe.rc")
if [ "$rc" = 33 ] && cmp -s "$TMP/expected" "$TMP/got2"; then
	pass serial-pipe-slow-reader
else
	fail serial-pipe-slow-reader "status $rc, got $(wc -c <"$TMP/got2") of $(wc -c <"$TMP/expected") bytes; $(head -c 300 "$TMP/pipe.err")"
fi

# 3. stdout into a pipe nobody reads: the guest is held back, but the VM still stops at once
#    on SIGTERM (no vCPU thread is stuck in write()), after trying to write what is left for
#    a bounded time.
mkfifo "$TMP/fifo"
exec 7<>"$TMP/fifo"   # keeps the pipe open without reading it
# The flood (96 KiB) must not fit into the serial ring (64 KiB) plus the pipe: a pipe's default
# capacity differs between machines (64 KiB here would let the guest finish), so make it one page.
if ! python3 -c 'import fcntl, sys; fcntl.fcntl(7, 1031, 4096); sys.exit(fcntl.fcntl(7, 1032) > 16384)' 7<>"$TMP/fifo"; then
	fail serial-blocked-stdout-stops "could not shrink the pipe (F_SETPIPE_SZ)"; finish
fi
echo g | timeout -k 10 30 "$VSRV" run --kernel "$G/flood.elf" --serial stdio >"$TMP/fifo" 2>"$TMP/blocked.err" &
pid=$!
sleep 1.5
t0=$(date +%s.%N)
kill -TERM $pid
wait $pid; rc=$?
t1=$(date +%s.%N)
exec 7>&-
secs=$(echo "$t1 - $t0" | bc)
if [ $rc -eq 143 ] && [ "$(echo "$secs < 5" | bc)" = 1 ]; then
	pass serial-blocked-stdout-stops
else
	fail serial-blocked-stdout-stops "status $rc after SIGTERM, took ${secs}s; $(head -c 300 "$TMP/blocked.err")"
fi

finish
