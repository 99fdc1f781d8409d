/* scep enroll: a new certificate (PKCSReq), polling while PENDING. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "enroll.h"
#include "files.h"
#include "keys.h"

static const char usage_text[] =
    "usage: scep enroll -u URL --ca DIR --key KEY --out CERT [options]\n\n"
    "Enrolls for a certificate: generates KEY if it does not exist, builds the request, picks\n"
    "cipher, digest and GET/POST from GetCACaps, sends a PKCSReq and, while the server answers\n"
    "PENDING, polls with CertPoll. An interrupted enrollment resumes with the same\n"
    "transactionID when run again (state in CERT.pending).\n\n"
    "      --ca DIR               the CA certificates saved by `scep getca`\n"
    "      --key KEY             the private key (PEM); generated when missing\n"
    "      --out CERT            where the certificate goes (PEM, or DER with --der)\n"
    "      --subject DN          \"CN=device,O=Example\" (default CN=<hostname>)\n"
    "      --san LIST            dns:NAME,ip:ADDR,email:ADDR,uri:URI\n"
    "      --challenge SECRET    the challenge password\n"
    "      --challenge-file F    read it from F (first line)\n"
    "      --key-type SPEC       for a new key: rsa:2048 (default), rsa:3072, rsa:4096, ec:P-256\n"
    "      --key-usage USE       sign, encrypt or both: the keyUsage requested\n"
    "      --poll-interval SEC   between polls (default 10)\n"
    "      --max-poll-time SEC   give up after (default 0: never); exit code 5\n" COMMON_USAGE;

typedef struct enroll_opts {
    common_opts c;
    const char *key, *out, *subject, *san, *challenge, *challenge_file, *key_type, *key_usage;
    int poll_interval, max_poll_time;
} enroll_opts;

static int parse(int argc, char **argv, enroll_opts *o)
{
    static const struct option longopts[] = {COMMON_LONGOPTS,
                                             {"key", required_argument, NULL, 'k'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"subject", required_argument, NULL, 's'},
                                             {"san", required_argument, NULL, 'a'},
                                             {"challenge", required_argument, NULL, 'c'},
                                             {"challenge-file", required_argument, NULL, 'C'},
                                             {"key-type", required_argument, NULL, 't'},
                                             {"key-usage", required_argument, NULL, 'U'},
                                             {"poll-interval", required_argument, NULL, 'p'},
                                             {"max-poll-time", required_argument, NULL, 'm'},
                                             {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    o->poll_interval = 10;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "u:vo:", longopts, NULL)) != -1) {
        int done = cli_common(&o->c, c, optarg);
        if (done < 0)
            return -1;
        if (done)
            continue;
        switch (c) {
        case 'k':
            o->key = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 's':
            o->subject = optarg;
            break;
        case 'a':
            o->san = optarg;
            break;
        case 'c':
            o->challenge = optarg;
            break;
        case 'C':
            o->challenge_file = optarg;
            break;
        case 't':
            o->key_type = optarg;
            break;
        case 'U':
            o->key_usage = optarg;
            break;
        case 'p':
            o->poll_interval = cli_seconds(optarg);
            break;
        case 'm':
            o->max_poll_time = cli_seconds(optarg);
            break;
        default:
            return -1;
        }
    }
    if (o->poll_interval < 1 || o->max_poll_time < 0)
        return -1;
    return optind == argc && o->key && o->out ? 0 : -1;
}

static int read_challenge(const enroll_opts *o, char *buf, size_t buflen)
{
    buf[0] = '\0';
    if (o->challenge != NULL)
        snprintf(buf, buflen, "%s", o->challenge);
    else if (o->challenge_file != NULL && keys_read_challenge(o->challenge_file, buf, buflen) != 0)
        return cli_fail("enroll", EXIT_USAGE, "cannot read a challenge from %s", o->challenge_file);
    return EXIT_OK;
}

static X509_NAME *subject_of(const enroll_opts *o)
{
    X509_NAME *name = NULL;
    char fallback[300] = "CN=device", host[256] = "device";
    if (o->subject == NULL) {
        gethostname(host, sizeof(host) - 1);
        snprintf(fallback, sizeof(fallback), "CN=%s", host);
    }
    if (scep_name_parse(o->subject ? o->subject : fallback, &name) != SCEP_OK)
        return NULL;
    return name;
}

static void print_issued(const char *path, X509 *cert)
{
    char subject[512], serial[80] = "";
    scep_name_text(X509_get_subject_name(cert), subject, sizeof(subject));
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex)
        snprintf(serial, sizeof(serial), "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);
    BIO_printf(out, "certificate saved to %s\n  subject %s\n  serial  %s\n  until   ", path,
               subject, serial);
    ASN1_TIME_print(out, X509_get0_notAfter(cert));
    BIO_printf(out, "\n");
    BIO_free(out);
}

/* Builds the request and the enrollment for a new key. */
static int prepare(session *s, const enroll_opts *o, const char *challenge, enrollment *e,
                   char *state_path, size_t state_len)
{
    char err[512];
    int generated = 0;
    int ku = keys_usage_mask(o->key_usage);
    X509_NAME *subject = subject_of(o);
    if (ku < 0 || subject == NULL) {
        X509_NAME_free(subject);
        return cli_fail("enroll", EXIT_USAGE,
                        ku < 0 ? "--key-usage is sign, encrypt or both"
                               : "cannot read the subject");
    }
    e->key = keys_load_or_generate(o->key, o->key_type, &generated, err, sizeof(err));
    scep_csr_params cp = {.subject = subject,
                          .san = o->san,
                          .challenge_password = challenge[0] ? challenge : NULL,
                          .key_usage = (unsigned)ku,
                          .digest = s->neg.digest};
    int rc = e->key ? EXIT_OK : cli_fail("enroll", EXIT_ERROR, "%s", err);
    if (rc == EXIT_OK && scep_csr_build(s->ctx, e->key, &cp, &e->csr) != SCEP_OK)
        rc = cli_fail("enroll", EXIT_USAGE, "cannot build the request (check --san)");
    snprintf(state_path, state_len, "%s.pending", o->out);
    e->type = SCEP_MSG_PKCS_REQ;
    e->signer_key = e->key;
    e->state_path = state_path;
    if (rc == EXIT_OK && !enrollment_resume(e) &&
        (scep_selfsigned_signer(s->ctx, e->key, subject, 7, s->neg.digest, &e->signer) != SCEP_OK ||
         scep_transaction_id(s->ctx, e->key, SCEP_DIGEST_SHA256, e->transaction_id,
                             sizeof(e->transaction_id)) != SCEP_OK))
        rc = cli_fail("enroll", EXIT_ERROR, "cannot make the signer certificate");
    if (rc == EXIT_OK && e->resumed)
        fprintf(stderr, "scep: resuming transaction %s\n", e->transaction_id);
    X509_NAME_free(subject);
    return rc;
}

