#!/usr/bin/env bash
# CD/DVD drives of the server's VMs: ISOs made with xorriso and uploaded through the API;
# cdroms created with the VM, changed while off, shown; validation (unknown image, another
# kind, too many drives); the images' used_by and their refused DELETE; media change
# (POST .../media) on an off VM and its permissions; the VMM's argv (--cdrom) the supervisor
# builds; and under KVM a medium changed on the running VM.
command -v xorriso >/dev/null || { echo "SKIP server-cdroms: xorriso is not installed (make test-deps)"; exit 0; }
exec python3 "$(dirname "$0")/server/cdroms.py"
