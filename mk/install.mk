# `make install`: the binaries, the systemd unit, the system user and the data directory, the
# way a Debian host runs a service. PREFIX (default /usr/local) and DESTDIR (staging) as
# usual; with DESTDIR empty and systemd present, the system user and /var/lib/vsrv are
# created at once (systemd-sysusers, systemd-tmpfiles) and systemd reloads its units.
# Then: systemctl enable --now vsrv. `make uninstall` removes what install put there.
#
# The man pages (build/man/*.1) and the bash completion (build/completion/vsrv) that
# mk/cli.mk makes are installed too.

PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL     ?= install

.PHONY: install uninstall
install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	  $(DESTDIR)$(TMPFILESDIR)
	$(INSTALL) -m 0755 $(VSRV) $(SERVER_BIN) $(DESTDIR)$(BINDIR)/
	sed 's|@BINDIR@|$(BINDIR)|g' dist/systemd/vsrv.service.in >$(DESTDIR)$(UNITDIR)/vsrv.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/vsrv.service.tmp
	mv -f $(DESTDIR)$(UNITDIR)/vsrv.service.tmp $(DESTDIR)$(UNITDIR)/vsrv.service
	$(INSTALL) -m 0644 dist/systemd/vsrv.sysusers $(DESTDIR)$(SYSUSERSDIR)/vsrv.conf
	$(INSTALL) -m 0644 dist/systemd/vsrv.tmpfiles $(DESTDIR)$(TMPFILESDIR)/vsrv.conf
	@set -e; for m in $(wildcard $(BUILD)/man/*.[1-8]); do \
	  s=$${m##*.}; $(INSTALL) -d $(DESTDIR)$(MANDIR)/man$$s; \
	  echo "$(INSTALL) -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/"; \
	  $(INSTALL) -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	$(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 0644 $(CLI_COMPLETION) $(DESTDIR)$(BASHCOMPDIR)/vsrv
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null; then \
	  echo "systemd-sysusers $(SYSUSERSDIR)/vsrv.conf"; systemd-sysusers $(SYSUSERSDIR)/vsrv.conf; \
	  echo "systemd-tmpfiles --create $(TMPFILESDIR)/vsrv.conf"; \
	  systemd-tmpfiles --create $(TMPFILESDIR)/vsrv.conf; \
	  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	  echo "== installed; start the service with: systemctl enable --now vsrv"; \
	elif [ -z "$(DESTDIR)" ]; then \
	  echo "== installed; as root: systemd-sysusers, systemd-tmpfiles --create, then systemctl enable --now vsrv"; \
	fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vsrv $(DESTDIR)$(BINDIR)/vsrv-server \
	  $(DESTDIR)$(UNITDIR)/vsrv.service $(DESTDIR)$(SYSUSERSDIR)/vsrv.conf \
	  $(DESTDIR)$(TMPFILESDIR)/vsrv.conf $(DESTDIR)$(BASHCOMPDIR)/vsrv
	@set -e; for m in $(notdir $(wildcard $(BUILD)/man/*.[1-8])); do \
	  rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m; done
	@echo "== the data in /var/lib/vsrv and the user vsrv are kept"
