/* Key codes for the VNC server: RFB keysyms (X11, a US layout) and the XT scancodes of the
 * QEMU extended key event, both to Linux KEY_* codes (vnc.h). */
#include "vmm/vnc.h"

#include <linux/input-event-codes.h>
#include <rfb/keysym.h>
#include <stddef.h>

/* Printable ASCII 0x20..0x7e: the key that types it on a US keyboard (the client sends Shift
 * itself when it is needed). */
static const uint8_t ascii_keys[0x7f - 0x20] = {
	[' ' - 0x20] = KEY_SPACE, ['!' - 0x20] = KEY_1, ['"' - 0x20] = KEY_APOSTROPHE,
	['#' - 0x20] = KEY_3, ['$' - 0x20] = KEY_4, ['%' - 0x20] = KEY_5, ['&' - 0x20] = KEY_7,
	['\'' - 0x20] = KEY_APOSTROPHE, ['(' - 0x20] = KEY_9, [')' - 0x20] = KEY_0,
	['*' - 0x20] = KEY_8, ['+' - 0x20] = KEY_EQUAL, [',' - 0x20] = KEY_COMMA,
	['-' - 0x20] = KEY_MINUS, ['.' - 0x20] = KEY_DOT, ['/' - 0x20] = KEY_SLASH,
	['0' - 0x20] = KEY_0, ['1' - 0x20] = KEY_1, ['2' - 0x20] = KEY_2, ['3' - 0x20] = KEY_3,
	['4' - 0x20] = KEY_4, ['5' - 0x20] = KEY_5, ['6' - 0x20] = KEY_6, ['7' - 0x20] = KEY_7,
	['8' - 0x20] = KEY_8, ['9' - 0x20] = KEY_9, [':' - 0x20] = KEY_SEMICOLON,
	[';' - 0x20] = KEY_SEMICOLON, ['<' - 0x20] = KEY_COMMA, ['=' - 0x20] = KEY_EQUAL,
	['>' - 0x20] = KEY_DOT, ['?' - 0x20] = KEY_SLASH, ['@' - 0x20] = KEY_2,
	['A' - 0x20] = KEY_A, ['B' - 0x20] = KEY_B, ['C' - 0x20] = KEY_C, ['D' - 0x20] = KEY_D,
	['E' - 0x20] = KEY_E, ['F' - 0x20] = KEY_F, ['G' - 0x20] = KEY_G, ['H' - 0x20] = KEY_H,
	['I' - 0x20] = KEY_I, ['J' - 0x20] = KEY_J, ['K' - 0x20] = KEY_K, ['L' - 0x20] = KEY_L,
	['M' - 0x20] = KEY_M, ['N' - 0x20] = KEY_N, ['O' - 0x20] = KEY_O, ['P' - 0x20] = KEY_P,
	['Q' - 0x20] = KEY_Q, ['R' - 0x20] = KEY_R, ['S' - 0x20] = KEY_S, ['T' - 0x20] = KEY_T,
	['U' - 0x20] = KEY_U, ['V' - 0x20] = KEY_V, ['W' - 0x20] = KEY_W, ['X' - 0x20] = KEY_X,
	['Y' - 0x20] = KEY_Y, ['Z' - 0x20] = KEY_Z, ['[' - 0x20] = KEY_LEFTBRACE,
	['\\' - 0x20] = KEY_BACKSLASH, [']' - 0x20] = KEY_RIGHTBRACE, ['^' - 0x20] = KEY_6,
	['_' - 0x20] = KEY_MINUS, ['`' - 0x20] = KEY_GRAVE, ['a' - 0x20] = KEY_A,
	['b' - 0x20] = KEY_B, ['c' - 0x20] = KEY_C, ['d' - 0x20] = KEY_D, ['e' - 0x20] = KEY_E,
	['f' - 0x20] = KEY_F, ['g' - 0x20] = KEY_G, ['h' - 0x20] = KEY_H, ['i' - 0x20] = KEY_I,
	['j' - 0x20] = KEY_J, ['k' - 0x20] = KEY_K, ['l' - 0x20] = KEY_L, ['m' - 0x20] = KEY_M,
	['n' - 0x20] = KEY_N, ['o' - 0x20] = KEY_O, ['p' - 0x20] = KEY_P, ['q' - 0x20] = KEY_Q,
	['r' - 0x20] = KEY_R, ['s' - 0x20] = KEY_S, ['t' - 0x20] = KEY_T, ['u' - 0x20] = KEY_U,
	['v' - 0x20] = KEY_V, ['w' - 0x20] = KEY_W, ['x' - 0x20] = KEY_X, ['y' - 0x20] = KEY_Y,
	['z' - 0x20] = KEY_Z, ['{' - 0x20] = KEY_LEFTBRACE, ['|' - 0x20] = KEY_BACKSLASH,
	['}' - 0x20] = KEY_RIGHTBRACE, ['~' - 0x20] = KEY_GRAVE,
};

