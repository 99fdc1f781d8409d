/* scep watch: options and the configuration file; the daemon itself is in watch.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keys.h"
#include "watch.h"

static const char usage_text[] =
    "usage: scep watch --config FILE | -u URL --ca DIR --cert CERT --key KEY [options]\n\n"
    "Keeps CERT renewed, unattended: renews it (as `scep renew` does) once the given share of\n"
    "its lifetime has passed, retrying with backoff (30 s doubling up to 1 h) and logging one\n"
    "line per attempt on stderr. Files are written atomically, keys 0600; CERT and KEY change\n"
    "only when a new certificate signed by the CA was obtained.\n"
    "CA rollover: when the server offers GetNextCACert and CERT ends with the CA, it fetches\n"
    "the next CA into DIR/next, obtains the shadow certificate (CERT.next, KEY.next), and at\n"
    "the switch (the shadow's notBefore) moves them over CERT, KEY and DIR's certificates.\n"
    "SIGTERM or SIGINT stops it between actions (exit 0).\n\n"
    "      --config FILE         `name = value` lines with the long option names below\n"
    "                            (url = ..., new-key = yes, ...); the command line overrides it\n"
    "      --ca DIR              the CA certificates saved by `scep getca`\n"
    "      --cert CERT           the certificate to keep renewed\n"
    "      --key KEY             its private key\n"
    "      --renew-at PERCENT    renew when this share of the lifetime has passed (default 75)\n"
    "      --new-key             a new key at each renewal (KEY.new until it has a certificate)\n"
    "      --key-type SPEC       its type: rsa:2048, rsa:3072, rsa:4096, ec:P-256, ec:P-384\n"
    "                            (default: as the current key)\n"
    "      --exec CMD            run by /bin/sh -c after each renewal and switch, with\n"
    "                            SCEP_WATCH_EVENT (renewed, switched), SCEP_CERT and SCEP_KEY\n"
    "      --check-interval SEC  wake up at least this often (default 60), and at the due time\n"
    "      --once                one check (and renewal or switch when due), then exit\n"
    "      --challenge SECRET    a challenge, if the server wants one for renewals\n"
    "      --challenge-file F    read it from F (first line)\n"
    "      --poll-interval SEC   between polls while PENDING (default 10)\n"
    "      --max-poll-time SEC   PENDING this long counts as a failed attempt (default 300)\n"
    "      --der                 write certificates in DER\n" COMMON_USAGE;

enum { O_CONFIG = 'f', O_CERT = 'c', O_KEY = 'k', O_CHALLENGE = 'C', O_CHALLENGE_FILE = 'F' };
enum { O_RENEW_AT = 2000, O_NEW_KEY, O_KEY_TYPE, O_EXEC, O_CHECK, O_POLL, O_MAX_POLL, O_ONCE };

static const struct option longopts[] = {
    COMMON_LONGOPTS,
    {"config", required_argument, NULL, O_CONFIG},
    {"cert", required_argument, NULL, O_CERT},
    {"key", required_argument, NULL, O_KEY},
    {"challenge", required_argument, NULL, O_CHALLENGE},
    {"challenge-file", required_argument, NULL, O_CHALLENGE_FILE},
    {"renew-at", required_argument, NULL, O_RENEW_AT},
    {"new-key", no_argument, NULL, O_NEW_KEY},
    {"key-type", required_argument, NULL, O_KEY_TYPE},
    {"exec", required_argument, NULL, O_EXEC},
    {"check-interval", required_argument, NULL, O_CHECK},
    {"poll-interval", required_argument, NULL, O_POLL},
    {"max-poll-time", required_argument, NULL, O_MAX_POLL},
    {"once", no_argument, NULL, O_ONCE},
    {NULL, 0, NULL, 0}};

enum { MAX_ARGS = 256, MAX_LINE = 4096 };

/* The arguments: the configuration file's first, then the command line's, which win. */
typedef struct arglist {
    char *v[MAX_ARGS + 1];
    int n;
    int cli_start; /* v[1..cli_start) are the configuration's copies; 0: all after v[0] */
} arglist;

static int push(arglist *a, char *arg)
{
    if (a->n >= MAX_ARGS || arg == NULL)
        return -1;
    a->v[a->n++] = arg;
    return 0;
}

