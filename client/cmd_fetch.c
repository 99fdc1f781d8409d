/* scep getcert / getcrl / getnextca: fetching what the CA publishes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "files.h"

static const char getcert_usage[] =
    "usage: scep getcert -u URL --ca DIR --cert CERT --key KEY --serial HEX --out FILE\n\n"
    "Fetches the certificate with that serial number from the CA (GetCert). CERT and KEY sign\n"
    "the request.\n\n" COMMON_USAGE;
static const char getcrl_usage[] =
    "usage: scep getcrl -u URL --ca DIR --cert CERT --key KEY --out FILE\n\n"
    "Fetches the CRL that covers CERT (GetCRL), checks that the CA signed it, and saves it.\n"
    "CERT and KEY sign the request.\n\n" COMMON_USAGE;
static const char getnextca_usage[] =
    "usage: scep getnextca -u URL --ca DIR -o DIR\n\n"
    "Fetches the CA's next certificate (GetNextCACert, during a CA rollover), checks that the\n"
    "current CA signed it, and saves it in DIR like `scep getca` does.\n\n" COMMON_USAGE;

typedef struct fetch_opts {
    common_opts c;
    const char *cert, *key, *serial, *out;
} fetch_opts;

static int parse(int argc, char **argv, fetch_opts *o)
{
    static const struct option longopts[] = {COMMON_LONGOPTS,
                                             {"cert", required_argument, NULL, 'c'},
                                             {"key", required_argument, NULL, 'k'},
                                             {"serial", required_argument, NULL, 's'},
                                             {"out", required_argument, NULL, 'o'},
                                             {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "u:vo:", longopts, NULL)) != -1) {
        int done = cli_common(&o->c, c, optarg);
        if (done < 0)
            return -1;
        if (done)
            continue;
        if (c == 'c')
            o->cert = optarg;
        else if (c == 'k')
            o->key = optarg;
        else if (c == 's')
            o->serial = optarg;
        else if (c == 'o')
            o->out = optarg;
        else
            return -1;
    }
    return optind == argc && o->out ? 0 : -1;
}

/* One GetCert or GetCRL exchange signed with the user's certificate. */
static int ask(const char *cmd, session *s, scep_msg_type type, const X509_NAME *issuer,
               ASN1_INTEGER *serial, exchange *x, X509 *cert, EVP_PKEY *key)
{
    memset(x, 0, sizeof(*x));
    x->req.type = type;
    /* A fresh transactionID per query: it is not an enrollment. */
    char tid[SCEP_MAX_TRANSACTION_ID + 1];
    unsigned char rnd[16];
    if (scep_nonce(rnd, sizeof(rnd)) != SCEP_OK)
        return cli_fail(cmd, EXIT_ERROR, "no randomness");
    for (int i = 0; i < 16; i++)
        snprintf(tid + 2 * i, 3, "%02X", rnd[i]);
    x->req.transaction_id = tid;
    x->req.issuer = issuer;
    x->req.serial = serial;
    x->req.signer_cert = cert;
    x->req.signer_key = key;
    int rc = session_exchange(s, x);
    if (rc != EXIT_OK)
        return cli_fail(cmd, rc, "%s", s->err);
    if (x->reply->status == SCEP_STATUS_FAILURE)
        return cli_fail(cmd, session_report_failure(s, x->reply), "%s", s->err);
    if (x->reply->status != SCEP_STATUS_SUCCESS)
        return cli_fail(cmd, EXIT_BAD_REPLY, "unexpected %s",
                        scep_pki_status_name(x->reply->status));
    return EXIT_OK;
}

static int load_signer(const char *cmd, const fetch_opts *o, X509 **cert, EVP_PKEY **key)
{
    char err[512];
    if (o->cert == NULL || o->key == NULL)
        return cli_fail(cmd, EXIT_USAGE, "--cert and --key are required");
    *cert = files_read_cert(o->cert, err, sizeof(err));
    *key = *cert ? files_read_key(o->key, err, sizeof(err)) : NULL;
    if (*key == NULL)
        return cli_fail(cmd, EXIT_USAGE, "%s", err);
    return EXIT_OK;
}

