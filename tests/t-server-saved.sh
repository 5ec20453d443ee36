#!/usr/bin/env bash
# A VM's saved state through the server (POST .../save, .../discard-saved; start restores):
# refusals, the argv the supervisor builds for a saved VM (--restore), a failed restore that
# stays saved, a daemon restart, edits and snapshots refused, discard, delete; under KVM a
# counting guest saved and resumed where it was (tests/server/saved.py).
exec python3 "$(dirname "$0")/server/saved.py"
