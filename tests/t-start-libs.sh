#!/usr/bin/env bash
# Libraries loaded only by the processes that use them (issue 18: a process's start). The
# dynamic loader's own trace (LD_DEBUG=libs: one "calling init: PATH" line per shared object
# it starts, including those dlopen loads later) shows what each command loaded:
#  1. `vsrv --version`, `vsrv img create/info` on a VHD, `vsrv run` without --vnc (up to
#     /dev/kvm where there is none) and the CLI (build/vsrv-server) load none of LibVNCServer,
#     libgcrypt, GnuTLS, libqcow, libvmdk, libvhdi, libbfio;
#  2. `vsrv img info` on a qcow2 / VMDK / VHDX image loads its own library (and not the
#     others) and reads the image; `vsrv run --vnc` loads LibVNCServer and libgcrypt;
#  3. with a damaged copy of a library first on the search path (LD_LIBRARY_PATH), the
#     commands that do not use it still work, and those that do fail with a message naming the
#     library and its package (an empty file; a library of that name without the functions).
. "$(dirname "$0")/lib.sh"
cd "$TMP"
V=$VSRV
SERVER=$(dirname "$V")/vsrv-server
HEAVY='libvncserver|libgcrypt|libgnutls|libqcow|libvmdk|libvhdi|libbfio'

# loaded CMD...: run CMD; libs.txt gets the shared objects it (and the processes it forks)
# started, by file name, one a line; out.txt its output, $rc its exit status
loaded() {
	rm -f ld.*
	LD_DEBUG=libs LD_DEBUG_OUTPUT=$TMP/ld "$@" >out.txt 2>&1
	rc=$?
	cat ld.* 2>/dev/null | sed -n 's|.*calling init: .*/||p' | sort -u >libs.txt
}

# none NAME CMD...: CMD started libc (the trace works) and nothing of $HEAVY
none() {
	local name=$1 heavy; shift
	loaded "$@"
	heavy=$(grep -E "^($HEAVY)\." libs.txt | tr '\n' ' ')
	if ! grep -q '^libc\.so' libs.txt; then
		fail "$name" "no loader trace (LD_DEBUG=libs): $(head -c 300 out.txt)"
	elif [ -n "$heavy" ]; then
		fail "$name" "loaded $heavy"
	else
		pass "$name"
	fi
}

# ---- 1. the commands that need none of them ----------------------------------------------
none version-no-heavy-libs "$V" --version
none img-create-vhd-no-heavy-libs "$V" img create -f vhd x.vhd 64M
none img-info-vhd-no-heavy-libs "$V" img info x.vhd
grep -q 'file format: vhd' out.txt || fail img-info-vhd "no 'file format: vhd': $(cat out.txt)"
guest=$GUESTS/hello.elf
if [ -e "$guest" ]; then
	# with KVM the guest runs to its end; without, vsrv stops at /dev/kvm: all it loads by then
	none run-no-heavy-libs "$V" run --kernel "$guest" --memory 64M --serial none
else
	fail run-no-heavy-libs "$guest is missing (make)"
fi
# the CLI runs build/vsrv-server, whose libmicrohttpd and libcurl need GnuTLS: only the
# libraries it does not use are checked
if [ -x "$SERVER" ]; then
	HEAVY='libvncserver|libqcow|libvmdk|libvhdi|libbfio' VSRV_SOCKET=$TMP/none.sock \
		none cli-no-disk-vnc-libs "$V" vm list
	grep -q 'cannot reach the server' out.txt || fail cli-no-disk-vnc-libs "vm list: $(cat out.txt)"
fi

