/* scepd rollover: prepare the next CA generation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/cli.h"
#include "ca/rollover.h"

static const char usage_text[] =
    "usage: scepd rollover --dir DIR [--days N] [--overlap-days N | --switch-in SECONDS]\n\n"
    "Prepares the next CA certificate (a new key of the same type, the same subject), valid from\n"
    "the switch: by default 30 days before the current CA expires. Until then GetCACaps\n"
    "advertises GetNextCACert, which returns it signed by the current CA, and renewals get a\n"
    "shadow certificate from it, valid from the switch. At the switch it becomes the current CA\n"
    "by itself; the previous one still verifies renewals. A running server picks the new\n"
    "files up on SIGHUP (or restart). After a switch, running it again moves the generations\n"
    "along (current -> prev-ca.pem) and prepares the following one.\n\n"
    "  --days N            validity of the next CA (default: as long as the current one)\n"
    "  --overlap-days N    switch N days before the current CA expires (default 30)\n"
    "  --switch-in SEC     switch SEC seconds from now instead (tests, emergencies)\n";

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"days", required_argument, NULL, 'n'},
                                             {"overlap-days", required_argument, NULL, 'o'},
                                             {"switch-in", required_argument, NULL, 's'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    long days = 0, overlap = 30, switch_in = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        long v = 0;
        const char *flag = c == 'n' ? "--days" : c == 'o' ? "--overlap-days" : "--switch-in";
        if (c == '?')
            return cli_usage(&cmd_rollover);
        if (c == 's' && config_parse_long(optarg, 0, 36500L * 86400, &v) != 0)
            return cli_bad_value("rollover", flag, optarg, "a whole number of seconds");
        if ((c == 'n' || c == 'o') && config_parse_long(optarg, 0, 36500, &v) != 0)
            return cli_bad_value("rollover", flag, optarg, "a whole number of days up to 36500");
        if (c == 'd')
            dir = optarg;
        else if (c == 'n')
            days = v;
        else if (c == 'o')
            overlap = v;
        else if (c == 's')
            switch_in = v;
        else
            return cli_usage(&cmd_rollover);
    }
    config cfg;
    authority ca;
    char err[512];
    if (optind != argc)
        return cli_misuse("rollover", "unexpected argument '%s'", argv[optind]);
    if (cli_load_config("rollover", dir, &cfg) != 0)
        return EXIT_FAIL;
    if (ca_load(&ca, &cfg, err, sizeof(err)) != 0)
        return cli_fail("rollover", "%s", err);
    time_t at =
        switch_in >= 0 ? time(NULL) + switch_in : rollover_default_switch(&ca, (int)overlap);
    ca_free(&ca);
    store *st = cli_open_store("rollover", &cfg);
    if (st == NULL)
        return EXIT_FAIL;
    int rc = rollover_prepare(&cfg, st, at, (int)days, err, sizeof(err));
    store_close(st);
    if (rc != 0)
        return cli_fail("rollover", "%s", err);
    char when[32];
    struct tm tm;
    gmtime_r(&at, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("prepared the next CA in %s/%s; it becomes current at %s\n", cfg.dir, CA_NEXT_CERT,
           when);
    /* Its CRL path, for a crl_url with {ca}. */
    char key_id[STORE_KEY_ID] = "";
    if (ca_load(&ca, &cfg, err, sizeof(err)) == 0 && ca.next.cert != NULL)
        ca_key_id(X509_get_X509_PUBKEY(ca.next.cert), key_id, sizeof(key_id));
    ca_free(&ca);
    if (key_id[0] != '\0')
        printf("next CA key id (crl_url {ca}): %s\n", key_id);
    if (cfg.crl_url[0] != '\0' && strstr(cfg.crl_url, "{ca}") == NULL)
        fprintf(stderr, "scepd rollover: %s\n", CRL_URL_ROLLOVER_WARNING);
    return 0;
}

const command cmd_rollover = {"rollover", "prepare the next CA generation", usage_text, run};
