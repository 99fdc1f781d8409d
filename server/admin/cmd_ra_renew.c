/* scepd ra-renew: a new RA key and certificate, before the RA expires. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca_create.h"
#include "ca/ca_generations.h"
#include "ca/ca_health.h"
#include "admin/cli.h"
#include "ca/rollover.h"
#include "keys/keys.h"

static const char usage_text[] =
    "usage: scepd ra-renew --dir DIR [--days N]\n\n"
    "Makes a new RA key (RSA-2048) and certificate with the same subject, signed by the CA,\n"
    "valid for N days from now (default 730, never past the CA's end), in ra.pem and ra.key.\n"
    "The previous RA moves to prev-ra.pem and prev-ra.key: requests encrypted to it still\n"
    "open. A running server serves the new RA after SIGHUP (or a restart).\n\n"
    "  --days N   validity of the new RA certificate in days (default 730)\n";

/* The new RA key, made by the key seam beside the current one as NAME.new. */
static private_key *new_key(keystore *ks, const config *c, char *err, size_t errlen)
{
    char name[CONFIG_PATH + 8], path[CONFIG_PATH + 48];
    snprintf(name, sizeof(name), "%s.new", c->ra_key);
    config_path(c, name, path, sizeof(path));
    unlink(path); /* left by an interrupted run */
    return rollover_new_key(ks, c, "rsa:2048", name, NULL, err, errlen);
}

/* ra.pem's new contents, written beside it as NAME.new. */
static int write_new_cert(const config *c, X509 *cert, char *err, size_t errlen)
{
    char path[CONFIG_PATH + 8], base[CONFIG_PATH];
    config_path(c, c->ra_cert, base, sizeof(base));
    snprintf(path, sizeof(path), "%s.new", base);
    unlink(path);
    return ca_write_cert(path, cert, err, errlen);
}

/* The current RA becomes prev-ra.*, the new one takes its place: the key first, so that a
 * certificate never names a key that is not there. */
static int swap_in(keystore *ks, const config *c, char *err, size_t errlen)
{
    char new_cert[CONFIG_PATH + 8], new_key[CONFIG_PATH + 8];
    snprintf(new_cert, sizeof(new_cert), "%s.new", c->ra_cert);
    snprintf(new_key, sizeof(new_key), "%s.new", c->ra_key);
    if (rollover_move_file(c, c->ra_cert, CA_PREV_RA_CERT, err, errlen) != 0 ||
        rollover_move_key(ks, c, c->ra_key, CA_PREV_RA_KEY, err, errlen) != 0 ||
        rollover_move_key(ks, c, new_key, c->ra_key, err, errlen) != 0)
        return -1;
    return rollover_move_file(c, new_cert, c->ra_cert, err, errlen);
}

/* Whether the files hold the RA the server serves now: not after a rollover switch whose
 * files have not moved along yet. */
static int check_renewable(const authority *ca, char *err, size_t errlen)
{
    int64_t now = (int64_t)time(NULL);
    if (ca->ra_cert == NULL) {
        snprintf(err, errlen, "the CA is in CA mode (no ra_cert): there is no RA to renew");
        return -1;
    }
    if (ca->next.cert != NULL && now >= ca_unix_time(X509_get0_notBefore(ca->next.cert))) {
        snprintf(err, errlen,
                 "the next CA is current now: run `scepd rollover` first to move "
                 "the files along");
        return -1;
    }
    char why[256];
    if (ca_cert_not_valid(ca->cert, "CA", now, why, sizeof(why)) == 0)
        return 0;
    snprintf(err, errlen, "%s: it cannot certify a new RA", why);
    return -1;
}

/* A new RA key from the seam, its certificate, both in place of the current ones. */
static int renew_with(keystore *ks, const config *c, const authority *ca, int days, X509 **out)
{
    char err[512] = "";
    private_key *k = new_key(ks, c, err, sizeof(err));
    EVP_PKEY *key = k ? k->ops->pkey(k) : NULL;
    X509 *cert =
        key ? ca_create_ra(ca->cert, ca->key, key, X509_get_subject_name(ca->ra_cert), days) : NULL;
    int rc = 0;
    if (key == NULL)
        rc = cli_fail("ra-renew", "%s", err);
    else if (cert == NULL)
        rc = cli_fail("ra-renew", "cannot create the RA certificate");
    else if (write_new_cert(c, cert, err, sizeof(err)) != 0 ||
             swap_in(ks, c, err, sizeof(err)) != 0)
        rc = cli_fail("ra-renew", "%s", err);
    if (k != NULL)
        k->ops->destroy(k);
    if (rc == 0)
        *out = cert;
    else
        X509_free(cert);
    return rc;
}

