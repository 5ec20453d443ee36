#!/usr/bin/env bash
# A VM's guest agent through the API: the agent field and endpoint, the permissions of its
# commands (guest-agent is not part of full), bad bodies, the running-state check, the
# shutdown's ACPI fallback (KVM). The protocol against the real qemu-ga: unit-server-agent.
exec python3 "$(dirname "$0")/server/agent.py"
