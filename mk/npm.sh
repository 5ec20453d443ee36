#!/usr/bin/env bash
# The npm tools of the API tests (tests/server/openapi.py): an OpenAPI validator and a client
# generator with the TypeScript compiler for its output. Installed at test time into
# build/npm (never committed), with the node and npm of the Debian package nodejs; again
# only when this list changes. Usage: mk/npm.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/npm}
pkgs=(@apidevtools/swagger-parser@13.0.0 @hey-api/openapi-ts@0.95.0 typescript@5.9.3)
stamp=$dir/.installed
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "${pkgs[*]}" ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
	echo "npm.sh: npm is missing (it comes with node: Debian packages nodejs and npm)" >&2
	exit 1
fi
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"private": true}' >"$dir/package.json"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "${pkgs[@]}" >&2
echo "${pkgs[*]}" >"$stamp"