static int push_copy(arglist *a, const char *text)
{
    char *copy = strdup(text);
    if (push(a, copy) == 0)
        return 0;
    free(copy);
    return cli_fail("watch", -1, "too many settings");
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
        s[--n] = '\0';
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

static const struct option *find_option(const char *name)
{
    for (const struct option *o = longopts; o->name != NULL; o++)
        if (strcmp(o->name, name) == 0 && o->val != O_CONFIG)
            return o;
    return NULL;
}

static int percent(const char *text)
{
    char *end = NULL;
    long n = text[0] >= '0' && text[0] <= '9' ? strtol(text, &end, 10) : -1;
    if (end != text && *end == '%')
        end++;
    return end != text && *end == '\0' && n >= 0 && n <= 100 ? (int)n : -1;
}

/* Why a value is not right for the option with this val, or NULL. */
static const char *value_problem(int val, const char *value)
{
    switch (val) {
    case O_RENEW_AT:
        return percent(value) < 0 ? "a percentage from 0 to 100" : NULL;
    case O_CHECK:
    case O_POLL:
    case 1003: /* --timeout */
        return cli_seconds(value) < 1 ? "a whole number of seconds, at least 1" : NULL;
    case O_MAX_POLL:
        return cli_seconds(value) < 0 ? "a whole number of seconds" : NULL;
    default:
        return NULL;
    }
}

static const char *option_name(int val)
{
    for (const struct option *o = longopts; o->name != NULL; o++)
        if (o->val == val)
            return o->name;
    return "?";
}

/* One `name = value` line (or a bare `name` for a flag). 0, or -1 with a message. */
static int config_line(char *line, const char *path, int lineno, arglist *a)
{
    char *eq = strchr(line, '=');
    if (eq != NULL)
        *eq = '\0';
    char *name = trim(line), *value = eq ? trim(eq + 1) : NULL, opt[80];
    const struct option *o = find_option(name);
    if (o == NULL)
        return cli_fail("watch", -1, "%s:%d: unknown setting '%s'", path, lineno, name);
    snprintf(opt, sizeof(opt), "--%s", name);
    if (o->has_arg == required_argument) {
        if (value == NULL || value[0] == '\0')
            return cli_fail("watch", -1, "%s:%d: '%s' needs a value", path, lineno, name);
        const char *why = value_problem(o->val, value);
        if (why != NULL)
            return cli_fail("watch", -1, "%s:%d: bad %s '%s': %s", path, lineno, name, value, why);
        return push_copy(a, opt) == 0 && push_copy(a, value) == 0 ? 0 : -1;
    }
    if (value == NULL || !strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
        return push_copy(a, opt);
    if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
        return 0;
    return cli_fail("watch", -1, "%s:%d: '%s' is yes or no", path, lineno, name);
}

static int read_config(const char *path, arglist *a)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return cli_fail("watch", -1, "cannot read %s: %s", path, strerror(errno));
    char line[MAX_LINE];
    int rc = 0;
    for (int lineno = 1; rc == 0 && fgets(line, sizeof(line), f) != NULL; lineno++) {
        char *text = trim(line);
        if (text[0] != '\0' && text[0] != '#')
            rc = config_line(text, path, lineno, a);
    }
    fclose(f);
    return rc;
}

/* --config FILE or --config=FILE on the command line, or NULL. */
static const char *config_path(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            return argv[i + 1];
        if (!strncmp(argv[i], "--config=", 9))
            return argv[i] + 9;
        if (!strcmp(argv[i], "--"))
            break;
    }
    return NULL;
}

static int merge_args(int argc, char **argv, arglist *a)
{
    memset(a, 0, sizeof(*a));
    const char *config = config_path(argc, argv);
    a->v[a->n++] = argv[0];
    if (config != NULL && read_config(config, a) != 0)
        return -1;
    a->cli_start = a->n;
    for (int i = 1; i < argc; i++)
        if (push(a, argv[i]) != 0)
            return cli_fail("watch", -1, "too many settings");
    return 0;
}

static void free_args(arglist *a)
{
    int end = a->cli_start ? a->cli_start : a->n;
    for (int i = 1; i < end; i++)
        free(a->v[i]);
}

static int own_option(watch_config *w, int c, const char *arg, const char **challenge_file)
{
    switch (c) {
    case O_CONFIG:
        return 0;
    case O_CERT:
        w->cert = arg;
        return 0;
    case O_KEY:
        w->key = arg;
        return 0;
    case O_CHALLENGE:
        w->challenge = arg;
        return 0;
    case O_CHALLENGE_FILE:
        *challenge_file = arg;
        return 0;
    case O_RENEW_AT:
        return (w->renew_at = percent(arg)) < 0 ? -1 : 0;
    case O_NEW_KEY:
        w->new_key = 1;
        return 0;
    case O_KEY_TYPE:
        w->key_type = arg;
        return 0;
    case O_EXEC:
        w->exec = arg;
        return 0;
    case O_CHECK:
        return (w->check_interval = cli_seconds(arg)) < 1 ? -1 : 0;
    case O_POLL:
        return (w->poll_interval = cli_seconds(arg)) < 1 ? -1 : 0;
    case O_MAX_POLL:
        return (w->max_poll_time = cli_seconds(arg)) < 0 ? -1 : 0;
    case O_ONCE:
        w->once = 1;
        return 0;
    default:
        return -1;
    }
}

static int parse(int argc, char **argv, watch_config *w, const char **challenge_file)
{
    memset(w, 0, sizeof(*w));
    w->renew_at = 75;
    w->check_interval = 60;
    w->poll_interval = 10;
    w->max_poll_time = 300;
    *challenge_file = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "u:v", longopts, NULL)) != -1) {
        const char *why = optarg ? value_problem(c, optarg) : NULL;
        if (why != NULL)
            return cli_fail("watch", -2, "bad --%s '%s': %s", option_name(c), optarg, why);
        int done = cli_common(&w->c, c, optarg);
        if (done < 0 || (done == 0 && own_option(w, c, optarg, challenge_file) != 0))
            return -1;
    }
    if (optind != argc || (w->challenge && *challenge_file))
        return -1;
    return w->c.url && w->c.ca_dir && w->cert && w->key ? 0 : -1;
}

static int run(int argc, char **argv)
{
    arglist a;
    watch_config w;
    const char *challenge_file = NULL;
    char challenge[256] = "";
    int rc = EXIT_USAGE;
    if (merge_args(argc, argv, &a) != 0)
        goto out;
    int parsed = parse(a.n, a.v, &w, &challenge_file);
    if (parsed != 0) {
        rc = parsed == -2 ? EXIT_USAGE : cli_usage(&cmd_watch);
        goto out;
    }
    if (challenge_file != NULL) {
        if (keys_read_challenge(challenge_file, challenge, sizeof(challenge)) != 0) {
            rc = cli_fail("watch", EXIT_USAGE, "cannot read a challenge from %s", challenge_file);
            goto out;
        }
        w.challenge = challenge;
    }
    rc = watch_run(&w);
out:
    OPENSSL_cleanse(challenge, sizeof(challenge));
    free_args(&a);
    return rc;
}

const command cmd_watch = {"watch", "keep a certificate renewed (daemon)", usage_text, run};
