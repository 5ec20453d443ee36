#!/usr/bin/env bash
# The e1000 (--net user,model=e1000) under Linux's own e1000 driver: the small test kernel
# (guests/linux, CONFIG_E1000) finds the 82540EM on PCI (INTA# routed by the DSDT's _PRT),
# reads its EEPROM (the driver refuses a bad checksum), sees the link up, changes the MAC
# address (the receive address registers), takes a DHCP lease through the user-mode NAT and
# fetches a file over HTTP from a server this test runs (guests/linux/init), then powers off.
# Skips only without /dev/kvm; a kernel make test did not build is a failure.
source "$(dirname "$0")/lib.sh"

need_linux_guest linux-e1000 vmlinux initramfs.cpio

cd "$TMP" || exit 1
mkdir www && head -c 100000 /dev/urandom >www/blob
blob_sum=$(sha256sum <www/blob); blob_sum=${blob_sum%% *}
http_serve www
port=$http_port
if [ -z "$port" ]; then fail linux-e1000-http "the test's HTTP server did not start: $(cat "$TMP/http.log")"; finish; exit; fi

cmdline="$(cat "$ROOT/guests/linux/cmdline") vsrv_url=http://10.0.2.2:$port/blob vsrv_sha=$blob_sum"
times=$(python3 "$ROOT/guests/linux/timeboot.py" --timeout 110 --log console.ts -- \
  "$VSRV" run --kernel "$LG/vmlinux" --initrd "$LG/initramfs.cpio" --memory 128M \
  --cmdline "$cmdline" --serial stdio --no-reboot --net user,model=e1000)
sed 's/^\[ *[0-9.]*\] //' console.ts >console.log
rc=$(sed -n 's/.* status=\([-0-9]*\) .*/\1/p' <<<"$times")
echo "linux-e1000: $times"
grep -a -E 'e1000|PCI|eth0|VSRV-RESULT' console.log | sed 's/^/  | /' | tail -n 30

grep -aq 'pci 0000:00:0[0-9a-f].0: \[8086:100e\]' console.log && pass linux-e1000-found ||
  fail linux-e1000-found "Linux does not list an 8086:100e on PCI"
grep -aq 'e1000 .*eth0: Intel(R) PRO/1000 Network Connection' console.log && pass linux-e1000-probe ||
  fail linux-e1000-probe "the e1000 driver did not take the device (EEPROM, registers)"
grep -aq 'NIC Link is Up 1000 Mbps Full Duplex' console.log && pass linux-e1000-link ||
  fail linux-e1000-link "no link up at 1000 Mb/s full duplex"
result=$(grep -a '^VSRV-RESULT ' console.log | tail -n1 | tr -d '\r')
if [ "$rc" = 0 ]; then pass linux-e1000-poweroff
else fail linux-e1000-poweroff "vsrv run exited with status '$rc' (want 0 after poweroff -f)"; fi
grep -q "mac=ok" <<<"$result" && pass linux-e1000-mac ||
  fail linux-e1000-mac "ip link set eth0 address failed: '${result:-none}'"
grep -q "http=ok" <<<"$result" && pass linux-e1000-net ||
  fail linux-e1000-net "DHCP + HTTP over the e1000 through the NAT failed: '${result:-none}'"
finish
