/* scepd: the SCEP server and its admin subcommands. main() only dispatches. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "admin/cli.h"
#include "scep/scep.h"

static const command *const commands[] = {
    &cmd_init,      &cmd_serve,    &cmd_pending,  &cmd_show_request, &cmd_approve,
    &cmd_reject,    &cmd_certs,    &cmd_show,     &cmd_revoke,       &cmd_crl,
    &cmd_challenge, &cmd_rollover, &cmd_ra_renew, &cmd_lockouts,     &cmd_backup,
    &cmd_restore,   &cmd_db,       &cmd_token,    &cmd_profiles};

static int usage(FILE *out)
{
    fprintf(out, "usage: scepd COMMAND [options]\n\n"
                 "A SCEP server (RFC 8894): a CA or RA on an embedded store.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\n`scepd COMMAND --help` explains each command's options; `scepd --version`.\n"
                 "Exit codes: 0 success, 1 failure (configuration, files, keys, store, a refused\n"
                 "operation), 2 bad command line (an unknown option, a missing or bad value).\n"
                 "Every command takes --store URI (sqlite:PATH, postgresql://...) over the\n"
                 "store setting of DIR/scepd.conf; `scepd init --store URI` writes it there.\n");
    return out == stdout ? 0 : EXIT_USAGE;
}

/* Every command works on a CA directory: without --dir it is a usage error (exit 2). */
static int has_dir(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if ((strcmp(argv[i], "--dir") == 0 && i + 1 < argc) || strncmp(argv[i], "--dir=", 6) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    umask(077); /* keys, the store and its logs are for the owner alone */
    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0)
        return usage(stdout);
    if (strcmp(argv[1], "--version") == 0) {
        printf("scepd %s (libscep %s, OpenSSL %s)\n", SCEP_PROGRAM_VERSION, SCEP_VERSION_STRING,
               OpenSSL_version(OPENSSL_VERSION_STRING));
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i]->name) != 0)
            continue;
        if (cli_wants_help(argc - 1, argv + 1)) {
            fputs(commands[i]->usage, stdout);
            return 0;
        }
        int sub_argc = argc - 1;
        if (cli_take_store_flag(&sub_argc, argv + 1) != 0)
            return cli_misuse(commands[i]->name, "--store needs a URI");
        /* db works on a store alone: --store URI stands for DIR there. */
        if (!has_dir(sub_argc, argv + 1) && !(commands[i] == &cmd_db && cli_store_flag()))
            return cli_misuse(commands[i]->name, "--dir DIR is required");
        return commands[i]->run(sub_argc, argv + 1);
    }
    fprintf(stderr, "scepd: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
