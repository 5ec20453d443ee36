#!/usr/bin/env bash
# VM lifecycles under the server: many VMs, console, SIGKILLed VMMs, daemon restart.
exec python3 "$(dirname "$0")/server/vms.py"
