/* docs/api.yaml, built into the server binary (served at /api/v1/openapi.yaml). */
__asm__(".section .rodata\n"
	".global vsrv_openapi\n"
	"vsrv_openapi:\n"
	".incbin \"docs/api.yaml\"\n"
	".global vsrv_openapi_end\n"
	"vsrv_openapi_end:\n"
	".byte 0\n"
	".previous\n");
