#!/usr/bin/env bash
# Issue 5: a small Linux boots under `vsrv run` and proves the devices with its own drivers.
# One VM: a dynamic VHD on virtio-blk (vda), a raw image on virtio-scsi (sda), a differencing VHD over a
# base image on a second virtio-blk (vdb, on virtio-pci), user-mode networking, the serial console. The guest's /init
# (guests/linux/init) pattern-tests the disks, takes a DHCP lease, fetches a file over HTTP from a server
# this test runs, prints "VSRV-RESULT ..." and powers off. The host then checks the images.
# Skips only without /dev/kvm; a kernel that `make test` should have built and did not is a failure.
source "$(dirname "$0")/lib.sh"
MB=$((1024 * 1024))
SIZE=$((4 * MB))   # small: kernel-mode I/O is emulated here (see guests/linux/README.md)

need_linux_guest linux-boot vmlinux initramfs.cpio disktest

# Images: dynamic VHD, raw, and a differencing VHD over a base holding a known pattern.
cd "$TMP" || exit 1
ok=1
"$VSRV" img create -f vhd -o subformat=dynamic a.vhd $SIZE >img.log 2>&1 || ok=0
truncate -s $SIZE s.raw || ok=0
"$LG/disktest" gen $SIZE BASE >base.raw || ok=0
"$VSRV" img convert -f raw -O vhd -o subformat=dynamic base.raw base.vhd >>img.log 2>&1 || ok=0
"$VSRV" img create -f vhd -b base.vhd d.vhd >>img.log 2>&1 || ok=0
if [ $ok = 0 ]; then fail linux-images "vsrv img could not make the test images: $(tail -n 3 img.log)"; finish; exit; fi
base_sum=$(sha256sum <base.vhd)
pass linux-images

# The HTTP server on the host's loopback: the NAT's gateway 10.0.2.2 reaches it.
mkdir www && head -c 100000 /dev/urandom >www/blob   # TCP into the guest runs at ~35 KB/s here
blob_sum=$(sha256sum <www/blob); blob_sum=${blob_sum%% *}
http_serve www
port=$http_port
if [ -z "$port" ]; then fail linux-http "the test's HTTP server did not start: $(cat "$TMP/http.log")"; finish; exit; fi

# The differencing disk sits on virtio-pci (MSI-X), the others on virtio-mmio: both transports.
cmdline="$(cat "$ROOT/guests/linux/cmdline") vsrv_disks=vda:A,vdb:D:BASE,sda:S vsrv_url=http://10.0.2.2:$port/blob vsrv_sha=$blob_sum"
# timeboot.py runs vsrv and time-stamps its console: first output, /init, exit (in this test's log).
# The ELF vmlinux, not the bzImage: its LZ4 decompressor alone takes ~25 s in this host's emulated
# kernel mode (bench/linux-boot.sh measures both).
times=$(python3 "$ROOT/guests/linux/timeboot.py" --timeout 110 --log console.ts -- \
  "$VSRV" run --kernel "$LG/vmlinux" --initrd "$LG/initramfs.cpio" --memory 128M \
  --cmdline "$cmdline" --serial stdio --no-reboot \
  --disk a.vhd,format=vhd,bus=virtio-blk --disk s.raw,format=raw,bus=scsi \
  --disk d.vhd,format=vhd,bus=virtio-blk,transport=pci --net user)
sed 's/^\[ *[0-9.]*\] //' console.ts >console.log
rc=$(sed -n 's/.* status=\([-0-9]*\) .*/\1/p' <<<"$times")
echo "linux-boot: $times"
echo "linux-boot: console (seconds since vsrv started):"
sed 's/^/  | /' console.ts | tail -n 60

result=$(grep -a '^VSRV-RESULT ' console.log | tail -n1 | tr -d '\r')
if [ "$rc" = 0 ]; then pass linux-poweroff
elif grep -q "timed_out=1" <<<"$times"; then fail linux-poweroff "vsrv run still running after 110 s (killed)"
else fail linux-poweroff "vsrv run exited with status $rc (want 0 after poweroff -f)"; fi
case "$result" in
  "VSRV-RESULT ok"*) pass linux-result ;;
  "") fail linux-result "no VSRV-RESULT line on the console" ;;
  *) fail linux-result "$result" ;;
esac
grep -q "http=ok" <<<"$result" && pass linux-net || fail linux-net "DHCP + HTTP through the NAT failed: $result"
grep -q "mac=ok" <<<"$result" && pass linux-net-mac ||
  fail linux-net-mac "ip link set eth0 address (virtio-net control queue, MAC_ADDR_SET) failed: $result"
# vsrv offers VIRTIO_F_RING_PACKED and Linux takes it: /init counts the devices using it.
if [[ "$result" =~ \ packed=([0-9]+)/([0-9]+) ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] &&
   [ "${BASH_REMATCH[1]}" -ge 4 ]; then pass linux-packed-rings
else fail linux-packed-rings "not every virtio device (blk, blk, scsi, net) runs on packed rings: $result"; fi

# Host side: the images hold exactly what the guest wrote; the guest's checksums agree.
check_image() { # NAME FILE FORMAT SEED [BASESEED]
  local name=$1 file=$2 fmt=$3 raw=$1.out.raw
  if [ "$fmt" = vhd ]; then
    "$VSRV" img convert -f vhd -O raw "$file" "$raw" >conv.log 2>&1 ||
      { fail "linux-disk-$name" "vsrv img convert failed: $(tail -n1 conv.log)"; return; }
  else
    raw=$file
  fi
  local size; size=$(stat -c %s "$raw")   # a VHD's size follows its CHS geometry: not always $SIZE
  if ! "$LG/disktest" gen "$size" "${@:4}" | cmp -s - "$raw"; then
    fail "linux-disk-$name" "$file does not hold the pattern the guest wrote"; return
  fi
  local sum; sum=$("$LG/disktest" sum "$raw")
  if ! grep -q "^disk $name ok size=$size fnv=$sum " console.log; then
    fail "linux-disk-$name" "the guest's read-back checksum differs from the host's ($sum)"; return
  fi
  pass "linux-disk-$name"
}
check_image vda a.vhd vhd A
check_image sda s.raw raw S
check_image vdb d.vhd vhd D BASE

for img in a.vhd d.vhd base.vhd; do
  if "$VSRV" img check "$img" >check.log 2>&1; then pass "linux-img-check-$img"
  else fail "linux-img-check-$img" "vsrv img check: $(tail -n 2 check.log | tr '\n' ' ')"; fi
done
[ "$(sha256sum <base.vhd)" = "$base_sum" ] && pass linux-base-unchanged ||
  fail linux-base-unchanged "the base image under the differencing disk changed"
finish
