#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "scepd %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_FAIL;
}

int cli_usage(const command *cmd)
{
    fprintf(stderr, "%s", cmd->usage);
    return EXIT_USAGE;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}

int cli_load_config(const char *cmd, const char *dir, config *c)
{
    if (dir == NULL) {
        cli_fail(cmd, "--dir DIR is required");
        return -1;
    }
    config_defaults(c, dir);
    char path[CONFIG_PATH + 16], err[512];
    snprintf(path, sizeof(path), "%s/scepd.conf", dir);
    if (config_load(c, path, err, sizeof(err)) != 0) {
        cli_fail(cmd, "%s", err);
        return -1;
    }
    return 0;
}

store *cli_open_store(const char *cmd, const config *c)
{
    char uri[CONFIG_PATH * 2], err[512];
    config_store_uri(c, uri, sizeof(uri));
    store *st = store_open(uri, err, sizeof(err));
    if (st == NULL)
        cli_fail(cmd, "%s", err);
    return st;
}
