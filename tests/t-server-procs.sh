#!/usr/bin/env bash
# A VM's processes: a monitor's death takes its VMM; never two VMMs for one VM, none left
# behind; VMs run as an unprivileged user with none of the server's file descriptors.
exec python3 "$(dirname "$0")/server/procs.py"
