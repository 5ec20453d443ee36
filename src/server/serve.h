/* Entry points of the server binary (build/vsrv-server). */
#ifndef VSRV_SERVER_SERVE_H
#define VSRV_SERVER_SERVE_H

int cmd_serve(int argc, char **argv);   /* vsrv serve: the daemon */

#endif
