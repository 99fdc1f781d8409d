/* scepd certs / show: what the CA has issued. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "admin/cli.h"

static const char certs_usage[] =
    "usage: scepd certs --dir DIR [--subject TEXT] [--valid | --revoked] [--limit N]\n\n"
    "Lists certificates: serial, state, notAfter, subject. CA certificates (every generation)\n"
    "are marked 'ca'.\n"
    "  --subject TEXT   only subjects containing TEXT\n"
    "  --valid          only certificates neither revoked nor expired\n"
    "  --revoked        only revoked certificates\n"
    "  --limit N        at most N lines\n";
static const char show_usage[] = "usage: scepd show --dir DIR SERIAL\n\n"
                                 "Prints one certificate as text and PEM (SERIAL in hex).\n";

static int print_cert(void *arg, const store_cert *c)
{
    (void)arg;
    char until[32];
    cli_time_text(c->not_after, until, sizeof(until));
    const char *state = c->is_ca ? "ca" : cert_state_name(c->state);
    if (!c->is_ca && c->state == CERT_VALID && c->not_after <= (int64_t)time(NULL))
        state = "expired";
    printf("%-34s %-10s %s  %s\n", c->serial, state, until, c->subject);
    return 0;
}

static int run_certs(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},   {"subject", required_argument, NULL, 's'},
        {"valid", no_argument, NULL, 'v'},       {"revoked", no_argument, NULL, 'r'},
        {"limit", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    cert_filter f = {.now = (int64_t)time(NULL)};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 's':
            f.subject_like = optarg;
            break;
        case 'v':
            f.only_valid = 1;
            break;
        case 'r':
            f.only_revoked = 1;
            break;
        case 'n': {
            long limit = 0;
            if (config_parse_long(optarg, 1, 1000000000L, &limit) != 0)
                return cli_bad_value("certs", "--limit", optarg, "a whole number from 1 up");
            f.limit = (int)limit;
            break;
        }
        default:
            return cli_usage(&cmd_certs);
        }
    }
    config cfg;
    if (optind != argc)
        return cli_misuse("certs", "unexpected argument '%s'", argv[optind]);
    if (f.only_valid && f.only_revoked)
        return cli_misuse("certs", "--valid and --revoked exclude each other");
    if (cli_load_config("certs", dir, &cfg) != 0)
        return EXIT_FAIL;
    store *st = cli_open_store("certs", &cfg);
    if (st == NULL)
        return EXIT_FAIL;
    printf("%-34s %-10s %-20s  %s\n", "SERIAL", "STATE", "NOT AFTER", "SUBJECT");
    store_status s = st->ops->cert_list(st, &f, print_cert, NULL);
    int rc = s == STORE_OK ? 0 : cli_fail("certs", "%s", st->ops->last_error(st));
    store_close(st);
    return rc;
}

static void upper(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'f')
            *s = (char)(*s - 'a' + 'A');
}

static int run_show(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (c == 'd')
            dir = optarg;
        else
            return cli_usage(&cmd_show);
    if (optind != argc - 1 || strlen(argv[optind]) >= STORE_HEX_SERIAL)
        return cli_usage(&cmd_show);
    config cfg;
    if (cli_load_config("show", dir, &cfg) != 0)
        return EXIT_FAIL;
    store *st = cli_open_store("show", &cfg);
    if (st == NULL)
        return EXIT_FAIL;
    char serial[STORE_HEX_SERIAL];
    snprintf(serial, sizeof(serial), "%s", argv[optind]);
    upper(serial);
    store_cert rec = {0};
    store_status s = st->ops->cert_get(st, serial, &rec);
    int rc = 0;
    if (s != STORE_OK)
        rc = cli_fail("show", "no certificate with serial %s", serial);
    else {
        const unsigned char *p = rec.der;
        X509 *cert = d2i_X509(NULL, &p, (long)rec.der_len);
        printf("state: %s\n", rec.is_ca ? "ca" : cert_state_name(rec.state));
        if (rec.transaction_id[0])
            printf("transactionID: %s\n", rec.transaction_id);
        if (cert != NULL) {
            X509_print_fp(stdout, cert);
            PEM_write_X509(stdout, cert);
        }
        X509_free(cert);
    }
    store_cert_clear(&rec);
    store_close(st);
    return rc;
}

const command cmd_certs = {"certs", "list certificates", certs_usage, run_certs};
const command cmd_show = {"show", "show one certificate", show_usage, run_show};
