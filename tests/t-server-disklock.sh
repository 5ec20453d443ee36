#!/usr/bin/env bash
# Exclusive disks under the server: one disk attached twice to one VM is refused (400); a
# disk locked by a process the server does not know (qemu-io, as a hand-started VM) refuses
# the start (409 "another process") and the resize (409); with /dev/kvm, two VMs on one
# disk (the second start 409 naming the first), readers sharing a disk, and a writer on the
# base of another VM's undo disk.
exec python3 "$(dirname "$0")/server/disklock.py"
