#!/usr/bin/env bash
# npm packages, with the node and npm of the Debian package nodejs, installed into build/
# (never committed) and again only when their list changes.
#
# mk/npm.sh [DIR]: the npm tools of the API tests (tests/server/openapi.py): an OpenAPI
# validator and a client generator with the TypeScript compiler for its output, into
# build/npm at test time.
#
# mk/npm.sh --web DIR OUT: the browser libraries the web console embeds (mk/web.mk), at
# build time: xterm.js (the serial console), uPlot (the charts) and noVNC (the graphical
# console: its ES modules, copied as a tree into OUT/novnc), at the exact versions
# and hashes of mk/web-npm/package-lock.json (npm ci into DIR), then the files the page
# loads copied into OUT under the plain names src/server/web.c serves them by. The page
# never fetches them from anywhere but the server.
set -euo pipefail
cd "$(dirname "$0")/.."

need_npm() {
	if ! command -v npm >/dev/null 2>&1; then
		echo "npm.sh: npm is missing (it comes with node: Debian packages nodejs and npm)" >&2
		exit 1
	fi
}

if [ "${1:-}" = --web ]; then
	dir=$2 out=$3
	stamp=$dir/.installed
	want=$(sha256sum mk/web-npm/package.json mk/web-npm/package-lock.json | sha256sum | cut -d' ' -f1)
	if ! [ -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
		need_npm
		mkdir -p "$dir"
		cp mk/web-npm/package.json mk/web-npm/package-lock.json "$dir/"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error --ignore-scripts >&2)
		echo "$want" >"$stamp"
	fi
	mkdir -p "$out"
	m=$dir/node_modules
	# name in OUT <- file of the package (the source map comment dropped: no map is served)
	while read -r name src; do
		sed '/^\/\/# sourceMappingURL=/d' "$m/$src" >"$out/$name.tmp"
		mv "$out/$name.tmp" "$out/$name"
	done <<-'LIST'
	xterm.mjs @xterm/xterm/lib/xterm.mjs
	xterm.css @xterm/xterm/css/xterm.css
	uplot.mjs uplot/dist/uPlot.esm.js
	uplot.css uplot/dist/uPlot.min.css
	LIST
	# noVNC's modules import each other by relative paths: its core/ and vendor/ as they are
	rm -rf "$out/novnc.tmp"
	mkdir -p "$out/novnc.tmp"
	(cd "$m/@novnc/novnc" && find core vendor -name '*.js' -type f) | while read -r f; do
		mkdir -p "$out/novnc.tmp/$(dirname "$f")"
		cp "$m/@novnc/novnc/$f" "$out/novnc.tmp/$f"
	done
	rm -rf "$out/novnc"
	mv "$out/novnc.tmp" "$out/novnc"
	exit 0
fi

dir=${1:-build/npm}
pkgs=(@apidevtools/swagger-parser@13.0.0 @hey-api/openapi-ts@0.95.0 typescript@5.9.3)
stamp=$dir/.installed
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "${pkgs[*]}" ] && exit 0
need_npm
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"private": true}' >"$dir/package.json"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "${pkgs[@]}" >&2
echo "${pkgs[*]}" >"$stamp"