/* Function, editing, modifier and keypad keysyms (0xfeXX, 0xffXX). */
static const struct { uint16_t sym; uint16_t key; } special_keys[] = {
	{ XK_BackSpace, KEY_BACKSPACE }, { XK_Tab, KEY_TAB }, { XK_ISO_Left_Tab, KEY_TAB },
	{ XK_Return, KEY_ENTER }, { XK_Pause, KEY_PAUSE }, { XK_Scroll_Lock, KEY_SCROLLLOCK },
	{ XK_Sys_Req, KEY_SYSRQ }, { XK_Escape, KEY_ESC }, { XK_Delete, KEY_DELETE },
	{ XK_Home, KEY_HOME }, { XK_Left, KEY_LEFT }, { XK_Up, KEY_UP }, { XK_Right, KEY_RIGHT },
	{ XK_Down, KEY_DOWN }, { XK_Page_Up, KEY_PAGEUP }, { XK_Page_Down, KEY_PAGEDOWN },
	{ XK_End, KEY_END }, { XK_Print, KEY_SYSRQ }, { XK_Insert, KEY_INSERT },
	{ XK_Menu, KEY_COMPOSE }, { XK_Break, KEY_PAUSE }, { XK_Num_Lock, KEY_NUMLOCK },
	{ XK_KP_Enter, KEY_KPENTER }, { XK_KP_Home, KEY_KP7 }, { XK_KP_Left, KEY_KP4 },
	{ XK_KP_Up, KEY_KP8 }, { XK_KP_Right, KEY_KP6 }, { XK_KP_Down, KEY_KP2 },
	{ XK_KP_Page_Up, KEY_KP9 }, { XK_KP_Page_Down, KEY_KP3 }, { XK_KP_End, KEY_KP1 },
	{ XK_KP_Begin, KEY_KP5 }, { XK_KP_Insert, KEY_KP0 }, { XK_KP_Delete, KEY_KPDOT },
	{ XK_KP_Equal, KEY_KPEQUAL }, { XK_KP_Multiply, KEY_KPASTERISK },
	{ XK_KP_Add, KEY_KPPLUS }, { XK_KP_Separator, KEY_KPCOMMA },
	{ XK_KP_Subtract, KEY_KPMINUS }, { XK_KP_Decimal, KEY_KPDOT },
	{ XK_KP_Divide, KEY_KPSLASH }, { XK_KP_0, KEY_KP0 }, { XK_KP_1, KEY_KP1 },
	{ XK_KP_2, KEY_KP2 }, { XK_KP_3, KEY_KP3 }, { XK_KP_4, KEY_KP4 }, { XK_KP_5, KEY_KP5 },
	{ XK_KP_6, KEY_KP6 }, { XK_KP_7, KEY_KP7 }, { XK_KP_8, KEY_KP8 }, { XK_KP_9, KEY_KP9 },
	{ XK_F1, KEY_F1 }, { XK_F2, KEY_F2 }, { XK_F3, KEY_F3 }, { XK_F4, KEY_F4 },
	{ XK_F5, KEY_F5 }, { XK_F6, KEY_F6 }, { XK_F7, KEY_F7 }, { XK_F8, KEY_F8 },
	{ XK_F9, KEY_F9 }, { XK_F10, KEY_F10 }, { XK_F11, KEY_F11 }, { XK_F12, KEY_F12 },
	{ XK_Shift_L, KEY_LEFTSHIFT }, { XK_Shift_R, KEY_RIGHTSHIFT },
	{ XK_Control_L, KEY_LEFTCTRL }, { XK_Control_R, KEY_RIGHTCTRL },
	{ XK_Caps_Lock, KEY_CAPSLOCK }, { XK_Meta_L, KEY_LEFTMETA }, { XK_Meta_R, KEY_RIGHTMETA },
	{ XK_Alt_L, KEY_LEFTALT }, { XK_Alt_R, KEY_RIGHTALT }, { XK_Super_L, KEY_LEFTMETA },
	{ XK_Super_R, KEY_RIGHTMETA }, { XK_ISO_Level3_Shift, KEY_RIGHTALT },
	{ XK_Mode_switch, KEY_RIGHTALT },
};

