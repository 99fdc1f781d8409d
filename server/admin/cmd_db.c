/* scepd db migrate: brings the store's schema to this scepd's version, on purpose and with
 * the versions said, before the servers of an upgrade start (each open migrates on its own). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "admin/cli.h"

static const char usage_text[] =
    "usage: scepd db migrate --dir DIR\n"
    "       scepd db migrate --store URI\n\n"
    "Brings the store's schema to the version this scepd uses, by the same versioned steps on\n"
    "SQLite and PostgreSQL, in one transaction, and says from which version to which. A schema\n"
    "newer than this scepd's is refused (use a newer scepd). `scepd serve` and every other\n"
    "command migrate an older schema when they open the store; run this first to upgrade on\n"
    "purpose, for instance before the nodes on one PostgreSQL database get the new scepd.\n\n"
    "  --dir DIR      the CA directory (its scepd.conf names the store)\n"
    "  --store URI    the store itself (sqlite:PATH, postgresql://...), without DIR\n";

static int migrate(const char *uri)
{
    char err[1024] = "";
    int64_t from = 0, to = 0;
    if (store_migrate(uri, &from, &to, err, sizeof(err)) != 0)
        return cli_fail("db migrate", "%s", err);
    if (from == to)
        printf("db migrate: schema version %" PRId64 ", already current\n", to);
    else
        printf("db migrate: schema version %" PRId64 " -> %" PRId64 "\n", from, to);
    return 0;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    int flag;
    optind = 1;
    while ((flag = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (flag == 'd')
            dir = optarg;
        else
            return cli_usage(&cmd_db);
    if (optind >= argc)
        return cli_misuse("db", "a subcommand is required: migrate");
    if (strcmp(argv[optind], "migrate") != 0)
        return cli_misuse("db", "unknown subcommand '%s' (expected migrate)", argv[optind]);
    if (optind + 1 != argc)
        return cli_misuse("db", "unexpected argument '%s'", argv[optind + 1]);
    if (dir == NULL)
        return migrate(cli_store_flag());
    config c;
    if (cli_load_config("db migrate", dir, &c) != 0)
        return EXIT_FAIL;
    char uri[CONFIG_PATH * 2];
    config_store_uri(&c, uri, sizeof(uri));
    return migrate(uri);
}

const command cmd_db = {"db", "migrate the store's schema to this version", usage_text, run};