# ---- 2. each format loads its library, and only it ---------------------------------------
if command -v qemu-img >/dev/null; then
	for f in qcow2:libqcow vmdk:libvmdk vhdx:libvhdi; do
		fmt=${f%%:*} lib=${f#*:}
		qemu-img create -q -f "$fmt" "x.$fmt" 64M
		loaded "$V" img info "x.$fmt"
		others=$(grep -E "^($HEAVY)\." libs.txt | grep -v "^$lib\." | grep -v '^libbfio\.' | tr '\n' ' ')
		if [ "$rc" != 0 ] || ! grep -q '(67108864 bytes)' out.txt; then
			fail "img-info-$fmt-loads-$lib" "exit $rc: $(cat out.txt)"
		elif ! grep -q "^$lib\.so" libs.txt; then
			fail "img-info-$fmt-loads-$lib" "$lib not in the loader's trace"
		elif [ -n "$others" ]; then
			fail "img-info-$fmt-loads-$lib" "loaded $others too"
		else
			pass "img-info-$fmt-loads-$lib"
		fi
	done
else
	skip img-info-foreign-loads "qemu-img not installed (make test-deps)"
fi
if [ -e "$guest" ]; then
	loaded "$V" run --kernel "$guest" --memory 64M --serial none --vnc "unix:$TMP/v.sock"
	if grep -q '^libvncserver\.so' libs.txt && grep -q '^libgcrypt\.so' libs.txt; then
		pass run-vnc-loads-libvncserver
	else
		fail run-vnc-loads-libvncserver "not in the loader's trace: $(tr '\n' ' ' <libs.txt) ($(head -c 300 out.txt))"
	fi
fi

# ---- 3. a damaged library: only its users fail, and they say which -----------------------
mkdir -p bad
for l in libvncserver.so.1 libgcrypt.so.20 libqcow.so.1 libvhdi.so.1; do : >bad/$l; done
# a library of libvmdk's name without its functions
if command -v "${CC:-cc}" >/dev/null && echo 'int vsrv_not_libvmdk;' >novmdk.c &&
   "${CC:-cc}" -shared -fPIC -Wl,-soname,libvmdk.so.1 -o bad/libvmdk.so.1 novmdk.c; then
	made_vmdk=1
else
	made_vmdk=
fi
# expect NAME STATUS TEXT CMD...: CMD exits with STATUS and its output has TEXT
expect() {
	local name=$1 st=$2 text=$3 out; shift 3
	out=$(LD_LIBRARY_PATH=$TMP/bad "$@" 2>&1)
	local got=$?
	if [ "$got" != "$st" ]; then
		fail "$name" "exit $got, not $st: $out"
	elif ! grep -qF -- "$text" <<<"$out"; then
		fail "$name" "no '$text' in: $out"
	else
		pass "$name"
	fi
}
expect bad-libs-version 0 "vsrv" "$V" --version
expect bad-libs-img-info-vhd 0 "file format: vhd" "$V" img info x.vhd
if [ -e x.qcow2 ]; then
	expect bad-libqcow-img-info 1 "x.qcow2: qcow2 images need libqcow.so.1 (Debian's libqcow1): $TMP/bad/libqcow.so.1: file too short" \
		"$V" img info x.qcow2
	expect bad-libvhdi-img-info 1 "x.vhdx: VHDX images need libvhdi.so.1 (Debian's libvhdi1)" \
		"$V" img info x.vhdx
	if [ -n "$made_vmdk" ]; then
		expect bad-libvmdk-img-info 1 "VMDK images need libvmdk.so.1 (Debian's libvmdk1): $TMP/bad/libvmdk.so.1: undefined symbol: libvmdk_" \
			"$V" img info x.vmdk
	else
		skip bad-libvmdk-img-info "no C compiler to make a library without libvmdk's functions"
	fi
fi
if [ -e "$guest" ]; then
	expect bad-libvncserver-run-vnc 1 "--vnc unix:$TMP/w.sock: VNC needs libvncserver.so.1 (Debian's libvncserver1): $TMP/bad/libvncserver.so.1: file too short" \
		"$V" run --kernel "$guest" --memory 64M --serial none --vnc "unix:$TMP/w.sock"
fi
exit $((_fails > 0))
