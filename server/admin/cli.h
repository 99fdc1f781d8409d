/* What the scepd subcommands share: each registers a name, a one-line summary, its own help
 * text and a run function; main() only dispatches. */
#ifndef SCEPD_CLI_H
#define SCEPD_CLI_H

#include <getopt.h>

#include "config/config.h"
#include "store/store.h"

typedef struct command {
    const char *name;
    const char *summary;
    const char *usage; /* full help text */
    int (*run)(int argc, char **argv);
} command;

extern const command cmd_init, cmd_serve, cmd_pending, cmd_approve, cmd_reject, cmd_certs, cmd_show,
    cmd_revoke, cmd_crl, cmd_challenge, cmd_rollover, cmd_ra_renew;
extern const command cmd_show_request;
extern const command cmd_lockouts;
extern const command cmd_backup, cmd_restore;
extern const command cmd_db;
extern const command cmd_token;
extern const command cmd_profiles;

/* Exit codes. */
#define EXIT_USAGE 2
#define EXIT_FAIL 1

/* Prints "scepd CMD: message" to stderr and returns EXIT_FAIL. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the usage of cmd to stderr and returns EXIT_USAGE. */
int cli_usage(const command *cmd);
/* Prints "scepd CMD: message (see `scepd CMD --help`)" to stderr and returns EXIT_USAGE. */
int cli_misuse(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "scepd CMD: bad OPTION 'VALUE': EXPECTED" to stderr and returns EXIT_USAGE. */
int cli_bad_value(const char *cmd, const char *option, const char *value, const char *expected);
/* Whether argv asks for help (-h or --help anywhere). */
int cli_wants_help(int argc, char **argv);

/* Takes `--store URI` (or --store=URI, before a "--") off the command line of any command,
 * for cli_apply_store_flag(). -1 when the URI is empty. */
int cli_take_store_flag(int *argc, char **argv);
/* The --store URI over c's store setting (0 without one); -1 with why in err. */
int cli_apply_store_flag(config *c, char *err, size_t errlen);
/* The --store URI taken off the command line, or NULL. */
const char *cli_store_flag(void);
/* Loads DIR/scepd.conf over the defaults, then --store. Returns 0, or -1 after printing why. */
int cli_load_config(const char *cmd, const char *dir, config *c);
/* Opens the store the config names; NULL after printing why ("no store at PATH: run scepd
 * init" when there is none). */
store *cli_open_store(const char *cmd, const config *c);
/* The same, creating the store when it does not exist: for `scepd init` only. */
store *cli_create_store(const char *cmd, const config *c);
/* Unix seconds as "2026-11-23T10:00:00Z". */
void cli_time_text(int64_t t, char *buf, size_t len);

#endif
