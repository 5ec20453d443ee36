#!/usr/bin/env bash
# `make install` into a DESTDIR: the binaries (and vsrv finds vsrv-server beside it), the
# systemd unit (checked with systemd-analyze verify), the system user (sysusers.d, applied
# with systemd-sysusers --root), the data directory (tmpfiles.d), man pages and the bash
# completion; PREFIX=/usr; `make uninstall`.
source "$(dirname "$0")/lib.sh"
D=$TMP/root
out=$(make --no-print-directory -C "$ROOT" install DESTDIR="$D" 2>&1); rc=$?
P=$D/usr/local
mode() { stat -c %a "$1" 2>/dev/null; }
if [ $rc -eq 0 ] && [ "$(mode "$P/bin/vsrv")" = 755 ] && [ "$(mode "$P/bin/vsrv-server")" = 755 ] &&
   [ "$(mode "$P/lib/systemd/system/vsrv.service")" = 644 ] &&
   [ "$(mode "$P/lib/sysusers.d/vsrv.conf")" = 644 ] && [ "$(mode "$P/lib/tmpfiles.d/vsrv.conf")" = 644 ]; then
	pass install-tree
else
	fail install-tree "status $rc: $(find "$D" -printf '%m %p|' 2>/dev/null) $(tail -n 3 <<<"$out" | tr '\n' '|')"
fi
# With a DESTDIR nothing touches the host: no user created, no daemon-reload.
grep -qE "^systemd-(sysusers|tmpfiles)|daemon-reload" <<<"$out" && fail install-destdir-host-untouched "$out" ||
	pass install-destdir-host-untouched
# The man pages and the completion that `make` builds (mk/cli.mk).
missing=
for m in "$ROOT"/build/man/vsrv.1 "$ROOT"/build/man/*.[1-8]; do
	s=${m##*.}
	[ -f "$P/share/man/man$s/$(basename "$m")" ] || missing="$missing $(basename "$m")"
done
cmp -s "$ROOT/build/completion/vsrv" "$P/share/bash-completion/completions/vsrv" || missing="$missing completion"
if [ -z "$missing" ]; then
	pass install-man-completion
else
	fail install-man-completion "not installed:$missing"
fi
# The installed vsrv runs, and finds the server binary beside it.
r=$("$P/bin/vsrv" serve --help 2>&1); rc=$?
[ $rc -eq 0 ] && grep -q "usage: vsrv serve" <<<"$r" && pass install-binaries-run ||
	fail install-binaries-run "status $rc: $(head -n 2 <<<"$r" | tr '\n' '|')"

unit=$P/lib/systemd/system/vsrv.service
if grep -qx "ExecStart=/usr/local/bin/vsrv serve --data-dir /var/lib/vsrv \$VSRV_ARGS" "$unit" &&
   grep -qx "KillMode=process" "$unit" && grep -qx "WantedBy=multi-user.target" "$unit" &&
   grep -qx "StateDirectory=vsrv" "$unit"; then
	pass install-unit-content
else
	fail install-unit-content "$(grep -E '^(ExecStart|KillMode|WantedBy|StateDirectory)=' "$unit" | tr '\n' '|')"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify checks that ExecStart's binary exists: the staged copy stands in for /usr/local/bin.
	mkdir -p "$TMP/verify"
	sed "s|=/usr/local/bin/|=$P/bin/|" "$unit" >"$TMP/verify/vsrv.service"
	v=$(systemd-analyze verify --man=no "$TMP/verify/vsrv.service" 2>&1); rc=$?
	[ $rc -eq 0 ] && [ -z "$v" ] && pass install-unit-verify ||
		fail install-unit-verify "status $rc: $(tr '\n' '|' <<<"$v")"
else
	skip install-unit-verify "systemd-analyze is not installed (Debian package systemd)"
fi
if command -v systemd-sysusers >/dev/null 2>&1 && command -v systemd-tmpfiles >/dev/null 2>&1; then
	mkdir -p "$D/etc"
	s=$(systemd-sysusers --root="$D" 2>&1); rc=$?
	if [ $rc -eq 0 ] && grep -q "^vsrv:x:[0-9]*:[0-9]*:[^:]*:/var/lib/vsrv:/usr/sbin/nologin$" "$D/etc/passwd" &&
	   grep -q "^kvm:x:[0-9]*:.*vsrv" "$D/etc/group"; then
		pass install-sysusers
	else
		fail install-sysusers "status $rc: $s $(cat "$D/etc/passwd" "$D/etc/group" 2>&1 | tr '\n' '|')"
	fi
	s=$(systemd-tmpfiles --root="$D" --create 2>&1); rc=$?
	[ $rc -eq 0 ] && [ "$(stat -c '%a %U' "$D/var/lib/vsrv" 2>/dev/null)" = "700 root" ] &&
		pass install-tmpfiles || fail install-tmpfiles "status $rc: $s $(stat -c '%a %U' "$D/var/lib/vsrv" 2>&1)"
else
	skip install-sysusers "systemd-sysusers is not installed (Debian package systemd)"
	skip install-tmpfiles "systemd-tmpfiles is not installed (Debian package systemd)"
fi

# PREFIX=/usr, the Debian layout.
D2=$TMP/usr-root
out=$(make --no-print-directory -C "$ROOT" install DESTDIR="$D2" PREFIX=/usr 2>&1); rc=$?
[ $rc -eq 0 ] && [ -x "$D2/usr/bin/vsrv" ] &&
	grep -qx "ExecStart=/usr/bin/vsrv serve --data-dir /var/lib/vsrv \$VSRV_ARGS" "$D2/usr/lib/systemd/system/vsrv.service" &&
	[ -f "$D2/usr/lib/sysusers.d/vsrv.conf" ] && pass install-prefix-usr ||
	fail install-prefix-usr "status $rc: $(find "$D2" -type f | tr '\n' '|')"

out=$(make --no-print-directory -C "$ROOT" uninstall DESTDIR="$D" 2>&1); rc=$?
left=$(find "$P" -type f 2>/dev/null)
[ $rc -eq 0 ] && [ -z "$left" ] && pass install-uninstall || fail install-uninstall "status $rc, left: $left"
finish