uint16_t vnc_keysym_to_key(uint32_t keysym)
{
	if (keysym >= 0x20 && keysym < 0x7f)
		return ascii_keys[keysym - 0x20];
	for (size_t i = 0; i < sizeof(special_keys) / sizeof(special_keys[0]); i++)
		if (special_keys[i].sym == keysym)
			return special_keys[i].key;
	return 0;
}

/* XT scancodes with the 0xE0 prefix (RFB: the low 7 bits with bit 7 set, 0x80..0xff). */
static const uint16_t xt_e0_keys[0x80] = {
	[0x10] = KEY_PREVIOUSSONG, [0x19] = KEY_NEXTSONG, [0x1c] = KEY_KPENTER,
	[0x1d] = KEY_RIGHTCTRL, [0x20] = KEY_MUTE, [0x21] = KEY_CALC, [0x22] = KEY_PLAYPAUSE,
	[0x24] = KEY_STOPCD, [0x2e] = KEY_VOLUMEDOWN, [0x30] = KEY_VOLUMEUP,
	[0x32] = KEY_HOMEPAGE, [0x35] = KEY_KPSLASH, [0x37] = KEY_SYSRQ, [0x38] = KEY_RIGHTALT,
	[0x46] = KEY_PAUSE, [0x47] = KEY_HOME, [0x48] = KEY_UP, [0x49] = KEY_PAGEUP,
	[0x4b] = KEY_LEFT, [0x4d] = KEY_RIGHT, [0x4f] = KEY_END, [0x50] = KEY_DOWN,
	[0x51] = KEY_PAGEDOWN, [0x52] = KEY_INSERT, [0x53] = KEY_DELETE, [0x5b] = KEY_LEFTMETA,
	[0x5c] = KEY_RIGHTMETA, [0x5d] = KEY_COMPOSE, [0x5e] = KEY_POWER, [0x5f] = KEY_SLEEP,
	[0x63] = KEY_WAKEUP,
};

uint16_t vnc_xt_to_key(uint32_t xt)
{
	if (xt >= 0x100)
		return 0;
	if (xt & 0x80)
		return xt_e0_keys[xt & 0x7f];
	/* Set 1 scancodes 0x01..0x58 are the KEY_ codes themselves (but 0x54, SysRq) */
	if (xt >= 0x01 && xt <= 0x58 && xt != 0x54 && xt != 0x55)
		return (uint16_t)xt;
	switch (xt) {
	case 0x54: return KEY_SYSRQ;
	case 0x59: return KEY_KPEQUAL;
	case 0x70: return KEY_KATAKANAHIRAGANA;
	case 0x73: return KEY_RO;
	case 0x79: return KEY_HENKAN;
	case 0x7b: return KEY_MUHENKAN;
	case 0x7d: return KEY_YEN;
	case 0x7e: return KEY_KPCOMMA;
	}
	return 0;
}
