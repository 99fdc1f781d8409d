/* scepd revoke / crl: revocation and CRLs (SCEP has no revoke message: the operator decides). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "ca/ca.h"
#include "admin/audit.h"
#include "admin/cli.h"
#include "policy/challenge.h"
#include "ca/crl.h"
#include "admin/decisions.h"

static const char revoke_usage[] =
    "usage: scepd revoke --dir DIR SERIAL [--reason REASON] [--verify-challenge]\n\n"
    "Revokes the certificate with that serial (hex) and issues a new CRL at once.\n"
    "With --verify-challenge, first reads a challenge password on standard input (the one the\n"
    "caller says they enrolled with: the draft's manual revocation check) and revokes only when\n"
    "it matches the one stored, hashed, with the request.\n"
    "REASON: unspecified (default), keyCompromise, cACompromise, affiliationChanged,\n"
    "superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise.\n";
static const char crl_usage[] =
    "usage: scepd crl --dir DIR [--out FILE]\n\n"
    "Issues a new CRL now (the server also reissues it when half its validity, crl_days, has\n"
    "passed, and after each revocation) and prints it, or writes it to FILE (PEM).\n";

/* Loads the CA and store named by DIR's config; prints why not. */
static int open_ca(const char *cmd, const char *dir, config *c, authority *ca, store **st)
{
    char err[512];
    *st = NULL;
    if (cli_load_config(cmd, dir, c) != 0)
        return EXIT_FAIL;
    if (ca_load_current(ca, c, err, sizeof(err)) != 0)
        return cli_fail(cmd, "%s", err);
    *st = cli_open_store(cmd, c);
    if (*st == NULL) {
        ca_free(ca);
        return EXIT_FAIL;
    }
    return 0;
}

/* Prints rec (or writes it to out as PEM). */
static int print_crl(const char *cmd, const config *c, const store_crl *rec, const char *out)
{
    const unsigned char *p = rec->der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)rec->der_len);
    FILE *f = out ? fopen(out, "w") : stdout;
    int rc = crl && f ? 0 : cli_fail(cmd, "cannot write the CRL");
    if (rc == 0) {
        if (out == NULL)
            X509_CRL_print_fp(stdout, crl);
        PEM_write_X509_CRL(f, crl);
        fprintf(out ? stdout : stderr, "issued CRL number %lld, valid %d days\n",
                (long long)rec->number, c->crl_days);
    }
    if (f != NULL && f != stdout)
        fclose(f);
    X509_CRL_free(crl);
    return rc;
}

static int issue_crl(const char *cmd, const authority *ca, const config *c, store *st,
                     const char *out)
{
    store_crl rec = {0};
    char err[512];
    if (crl_current(ca, c, st, 1, &rec, err, sizeof(err)) != 0)
        return cli_fail(cmd, "%s", err);
    int rc = print_crl(cmd, c, &rec, out);
    store_crl_clear(&rec);
    return rc;
}

/* The caller's challenge, read from stdin, against the hash stored with the request. */
static const char *challenge_mismatch(store *st, const char *serial)
{
    char given[CONFIG_SECRET] = "", hash[STORE_KEY_ID];
    if (fgets(given, sizeof(given), stdin) == NULL)
        return "no challenge on standard input";
    given[strcspn(given, "\r\n")] = '\0';
    challenge_hash(given, hash);
    OPENSSL_cleanse(given, sizeof(given));
    store_request r = {0};
    const char *why = NULL;
    if (st->ops->request_get_by_cert(st, serial, &r) != STORE_OK)
        why = "no enrollment request is recorded for this certificate";
    else if (r.challenge_hash[0] == '\0')
        why = "the request carried no challenge to verify";
    else if (CRYPTO_memcmp(r.challenge_hash, hash, sizeof(hash)) != 0)
        why = "the challenge does not match the one the certificate was enrolled with";
    store_request_clear(&r);
    return why;
}

