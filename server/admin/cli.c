#include "admin/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

int cli_misuse(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "scepd %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see `scepd %s --help`)\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_bad_value(const char *cmd, const char *option, const char *value, const char *expected)
{
    return cli_misuse(cmd, "bad %s '%s': %s", option, value, expected);
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}

static const char *store_flag; /* --store URI, taken off the command line by main() */

int cli_take_store_flag(int *argc, char **argv)
{
    int out = 1, i = 1;
    for (; i < *argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--store") == 0 && i + 1 < *argc)
            store_flag = argv[++i];
        else if (strncmp(argv[i], "--store=", 8) == 0)
            store_flag = argv[i] + 8;
        else
            argv[out++] = argv[i];
    }
    for (; i < *argc; i++)
        argv[out++] = argv[i];
    *argc = out;
    argv[out] = NULL;
    return store_flag != NULL && store_flag[0] == '\0' ? -1 : 0;
}

const char *cli_store_flag(void)
{
    return store_flag;
}

int cli_apply_store_flag(config *c, char *err, size_t errlen)
{
    return store_flag != NULL ? config_set_arg(c, "store", store_flag, err, errlen) : 0;
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
    if (config_load(c, path, err, sizeof(err)) != 0 ||
        cli_apply_store_flag(c, err, sizeof(err)) != 0) {
        cli_fail(cmd, "%s", err);
        return -1;
    }
    return 0;
}

void cli_time_text(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static store *open_store(const char *cmd, const config *c, int create)
{
    char uri[CONFIG_PATH * 2], err[512];
    config_store_uri(c, uri, sizeof(uri));
    store *st = create ? store_create(uri, err, sizeof(err)) : store_open(uri, err, sizeof(err));
    if (st == NULL)
        cli_fail(cmd, "%s", err);
    return st;
}

store *cli_open_store(const char *cmd, const config *c)
{
    return open_store(cmd, c, 0);
}

store *cli_create_store(const char *cmd, const config *c)
{
    return open_store(cmd, c, 1);
}