static int run(int argc, char **argv)
{
    enroll_opts o;
    if (parse(argc, argv, &o) != 0)
        return cli_usage(&cmd_enroll);
    char challenge[256], state_path[4200], err[512];
    if (read_challenge(&o, challenge, sizeof(challenge)) != EXIT_OK)
        return EXIT_USAGE;
    session s;
    enrollment e = {.poll_interval = o.poll_interval,
                    .max_poll_time = o.max_poll_time,
                    .password = challenge[0] ? challenge : NULL};
    X509 *issued = NULL;
    int rc = cli_session("enroll", &o.c, &s, 1);
    if (rc == EXIT_OK)
        rc = prepare(&s, &o, challenge, &e, state_path, sizeof(state_path));
    if (rc == EXIT_OK && (rc = enrollment_run(&s, &e, &issued)) != EXIT_OK)
        cli_fail("enroll", rc, "%s", s.err);
    if (rc == EXIT_OK && files_write_cert(o.out, issued, o.c.der, err, sizeof(err)) != 0)
        rc = cli_fail("enroll", EXIT_ERROR, "%s", err);
    if (rc == EXIT_OK)
        print_issued(o.out, issued);
    X509_free(issued);
    X509_free(e.signer);
    X509_REQ_free(e.csr);
    EVP_PKEY_free(e.key);
    OPENSSL_cleanse(challenge, sizeof(challenge));
    session_close(&s);
    return rc;
}

const command cmd_enroll = {"enroll", "enroll for a new certificate", usage_text, run};
