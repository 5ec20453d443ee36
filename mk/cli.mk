# The client's man pages and bash completion, made from the option tables of its commands
# (src/client/client_opt.h) by the hidden `vsrv-server __man GROUP` and `__completion TOP`:
# build/man/vsrv.1 and vsrv-GROUP.1 (read with `man -l`) and build/completion/vsrv (source it, or
# install it as /usr/share/bash-completion/completions/vsrv).

CLI_GROUPS     := vm disk net user events login logout image hosts
# run, img, serve and control: pages made from their --help text (vsrv __man CMD, src/cli/help_man.c)
TOP_MAN        := run img serve control
CLI_MAN        := $(BUILD)/man/vsrv.1 $(CLI_GROUPS:%=$(BUILD)/man/vsrv-%.1) \
                  $(TOP_MAN:%=$(BUILD)/man/vsrv-%.1)
CLI_COMPLETION := $(BUILD)/completion/vsrv

all: $(CLI_MAN) $(CLI_COMPLETION)

# vsrv.1: the top-level commands (src/main.c's table)
$(BUILD)/man/vsrv.1: $(BUILD)/vsrv
	@mkdir -p $(@D)
	$(BUILD)/vsrv __man >$@

$(BUILD)/man/vsrv-%.1: $(BUILD)/vsrv-server
	@mkdir -p $(@D)
	$(BUILD)/vsrv-server __man $* >$@

# (serve's help is vsrv-server's: build/vsrv runs it)
$(TOP_MAN:%=$(BUILD)/man/vsrv-%.1): $(BUILD)/man/vsrv-%.1: $(BUILD)/vsrv $(BUILD)/vsrv-server
	@mkdir -p $(@D)
	$(BUILD)/vsrv $* --help >$@.help
	$(BUILD)/vsrv __man $* <$@.help >$@
	@rm -f $@.help

# TOP: the top-level commands of build/vsrv that are not the client's (src/main.c).
$(CLI_COMPLETION): $(BUILD)/vsrv-server
	@mkdir -p $(@D)
	$(BUILD)/vsrv-server __completion "run img serve control" >$@
