# The VMM's sandbox (src/vmm/sandbox.c): a seccomp allow-list built with libseccomp
# (Debian libseccomp-dev, in mk/deps.sh's build group). Only build/vsrv (and the unit
# tests linked with its objects) need it; the server binary does not.
LDLIBS += -lseccomp
