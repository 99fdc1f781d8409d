#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_common(common_opts *o, int c, const char *arg)
{
    char *end = NULL;
    switch (c) {
    case 'u':
        o->url = arg;
        return 1;
    case 'v':
        o->verbose = o->net.verbose = 1;
        return 1;
    case 1000:
        o->legacy = 1;
        return 1;
    case 1001:
        o->net.ca_bundle = arg;
        return 1;
    case 1002:
        o->net.proxy = arg;
        return 1;
    case 1003:
        o->net.timeout = strtol(arg, &end, 10);
        return (end != arg && *end == '\0' && o->net.timeout > 0) ? 1 : -1;
    case 1004:
        o->ca_dir = arg;
        return 1;
    case 1005:
        o->der = 1;
        return 1;
    default:
        return 0;
    }
}

int cli_fail(const char *cmd, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "scep %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int cli_usage(const command *cmd)
{
    fputs(cmd->usage, stderr);
    return EXIT_USAGE;
}

int cli_session(const char *cmd, common_opts *o, session *s, int need_ca)
{
    memset(s, 0, sizeof(*s)); /* every caller closes it, also after a refusal here */
    if (o->url == NULL)
        return cli_fail(cmd, EXIT_USAGE, "--url is required");
    if (need_ca && o->ca_dir == NULL)
        return cli_fail(cmd, EXIT_USAGE, "--ca DIR is required (see `scep getca`)");
    int rc = session_open(s, o->url, o->legacy, &o->net);
    if (rc == EXIT_OK)
        rc = session_caps(s);
    if (rc == EXIT_OK && need_ca)
        rc = session_load_ca(s, o->ca_dir);
    if (rc != EXIT_OK)
        cli_fail(cmd, rc, "%s", s->err);
    return rc;
}

int cli_seconds(const char *text)
{
    char *end = NULL;
    long n = strtol(text, &end, 10);
    return (end != text && *end == '\0' && n >= 0 && n <= 10L * 365 * 86400) ? (int)n : -1;
}