static void audit_revocation(const config *c, store *st, const store_cert *rec, const char *reason)
{
    char sans[STORE_TEXT] = "";
    const unsigned char *p = rec->der;
    X509 *cert = d2i_X509(NULL, &p, (long)rec->der_len);
    if (cert != NULL)
        ca_sans_text(X509_get0_extensions(cert), sans, sizeof(sans));
    X509_free(cert);
    log_audit_event e = {.event = "revoke",
                         .subject = rec->subject,
                         .serial = rec->serial,
                         .sans = sans,
                         .transaction_id = rec->transaction_id,
                         .detail = reason};
    admin_audit(c, st, &e);
}

static int run_revoke(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"reason", required_argument, NULL, 'r'},
                                             {"verify-challenge", no_argument, NULL, 'v'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL, *reason = "unspecified";
    int c, verify = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (c == 'd')
            dir = optarg;
        else if (c == 'r')
            reason = optarg;
        else if (c == 'v')
            verify = 1;
        else
            return cli_usage(&cmd_revoke);
    int code = decision_reason_code(reason);
    if (code < 0)
        return cli_bad_value("revoke", "--reason", reason,
                             "one of unspecified, keyCompromise, cACompromise, "
                             "affiliationChanged, superseded, cessationOfOperation, "
                             "certificateHold, privilegeWithdrawn, aACompromise");
    if (optind != argc - 1)
        return cli_misuse("revoke", "give one SERIAL");
    if (strlen(argv[optind]) >= STORE_HEX_SERIAL ||
        strspn(argv[optind], "0123456789abcdefABCDEF") != strlen(argv[optind]))
        return cli_bad_value("revoke", "SERIAL", argv[optind], "a serial number in hex");
    char serial[STORE_HEX_SERIAL];
    snprintf(serial, sizeof(serial), "%s", argv[optind]);
    for (char *p = serial; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    config cfg;
    authority ca;
    store *st;
    if (open_ca("revoke", dir, &cfg, &ca, &st) != 0)
        return EXIT_FAIL;
    store_cert rec = {0};
    int rc = 0;
    const char *mismatch = NULL;
    store_status s = st->ops->cert_get(st, serial, &rec);
    store_cert_clear(&rec);
    if (s != STORE_OK)
        rc = cli_fail("revoke", "no certificate with serial %s", serial);
    else if (verify && (mismatch = challenge_mismatch(st, serial)) != NULL)
        rc = cli_fail("revoke", "not revoked: %s", mismatch);
    else if ((s = decision_revoke(st, serial, code, &rec)) == STORE_EXISTS)
        rc = cli_fail("revoke", "%s is a CA certificate", serial);
    else if (s == STORE_CONFLICT)
        rc = cli_fail("revoke", "%s is already revoked", serial);
    else if (s != STORE_OK)
        rc = cli_fail("revoke", "%s", st->ops->last_error(st));
    if (rc == 0) {
        printf("revoked %s (%s): %s\n", serial, reason, rec.subject);
        audit_revocation(&cfg, st, &rec, reason);
        char err[512];
        store_crl crl = {0};
        if (decision_reissue_crls_of(&ca, &cfg, st, &rec, &crl, err, sizeof(err)) != 0)
            rc = cli_fail("revoke", "%s", err);
        else
            rc = print_crl("revoke", &cfg, &crl, NULL);
        store_crl_clear(&crl);
    }
    store_cert_clear(&rec);
    store_close(st);
    ca_free(&ca);
    return rc;
}

static int run_crl(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"out", required_argument, NULL, 'o'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL, *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (c == 'd')
            dir = optarg;
        else if (c == 'o')
            out = optarg;
        else
            return cli_usage(&cmd_crl);
    if (optind != argc)
        return cli_misuse("crl", "unexpected argument '%s'", argv[optind]);
    config cfg;
    authority ca;
    store *st;
    if (open_ca("crl", dir, &cfg, &ca, &st) != 0)
        return EXIT_FAIL;
    int rc = issue_crl("crl", &ca, &cfg, st, out);
    store_close(st);
    ca_free(&ca);
    return rc;
}

const command cmd_revoke = {"revoke", "revoke a certificate and issue a CRL", revoke_usage,
                            run_revoke};
const command cmd_crl = {"crl", "issue a new CRL now", crl_usage, run_crl};