static int renew(const config *c, const authority *ca, int days, X509 **out)
{
    char err[512] = "", path[CONFIG_PATH];
    config_path(c, c->ra_key, path, sizeof(path));
    keystore *ks = keys_open(path, err, sizeof(err));
    if (ks == NULL)
        return cli_fail("ra-renew", "%s", err);
    int rc = renew_with(ks, c, ca, days, out);
    ks->destroy(ks);
    return rc;
}

static void report(const config *c, store *st, X509 *cert)
{
    char serial[STORE_HEX_SERIAL], until[32], subject[256];
    ca_serial_hex(cert, serial, sizeof(serial));
    ca_name_text(X509_get_subject_name(cert), subject, sizeof(subject));
    ca_time_text(ca_unix_time(X509_get0_notAfter(cert)), until, sizeof(until));
    if (st != NULL)
        st->ops->event_add(st, "ra-renew", serial, subject);
    printf("renewed the RA in %s: serial %s, %s, valid until %s\n"
           "the previous RA is kept in %s (requests encrypted to it still open)\n"
           "send SIGHUP to the server (or restart it) to serve the new RA\n",
           c->dir, serial, subject, until, CA_PREV_RA_CERT);
    if (ca_unix_time(X509_get0_notAfter(cert)) - (int64_t)time(NULL) <=
        (int64_t)CA_EXPIRY_WARNING_DAYS * 86400)
        fprintf(stderr, "scepd ra-renew: warning: the RA ends with the CA at %s\n", until);
}

/* ra-renew renews ra_cert only: say so when an RA signing certificate is left as it was. */
static void note_ra_sign(const config *c, const authority *ca)
{
    if (ca->ra_sign_cert == NULL)
        return;
    char until[32];
    ca_time_text(ca_unix_time(X509_get0_notAfter(ca->ra_sign_cert)), until, sizeof(until));
    fprintf(stderr,
            "scepd ra-renew: note: the RA signing certificate (%s, valid until %s) is not "
            "renewed: ra-renew renews ra_cert only\n",
            c->ra_sign_cert, until);
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"days", required_argument, NULL, 'n'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    long days = 730;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == 'd')
            dir = optarg;
        else if (opt == 'n' && config_parse_long(optarg, 1, 36500, &days) != 0)
            return cli_bad_value("ra-renew", "--days", optarg, "a whole number from 1 to 36500");
        else if (opt != 'n')
            return cli_usage(&cmd_ra_renew);
    }
    config cfg;
    if (optind != argc)
        return cli_usage(&cmd_ra_renew);
    if (cli_load_config("ra-renew", dir, &cfg) != 0)
        return EXIT_FAIL;
    authority ca;
    char err[512];
    if (ca_load(&ca, &cfg, err, sizeof(err)) != 0)
        return cli_fail("ra-renew", "%s", err);
    X509 *cert = NULL;
    int rc = check_renewable(&ca, err, sizeof(err)) != 0 ? cli_fail("ra-renew", "%s", err)
                                                         : renew(&cfg, &ca, (int)days, &cert);
    if (rc == 0)
        note_ra_sign(&cfg, &ca);
    ca_free(&ca);
    if (rc == 0) {
        store *st = cli_open_store("ra-renew", &cfg);
        if (st == NULL)
            rc = EXIT_FAIL; /* the files are renewed, the other nodes do not know yet */
        else if (ca_generations_record(&cfg, st, err, sizeof(err)) != 0)
            rc = cli_fail("ra-renew", "%s", err);
        report(&cfg, st, cert);
        store_close(st);
    }
    X509_free(cert);
    return rc;
}

const command cmd_ra_renew = {"ra-renew", "renew the RA key and certificate", usage_text, run};
