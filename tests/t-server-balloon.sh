#!/usr/bin/env bash
# A VM's memory balloon in the server: the "balloon" setting and migration 8, the VMM's argv,
# GET/PUT /api/v1/vms/NAME/balloon and their refusals (409, 400, 403, 404); with KVM the Linux
# test guest's balloon driver (statistics, inflate, deflate, free page reporting).
exec python3 "$(dirname "$0")/server/balloon.py"
