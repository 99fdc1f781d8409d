/* scep renew: a new certificate signed for with the current one (RenewalReq when the server
 * offers Renewal, else a PKCSReq signed by the current certificate, as Cisco and sscep do). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "enroll.h"
#include "files.h"
#include "keys.h"
#include "renewal.h"

static const char usage_text[] =
    "usage: scep renew -u URL --ca DIR --cert CERT --key KEY [--new-key NEWKEY] [options]\n\n"
    "Renews CERT: the request is signed with CERT and KEY; the new certificate keeps CERT's\n"
    "subject and subjectAltName. With --new-key (generated when missing) the new certificate\n"
    "is for that key, as RFC 8894 recommends; otherwise for KEY.\n\n"
    "      --ca DIR              the CA certificates saved by `scep getca`\n"
    "      --cert CERT           the certificate to renew\n"
    "      --key KEY             its private key\n"
    "      --new-key NEWKEY      the new key (generated when missing)\n"
    "      --key-type SPEC       for a new key: rsa:2048 (default), rsa:3072, rsa:4096, ec:P-256\n"
    "      --out FILE            where the new certificate goes (default: over CERT)\n"
    "      --challenge SECRET    a challenge, if the server wants one for renewals\n"
    "      --poll-interval SEC   between polls (default 10)\n"
    "      --max-poll-time SEC   give up after (default 0: never)\n" COMMON_USAGE;

typedef struct renew_opts {
    common_opts c;
    const char *cert, *key, *new_key, *key_type, *out, *challenge;
    int poll_interval, max_poll_time;
} renew_opts;

static int parse(int argc, char **argv, renew_opts *o)
{
    static const struct option longopts[] = {COMMON_LONGOPTS,
                                             {"cert", required_argument, NULL, 'c'},
                                             {"key", required_argument, NULL, 'k'},
                                             {"new-key", required_argument, NULL, 'n'},
                                             {"key-type", required_argument, NULL, 't'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"challenge", required_argument, NULL, 'C'},
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
        case 'c':
            o->cert = optarg;
            break;
        case 'k':
            o->key = optarg;
            break;
        case 'n':
            o->new_key = optarg;
            break;
        case 't':
            o->key_type = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'C':
            o->challenge = optarg;
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
    if (o->out == NULL)
        o->out = o->cert;
    return optind == argc && o->cert && o->key && o->poll_interval >= 1 && o->max_poll_time >= 0
               ? 0
               : -1;
}

static int prepare(session *s, const renew_opts *o, enrollment *e, X509 **old, EVP_PKEY **old_key)
{
    char err[512];
    *old = files_read_cert(o->cert, err, sizeof(err));
    *old_key = *old ? files_read_key(o->key, err, sizeof(err)) : NULL;
    if (*old_key == NULL)
        return cli_fail("renew", EXIT_USAGE, "%s", err);
    if (EVP_PKEY_eq(X509_get0_pubkey(*old), *old_key) != 1)
        return cli_fail("renew", EXIT_USAGE, "%s is not the key of %s", o->key, o->cert);
    int generated = 0;
    e->key = o->new_key
                 ? keys_load_or_generate(o->new_key, o->key_type, &generated, err, sizeof(err))
                 : *old_key;
    if (e->key == NULL)
        return cli_fail("renew", EXIT_ERROR, "%s", err);
    if (e->key == *old_key)
        EVP_PKEY_up_ref(e->key);
    int rc = renewal_prepare(s, e, *old, *old_key, o->challenge);
    if (rc != EXIT_OK)
        return cli_fail("renew", rc, "%s", s->err);
    return EXIT_OK;
}

static int run(int argc, char **argv)
{
    renew_opts o;
    if (parse(argc, argv, &o) != 0)
        return cli_usage(&cmd_renew);
    session s;
    enrollment e = {.poll_interval = o.poll_interval,
                    .max_poll_time = o.max_poll_time,
                    .password = o.challenge};
    X509 *old = NULL, *issued = NULL;
    EVP_PKEY *old_key = NULL;
    char err[512];
    int rc = cli_session("renew", &o.c, &s, 1);
    if (rc == EXIT_OK)
        rc = prepare(&s, &o, &e, &old, &old_key);
    if (rc == EXIT_OK && (rc = enrollment_run(&s, &e, &issued)) != EXIT_OK)
        cli_fail("renew", rc, "%s", s.err);
    if (rc == EXIT_OK && files_write_cert(o.out, issued, o.c.der, err, sizeof(err)) != 0)
        rc = cli_fail("renew", EXIT_ERROR, "%s", err);
    if (rc == EXIT_OK)
        printf("renewed certificate saved to %s\n", o.out);
    X509_free(issued);
    X509_free(old);
    EVP_PKEY_free(old_key);
    EVP_PKEY_free(e.key);
    X509_REQ_free(e.csr);
    session_close(&s);
    return rc;
}

const command cmd_renew = {"renew", "renew a certificate", usage_text, run};
