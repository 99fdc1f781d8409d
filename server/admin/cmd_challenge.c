/* scepd challenge: mint a one-time challenge password (what MDM systems hand to each device). */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "policy/challenge.h"
#include "profile/profile.h"
#include "admin/cli.h"

static const char usage_text[] =
    "usage: scepd challenge --dir DIR [--ttl DURATION] [--subject-match REGEX] [--profile NAME]\n\n"
    "Prints a fresh one-time challenge password as the last line of output. It is valid for\n"
    "one enrollment, until it expires, and, with --subject-match, only for requests whose\n"
    "subject (RFC 4514 text, most specific first: \"CN=device-1,O=Example\") matches the POSIX\n"
    "extended regular expression. Only its hash is stored. Works while the server runs, with or\n"
    "without a static challenge.\n\n"
    "  --ttl DURATION        how long it stays valid: 3600, 30m, 1h (default), 7d\n"
    "  --subject-match RE    only for matching subjects\n"
    "  --profile NAME        only for requests to that profile (/scep/NAME)\n";

/* "90", "30m", "1h", "7d" -> seconds, up to 3650 days; -1 when malformed. */
static long parse_duration(const char *text)
{
    char number[16];
    size_t digits = strspn(text, "0123456789");
    const char *suffix = text + digits;
    long n = 0;
    if (digits == 0 || digits >= sizeof(number))
        return -1;
    memcpy(number, text, digits);
    number[digits] = '\0';
    long unit = *suffix == '\0' || !strcmp(suffix, "s") ? 1
                : !strcmp(suffix, "m")                  ? 60
                : !strcmp(suffix, "h")                  ? 3600
                : !strcmp(suffix, "d")                  ? 86400
                                                        : -1;
    if (unit <= 0 || config_parse_long(number, 1, 3650L * 86400 / unit, &n) != 0)
        return -1;
    return n * unit;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"ttl", required_argument, NULL, 't'},
                                             {"subject-match", required_argument, NULL, 's'},
                                             {"profile", required_argument, NULL, 'p'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL, *match = NULL, *prof = NULL;
    long ttl = 3600;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 't' && (ttl = parse_duration(optarg)) < 0)
            return cli_bad_value("challenge", "--ttl", optarg,
                                 "seconds, or a number with s, m, h or d (30m, 1h, 7d), up to "
                                 "3650 days");
        else if (c == 's')
            match = optarg;
        else if (c == 'p')
            prof = optarg;
        else if (c != 't')
            return cli_usage(&cmd_challenge);
    }
    if (optind != argc)
        return cli_misuse("challenge", "unexpected argument '%s'", argv[optind]);
    if (match != NULL) {
        regex_t re;
        if (regcomp(&re, match, REG_EXTENDED | REG_NOSUB) != 0)
            return cli_fail("challenge", "--subject-match is not a valid regular expression");
        regfree(&re);
    }
    config cfg;
    if (cli_load_config("challenge", dir, &cfg) != 0)
        return EXIT_FAIL;
    char secret[64], err[512];
    int found = prof ? profile_exists(&cfg, prof, err, sizeof(err)) : 1;
    if (found < 0)
        return cli_fail("challenge", "%s", err);
    if (found == 0)
        return cli_bad_value("challenge", "--profile", prof,
                             "a profile of scepd.conf (scepd profiles)");
    store *st = cli_open_store("challenge", &cfg);
    if (st == NULL)
        return EXIT_FAIL;
    int rc = challenge_mint_for(st, prof, ttl, match, secret, sizeof(secret), err, sizeof(err));
    if (rc == 0) {
        printf("one-time challenge, valid %ld seconds%s%s%s%s:\n%s\n", ttl,
               match ? " for subjects matching " : "", match ? match : "",
               prof ? " in profile " : "", prof ? prof : "", secret);
        st->ops->event_add(st, "challenge", "", match ? match : "");
    } else
        cli_fail("challenge", "%s", err);
    OPENSSL_cleanse(secret, sizeof(secret));
    store_close(st);
    return rc == 0 ? 0 : EXIT_FAIL;
}

const command cmd_challenge = {"challenge", "mint a one-time challenge password", usage_text, run};
