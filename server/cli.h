/* What the scepd subcommands share: each registers a name, a one-line summary, its own help
 * text and a run function; main() only dispatches. */
#ifndef SCEPD_CLI_H
#define SCEPD_CLI_H

#include <getopt.h>

#include "config.h"
#include "store.h"

typedef struct command {
    const char *name;
    const char *summary;
    const char *usage; /* full help text */
    int (*run)(int argc, char **argv);
} command;

extern const command cmd_init, cmd_serve, cmd_pending, cmd_approve, cmd_reject, cmd_certs, cmd_show,
    cmd_revoke, cmd_crl, cmd_challenge, cmd_rollover;

/* Exit codes. */
#define EXIT_USAGE 2
#define EXIT_FAIL 1

/* Prints "scepd CMD: message" to stderr and returns EXIT_FAIL. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the usage of cmd to stderr and returns EXIT_USAGE. */
int cli_usage(const command *cmd);
/* Whether argv asks for help (-h or --help anywhere). */
int cli_wants_help(int argc, char **argv);

/* Loads DIR/scepd.conf over the defaults. Returns 0, or -1 after printing why. */
int cli_load_config(const char *cmd, const char *dir, config *c);
/* Opens the store the config names; NULL after printing why. */
store *cli_open_store(const char *cmd, const config *c);

#endif
