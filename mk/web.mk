# The web console (web/): its files are embedded into build/vsrv-server (src/server/web.c
# serves them at /ui/), so the server binary is self-contained. mk/web-embed.sh writes the
# table of files; web.o is rebuilt whenever a file in web/ changes or one is added.
# The browser libraries it uses (xterm.js, uPlot, noVNC) come from npm at the versions pinned in
# mk/web-npm/package-lock.json: mk/npm.sh --web installs them into $(BUILD)/web-npm and
# copies the files the page loads into $(BUILD)/web-vendor, embedded like web/'s own (noVNC's
# modules as the tree $(BUILD)/web-vendor/novnc, served under /ui/novnc/).

WEB_FILES  := $(sort $(wildcard web/*.html web/*.css web/*.mjs web/*.svg))
WEB_VENDOR_DIR := $(BUILD)/web-vendor
WEB_VENDOR := $(addprefix $(WEB_VENDOR_DIR)/,uplot.css uplot.mjs xterm.css xterm.mjs)
WEB_ASSETS := $(BUILD)/gen/web_assets.h

$(WEB_VENDOR_DIR)/.stamp: mk/web-npm/package.json mk/web-npm/package-lock.json mk/npm.sh
	bash mk/npm.sh --web $(BUILD)/web-npm $(WEB_VENDOR_DIR)
	@touch $@
$(WEB_VENDOR): $(WEB_VENDOR_DIR)/.stamp ;

$(WEB_ASSETS): $(WEB_FILES) $(WEB_VENDOR) mk/web-embed.sh web
	@mkdir -p $(@D)
	bash mk/web-embed.sh $@ $(WEB_FILES) $(WEB_VENDOR) --tree $(WEB_VENDOR_DIR) novnc

$(BUILD)/src/server/web.o: $(WEB_ASSETS)
$(BUILD)/src/server/web.o: CFLAGS += -I$(BUILD)/gen
