# Shared helpers for shell tests: source it from tests/t-*.sh.
# A test prints one line per case: PASS name / FAIL name: reason / SKIP name: reason.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VSRV=${VSRV:-$ROOT/build/vsrv}
GUESTS=${GUESTS:-$ROOT/build/guests}
TMP=$(mktemp -d /tmp/vsrv-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
_fails=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: ${2:-failed}"; _fails=$((_fails + 1)); }
skip() { echo "SKIP $1: $2"; }

# check NAME CMD...: PASS when CMD succeeds, FAIL otherwise.
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi; }

# have_kvm: /dev/kvm is present and usable by us.
have_kvm() { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }
kvm_reason="no usable /dev/kvm on this machine"

# finish: exit status reflects the failures counted above.
finish() { [ "$_fails" -eq 0 ]; }
