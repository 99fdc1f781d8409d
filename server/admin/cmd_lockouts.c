/* scepd lockouts: the sources of failed attempts the servers count, and forgetting them. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin/cli.h"
#include "policy/lockout.h"

static const char usage_text[] =
    "usage: scepd lockouts --dir DIR [--clear KEY | --clear-all]\n\n"
    "Lists what the servers sharing the store count against brute force: wrong challenges per\n"
    "client address and per subject, bad admin tokens per address. One line each: scope,\n"
    "failures in the current window, failures in all, lockouts so far, until when it is\n"
    "locked out ('-': it is not), the last failure, and the key (an address, an IPv6 /64, or a\n"
    "subject's most specific RDN in lower case).\n\n"
    "  --clear KEY   forget KEY in every scope: its lockout ends on every server at once (an\n"
    "                address, or a subject such as CN=dev-1,O=Example, is taken as counted)\n"
    "  --clear-all   forget every record\n";

static int print_line(void *arg, const store_failure *f)
{
    char line[LOCKOUT_KEY + 128];
    lockout_format(f, *(const int64_t *)arg, line, sizeof(line));
    printf("%s\n", line);
    return 0;
}

static int list(store *st)
{
    int64_t now = (int64_t)time(NULL);
    printf("%s\n", LOCKOUT_HEADER);
    if (st->ops->failure_list(st, now, print_line, &now) != STORE_OK)
        return cli_fail("lockouts", "%s", st->ops->last_error(st));
    return 0;
}

/* KEY as the servers count it: an address as its key (an IPv6 address: its /64), a subject
 * ("CN=Dev-1,O=Example") as its most specific RDN in lower case, anything else as it is. */
static void normalize(const char *given, char *key, size_t len)
{
    lockout_address_key(given, key, len);
    if (key[0] == '\0' && strchr(given, '=') != NULL)
        lockout_subject_key(given, key, len);
    if (key[0] == '\0')
        snprintf(key, len, "%s", given);
}

static int clear(store *st, const char *given)
{
    char buf[LOCKOUT_KEY];
    const char *key = NULL;
    if (given != NULL) {
        normalize(given, buf, sizeof(buf));
        key = buf;
    }
    int n = 0;
    if (st->ops->failure_clear(st, key, &n) != STORE_OK)
        return cli_fail("lockouts", "%s", st->ops->last_error(st));
    if (key != NULL && n == 0)
        return cli_fail("lockouts", "no record for '%s' (see scepd lockouts)", key);
    printf("cleared %d record%s\n", n, n == 1 ? "" : "s");
    st->ops->event_add(st, "lockout-clear", key ? key : "*", "");
    return 0;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"clear", required_argument, NULL, 'c'},
                                             {"clear-all", no_argument, NULL, 'a'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL, *key = NULL;
    int all = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 'c' && optarg[0] != '\0')
            key = optarg;
        else if (c == 'a')
            all = 1;
        else
            return cli_usage(&cmd_lockouts);
    }
    if (optind != argc || (key != NULL && all))
        return cli_usage(&cmd_lockouts);
    config cfg;
    if (cli_load_config("lockouts", dir, &cfg) != 0)
        return EXIT_FAIL;
    store *st = cli_open_store("lockouts", &cfg);
    if (st == NULL)
        return EXIT_FAIL;
    int rc = key != NULL || all ? clear(st, key) : list(st);
    store_close(st);
    return rc;
}

const command cmd_lockouts = {"lockouts", "list or clear brute-force lockouts", usage_text, run};
