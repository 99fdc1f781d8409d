/* scepd: the SCEP server and its admin subcommands. main() only dispatches. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "scep/scep.h"

static const command *const commands[] = {&cmd_init,   &cmd_serve,     &cmd_pending, &cmd_approve,
                                          &cmd_reject, &cmd_certs,     &cmd_show,    &cmd_revoke,
                                          &cmd_crl,    &cmd_challenge, &cmd_rollover};

static int usage(FILE *out)
{
    fprintf(out, "usage: scepd COMMAND [options]\n\n"
                 "A SCEP server (RFC 8894): a CA or RA on an embedded store.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\n`scepd COMMAND --help` explains each command's options.\n");
    return out == stdout ? 0 : EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0)
        return usage(stdout);
    if (strcmp(argv[1], "--version") == 0) {
        printf("scepd %s\n", SCEP_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i]->name) != 0)
            continue;
        if (cli_wants_help(argc - 1, argv + 1)) {
            fputs(commands[i]->usage, stdout);
            return 0;
        }
        return commands[i]->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "scepd: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
