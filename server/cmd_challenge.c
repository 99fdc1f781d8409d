/* scepd challenge: mint a one-time challenge password (what MDM systems hand to each device). */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "challenge.h"
#include "cli.h"

static const char usage_text[] =
    "usage: scepd challenge --dir DIR [--ttl DURATION] [--subject-match REGEX]\n\n"
    "Prints a fresh one-time challenge password as the last line of output. It is valid for\n"
    "one enrollment, until it expires, and, with --subject-match, only for requests whose\n"
    "subject (RFC 2253 text, for example \"CN=device-1,O=Example\") matches the POSIX extended\n"
    "regular expression. Only its hash is stored. Works while the server runs, with or without\n"
    "a static challenge.\n\n"
    "  --ttl DURATION        how long it stays valid: 3600, 30m, 1h (default), 7d\n"
    "  --subject-match RE    only for matching subjects\n";

/* "90", "30m", "1h", "7d" -> seconds; -1 when malformed. */
static long parse_duration(const char *text)
{
    char *end = NULL;
    long n = strtol(text, &end, 10);
    if (end == text || n <= 0 || n > 3650L * 86400)
        return -1;
    long unit = *end == '\0' || !strcmp(end, "s") ? 1
                : !strcmp(end, "m")               ? 60
                : !strcmp(end, "h")               ? 3600
                : !strcmp(end, "d")               ? 86400
                                                  : -1;
    if (unit <= 0)
        return -1;
    return n > 3650L * 86400 / unit ? -1 : n * unit;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"ttl", required_argument, NULL, 't'},
                                             {"subject-match", required_argument, NULL, 's'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL, *match = NULL;
    long ttl = 3600;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 't' && (ttl = parse_duration(optarg)) > 0)
            continue;
        else if (c == 's')
            match = optarg;
        else
            return cli_usage(&cmd_challenge);
    }
    if (optind != argc)
        return cli_usage(&cmd_challenge);
    if (match != NULL) {
        regex_t re;
        if (regcomp(&re, match, REG_EXTENDED | REG_NOSUB) != 0)
            return cli_fail("challenge", "--subject-match is not a valid regular expression");
        regfree(&re);
    }
    config cfg;
    if (cli_load_config("challenge", dir, &cfg) != 0)
        return EXIT_FAIL;
    store *st = cli_open_store("challenge", &cfg);
    if (st == NULL)
        return EXIT_FAIL;
    char secret[64], err[512];
    int rc = challenge_mint(st, ttl, match, secret, sizeof(secret), err, sizeof(err));
    if (rc == 0) {
        printf("one-time challenge, valid %ld seconds%s%s:\n%s\n", ttl,
               match ? " for subjects matching " : "", match ? match : "", secret);
        st->ops->event_add(st, "challenge", "", match ? match : "");
    } else
        cli_fail("challenge", "%s", err);
    OPENSSL_cleanse(secret, sizeof(secret));
    store_close(st);
    return rc == 0 ? 0 : EXIT_FAIL;
}

const command cmd_challenge = {"challenge", "mint a one-time challenge password", usage_text, run};