static int run_getcert(int argc, char **argv)
{
    fetch_opts o;
    if (parse(argc, argv, &o) != 0 || o.serial == NULL)
        return cli_usage(&cmd_getcert);
    BIGNUM *bn = NULL;
    if (BN_hex2bn(&bn, o.serial) != (int)strlen(o.serial)) {
        BN_free(bn);
        return cli_fail("getcert", EXIT_USAGE, "--serial takes hex digits");
    }
    ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    session s;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    exchange x = {0};
    char err[512];
    int rc = cli_session("getcert", &o.c, &s, 1);
    if (rc == EXIT_OK)
        rc = load_signer("getcert", &o, &cert, &key);
    if (rc == EXIT_OK)
        rc = ask("getcert", &s, SCEP_MSG_GET_CERT, X509_get_subject_name(s.ca), serial, &x, cert,
                 key);
    X509 *found = NULL;
    for (int i = 0; rc == EXIT_OK && i < sk_X509_num(x.reply->certs); i++)
        if (ASN1_INTEGER_cmp(X509_get0_serialNumber(sk_X509_value(x.reply->certs, i)), serial) == 0)
            found = sk_X509_value(x.reply->certs, i);
    if (rc == EXIT_OK && found == NULL)
        rc = cli_fail("getcert", EXIT_BAD_REPLY, "the reply holds no certificate with that serial");
    if (rc == EXIT_OK && files_write_cert(o.out, found, o.c.der, err, sizeof(err)) != 0)
        rc = cli_fail("getcert", EXIT_ERROR, "%s", err);
    if (rc == EXIT_OK)
        printf("certificate %s saved to %s\n", o.serial, o.out);
    scep_msg_free(x.reply);
    ASN1_INTEGER_free(serial);
    X509_free(cert);
    EVP_PKEY_free(key);
    session_close(&s);
    return rc;
}

static int run_getcrl(int argc, char **argv)
{
    fetch_opts o;
    if (parse(argc, argv, &o) != 0)
        return cli_usage(&cmd_getcrl);
    session s;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    exchange x = {0};
    char err[512];
    int rc = cli_session("getcrl", &o.c, &s, 1);
    if (rc == EXIT_OK)
        rc = load_signer("getcrl", &o, &cert, &key);
    if (rc == EXIT_OK)
        rc = ask("getcrl", &s, SCEP_MSG_GET_CRL, X509_get_issuer_name(cert),
                 X509_get_serialNumber(cert), &x, cert, key);
    X509_CRL *crl = rc == EXIT_OK ? sk_X509_CRL_value(x.reply->crls, 0) : NULL;
    if (rc == EXIT_OK && crl == NULL)
        rc = cli_fail("getcrl", EXIT_BAD_REPLY, "the reply holds no CRL");
    if (rc == EXIT_OK && X509_CRL_verify(crl, X509_get0_pubkey(s.ca)) != 1)
        rc = cli_fail("getcrl", EXIT_BAD_REPLY, "the CRL is not signed by the CA");
    if (rc == EXIT_OK && files_write_crl(o.out, crl, o.c.der, err, sizeof(err)) != 0)
        rc = cli_fail("getcrl", EXIT_ERROR, "%s", err);
    if (rc == EXIT_OK)
        printf("CRL with %d revoked certificates saved to %s\n",
               sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), o.out);
    scep_msg_free(x.reply);
    X509_free(cert);
    EVP_PKEY_free(key);
    session_close(&s);
    return rc;
}

static int run_getnextca(int argc, char **argv)
{
    fetch_opts o;
    if (parse(argc, argv, &o) != 0)
        return cli_usage(&cmd_getnextca);
    session s;
    STACK_OF(X509) *next = NULL;
    char err[512], path[4096];
    int rc = cli_session("getnextca", &o.c, &s, 1);
    if (rc == EXIT_OK && (rc = session_fetch_next_ca(&s, &next)) != EXIT_OK)
        cli_fail("getnextca", rc, "%s", s.err);
    if (rc == EXIT_OK && mkdir(o.out, 0755) != 0 && errno != EEXIST)
        rc = cli_fail("getnextca", EXIT_ERROR, "cannot create %s", o.out);
    snprintf(path, sizeof(path), "%s/certs.pem", o.out);
    if (rc == EXIT_OK && files_write_certs(path, next, err, sizeof(err)) != 0)
        rc = cli_fail("getnextca", EXIT_ERROR, "%s", err);
    if (rc == EXIT_OK)
        printf("next CA certificates (%d) saved to %s, signed by the current CA\n",
               sk_X509_num(next), path);
    sk_X509_pop_free(next, X509_free);
    session_close(&s);
    return rc;
}

const command cmd_getcert = {"getcert", "fetch a certificate by serial", getcert_usage,
                             run_getcert};
const command cmd_getcrl = {"getcrl", "fetch the CRL", getcrl_usage, run_getcrl};
const command cmd_getnextca = {"getnextca", "fetch the next CA certificate (rollover)",
                               getnextca_usage, run_getnextca};
