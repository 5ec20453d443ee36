#!/usr/bin/env bash
# A host without a usable /dev/kvm: starts refused with 503 and what to do, nothing recorded,
# the host's and the health's kvm, the CLI's message (tests/server/nokvm.py).
exec python3 "$(dirname "$0")/server/nokvm.py"
