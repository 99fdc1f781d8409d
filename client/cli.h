/* The scep subcommands: each has its own file, option table and help; main() dispatches. */
#ifndef SCEP_CLIENT_CLI_H
#define SCEP_CLIENT_CLI_H

#include <getopt.h>

#include "session.h"

typedef struct command {
    const char *name;
    const char *summary;
    const char *usage;
    int (*run)(int argc, char **argv);
} command;

extern const command cmd_getcaps, cmd_getca, cmd_enroll, cmd_renew, cmd_getcert, cmd_getcrl,
    cmd_getnextca, cmd_watch;

/* Options every subcommand takes. */
typedef struct common_opts {
    const char *url;
    const char *ca_dir;
    int legacy;
    int verbose;
    int der;
    transport_options net;
} common_opts;

#define COMMON_USAGE                                                                               \
    "  -u, --url URL        the SCEP server (for example http://ca.example/scep)\n"                \
    "      --legacy         allow single DES and MD5 (old servers; never chosen otherwise)\n"      \
    "      --cafile FILE    HTTPS: trust these CA certificates\n"                                  \
    "      --proxy URL      HTTP proxy (default: http_proxy and friends)\n"                        \
    "      --timeout SEC    per HTTP exchange (default 60)\n"                                      \
    "  -v, --verbose        show the negotiation and each message on stderr\n"

/* getopt_long entries for the common options; their vals are >= 1000. */
#define COMMON_LONGOPTS                                                                            \
    {"url", required_argument, NULL, 'u'}, {"legacy", no_argument, NULL, 1000},                    \
        {"cafile", required_argument, NULL, 1001}, {"proxy", required_argument, NULL, 1002},       \
        {"timeout", required_argument, NULL, 1003}, {"verbose", no_argument, NULL, 'v'},           \
        {"ca", required_argument, NULL, 1004},                                                     \
    {                                                                                              \
        "der", no_argument, NULL, 1005                                                             \
    }

/* Handles a common option; returns 1 when c was one, 0 when it is the command's own, -1 on a
 * bad value. */
int cli_common(common_opts *o, int c, const char *arg);

/* A non-negative whole number of seconds, or -1. */
int cli_seconds(const char *text);

/* Prints "scep CMD: message" on stderr and returns code. */
int cli_fail(const char *cmd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cli_usage(const command *cmd);

/* Opens a session for o (URL required), reads caps, and loads the CA from o->ca_dir when set. */
int cli_session(const char *cmd, common_opts *o, session *s, int need_ca);

#endif
