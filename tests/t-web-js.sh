#!/usr/bin/env bash
# The web console's JavaScript (web/*.mjs) under node's test runner: its logic without a
# DOM (tests/web/unit.test.mjs) and its API client against a real server with a running
# guest (tests/web/server.test.mjs), and the page itself in headless Chromium
# (tests/web/browser.test.mjs; the terminal, the management pages, a viewer's pages and
# 1,000 VMs without a guest: tests/web/manage.test.mjs; the graphical and serial consoles
# over WebSockets: tests/web/display.test.mjs). Each node test becomes one PASS/FAIL/SKIP line.
# tests/run: alone (Chromium and servers, several at once)
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null 2>&1; then
	skip web-js "node is not installed (Debian package nodejs)"
	exit 0
fi
out=$(timeout -k 5 300 node --test --test-reporter=tap tests/web/unit.test.mjs tests/web/server.test.mjs \
	tests/web/browser.test.mjs tests/web/manage.test.mjs tests/web/display.test.mjs \
	tests/web/cluster.test.mjs tests/web/migrate.test.mjs 2>&1)
rc=$?
# Top-level TAP results: "ok N - name", "not ok N - name", "# SKIP reason".
awk '
/^(not )?ok [0-9]+ - / {
	fail = ($1 == "not"); sub(/^(not )?ok [0-9]+ - /, "")
	if (match($0, / # SKIP.*/)) { reason = substr($0, RSTART + 7); name = substr($0, 1, RSTART - 1)
		print "SKIP web-js " name ": " reason; next }
	if (fail) { print "FAIL web-js " $0 ": see the log above"; nf++ } else print "PASS web-js " $0
}' <<<"$out"
if [ "$rc" -ne 0 ]; then
	# each failed test's report (the lines after its "not ok"), then the end of the output
	grep -A 40 '^not ok ' <<<"$out" | head -n 200
	echo "$out" | grep -v '^ok ' | tail -n 20
	grep -q '^not ok ' <<<"$out" || echo "FAIL web-js: node exited with status $rc"
fi
exit 0
