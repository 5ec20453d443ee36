#!/usr/bin/env bash
# A VM's hardware in the server: firmware (none, bios, uefi), boot order, UUID, the disks'
# and CD/DVD drives' bus (ahci), the NICs' model (e1000), the os_type presets; validation;
# PATCH while off and its permission; the VMM's argv the supervisor builds; migration 7; the
# UEFI variable store in the VM's directory, deleted with the VM.
exec python3 "$(dirname "$0")/server/vmhw.py"
