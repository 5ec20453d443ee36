/* The EDID 1.4 block of the bochs-display (bochs_display.h), as VESA E-EDID 1.4 lays it
 * out: a digital 8-bit RGB display "VSRV display", 40 x 25 cm, preferring 1280x800 at 60 Hz
 * (CVT reduced blanking), with the modes firmware and Linux pick from (established 640x480,
 * 800x600, 1024x768; standard 1280x720 up to 1920x1080) and its range limits. */
#include "devices/bochs_display.h"

#include <string.h>

/* Two bytes of a standard timing: width / 8 - 31; aspect (0 16:10, 1 4:3, 2 5:4, 3 16:9)
 * and refresh - 60. */
#define STD(w, aspect) (uint8_t)((w) / 8 - 31), (uint8_t)((aspect) << 6)

void bochs_display_edid(uint8_t e[128])
{
	static const uint8_t head[] = {
		0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
		0x5a, 0x72,             /* manufacturer "VSR" (5-bit letters, big-endian) */
		0x11, 0x11,             /* product 0x1111 */
		0, 0, 0, 0,             /* serial number */
		1, 2026 - 1990,         /* week, year of manufacture */
		1, 4,                   /* EDID 1.4 */
		0xa0,                   /* digital input, 8 bits per primary */
		40, 25,                 /* 40 x 25 cm */
		120,                    /* gamma 2.2 */
		0x06,                   /* sRGB, preferred timing is native, RGB 4:4:4 */
		/* chromaticity: sRGB primaries and D65 white */
		0xee, 0x91, 0xa3, 0x54, 0x4c, 0x99, 0x26, 0x0f, 0x50, 0x54,
		0x21, 0x08, 0x00,       /* established: 640x480, 800x600, 1024x768 at 60 Hz */
		STD(1280, 3), STD(1280, 2), STD(1280, 1), STD(1440, 0),
		STD(1600, 1), STD(1680, 0), STD(1920, 3), 0x01, 0x01,
	};
	/* 1280x800 at 60 Hz, CVT-RB: 71 MHz; h 1280 + 160 blank (sync at +48, 32 wide);
	 * v 800 + 23 blank (sync at +3, 6 lines); 400 x 250 mm; digital separate sync,
	 * +hsync -vsync */
	static const uint8_t dtd[18] = {
		0xbc, 0x1b, 0x00, 0xa0, 0x50, 0x20, 0x17, 0x30, 0x30, 0x20, 0x36, 0x00,
		0x90, 0xfa, 0x10, 0x00, 0x00, 0x1a,
	};
	/* range limits: 50-125 Hz vertical, 30-160 kHz horizontal, 300 MHz pixel clock, no
	 * timing formula (EDID 1.4: "range limits only") */
	static const uint8_t range[18] = {
		0, 0, 0, 0xfd, 0, 50, 125, 30, 160, 30, 0x01, 0x0a,
		0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
	};
	static const uint8_t name[18] = {
		0, 0, 0, 0xfc, 0, 'V', 'S', 'R', 'V', ' ', 'd', 'i', 's', 'p', 'l', 'a', 'y', '\n',
	};
	static const uint8_t dummy[18] = { 0, 0, 0, 0x10 };
	uint8_t sum = 0;

	_Static_assert(sizeof(head) == 54, "the header and timings end at byte 54");
	memset(e, 0, 128);
	memcpy(e, head, sizeof(head));
	memcpy(e + 54, dtd, 18);
	memcpy(e + 72, range, 18);
	memcpy(e + 90, name, 18);
	memcpy(e + 108, dummy, 18);
	e[126] = 0; /* no extension blocks */
	for (int i = 0; i < 127; i++)
		sum += e[i];
	e[127] = (uint8_t)(0x100 - sum);
}
