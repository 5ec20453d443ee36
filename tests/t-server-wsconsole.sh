#!/usr/bin/env bash
# The consoles over WebSockets (serial and VNC) and the display in the server: handshake,
# authentication (bearer token; the session cookie only with this server's Origin),
# permissions and state before the upgrade, the display setting (migration 8) and the VMM's
# argv, the bridge through the server (to a console socket the test listens on), a stopping
# server's close; with /dev/kvm a real VM's serial console, VNC server and screenshot.
exec python3 "$(dirname "$0")/server/wsconsole.py"
