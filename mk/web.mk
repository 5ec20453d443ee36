# The web console (web/): its files are embedded into build/vsrv-server (src/server/web.c
# serves them at /ui/), so the server binary is self-contained. mk/web-embed.sh writes the
# table of files; web.o is rebuilt whenever a file in web/ changes or one is added.

WEB_FILES  := $(sort $(wildcard web/*.html web/*.css web/*.mjs web/*.svg))
WEB_ASSETS := $(BUILD)/gen/web_assets.h

$(WEB_ASSETS): $(WEB_FILES) mk/web-embed.sh web
	@mkdir -p $(@D)
	bash mk/web-embed.sh $@ $(WEB_FILES)

$(BUILD)/src/server/web.o: $(WEB_ASSETS)
$(BUILD)/src/server/web.o: CFLAGS += -I$(BUILD)/gen
