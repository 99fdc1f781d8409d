/* scep: the SCEP client. main() only dispatches. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "scep/scep.h"

#include "cli.h"

static const command *const commands[] = {&cmd_getcaps, &cmd_getca,  &cmd_enroll,    &cmd_renew,
                                          &cmd_getcert, &cmd_getcrl, &cmd_getnextca, &cmd_watch};

static int usage(FILE *out)
{
    fprintf(out, "usage: scep COMMAND [options]\n\nA SCEP client (RFC 8894).\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out,
            "\n`scep COMMAND --help` explains each command; `scep --version`. Exit codes:\n"
            "0 success, 1 local error, 2 bad usage, 3 transport or HTTP error, 4 FAILURE from\n"
            "the server, 5 still PENDING, 6 a reply that does not verify, 7 CA fingerprint\n"
            "mismatch.\n");
    return out == stdout ? 0 : EXIT_USAGE;
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    umask(077); /* keys and the client's state are for the owner alone */
    if (argc < 2)
        return usage(stderr);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
        return usage(stdout);
    if (!strcmp(argv[1], "--version")) {
        printf("scep %s (libscep %s, OpenSSL %s)\n", SCEP_PROGRAM_VERSION, SCEP_VERSION_STRING,
               OpenSSL_version(OPENSSL_VERSION_STRING));
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i]->name) != 0)
            continue;
        if (wants_help(argc - 1, argv + 1)) {
            fputs(commands[i]->usage, stdout);
            return 0;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int rc = commands[i]->run(argc - 1, argv + 1);
        curl_global_cleanup();
        return rc;
    }
    fprintf(stderr, "scep: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
