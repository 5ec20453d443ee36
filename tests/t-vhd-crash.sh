#!/usr/bin/env bash
# Crash test for libvhd: a writer process writes and flushes random data (and zeros) to a
# dynamic and to a differencing VHD, logging each write before issuing it and each flush
# after it returned; it is killed with SIGKILL at a random moment, many times. After each
# kill, check must find no corruption (leaks are allowed) and every sector must hold its
# last flush-acknowledged content or that of a later write (tests/vhd_crash_helper.c).
. "$(dirname "$0")/lib.sh"
H=$ROOT/build/tests/vhd-crash-helper
KILLS=${VHD_CRASH_KILLS:-40}
[ -x "$H" ] || { fail vhd-crash "missing $H (run make)"; finish; exit; }

run() { # name img state
  local name=$1 img=$2 state=$3 i ok=1 msg=""
  for ((i = 1; i <= KILLS; i++)); do
    "$H" write "$img" "$state" "$TMP/log" "$i" 2>"$TMP/werr" &
    local pid=$!
    # 10..150 ms: the kill lands in writes, allocations and flushes
    sleep "0.$(printf '%03d' $((10 + RANDOM % 140)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ -s "$TMP/werr" ]; then ok=0; msg="writer failed: $(head -1 "$TMP/werr")"; break; fi
    if out=$("$H" verify "$img" "$state" "$TMP/log" 2>&1); then
      echo "$name kill $i: $(echo "$out" | tail -1)"
    else
      echo "$out" | head -20
      ok=0; msg="after kill $i: $(echo "$out" | grep -v '^check: leak' | head -3 | tr '\n' ' ')"; break
    fi
  done
  if [ $ok = 1 ]; then pass "$name ($KILLS kills)"; else fail "$name" "$msg"; return; fi
  # leaks repaired, content unchanged
  : >"$TMP/log"
  if "$H" repair "$img" >"$TMP/rep" 2>&1 && "$H" verify "$img" "$state" "$TMP/log" >>"$TMP/rep" 2>&1; then
    pass "$name-repair"
  else
    fail "$name-repair" "$(grep -v '^check: leak' "$TMP/rep" | head -3 | tr '\n' ' ')"
  fi
}

if "$H" init-dyn "$TMP/dyn.vhd" "$TMP/dyn.state"; then
  run vhd-crash-dynamic "$TMP/dyn.vhd" "$TMP/dyn.state"
else
  fail vhd-crash-dynamic "init failed"
fi
if "$H" init-diff "$TMP/base.vhd" "$TMP/diff.vhd" "$TMP/diff.state"; then
  run vhd-crash-differencing "$TMP/diff.vhd" "$TMP/diff.state"
else
  fail vhd-crash-differencing "init failed"
fi
finish
