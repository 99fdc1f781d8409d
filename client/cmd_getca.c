/* scep getcaps / getca: what the server offers, and its CA (and RA) certificates. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "files.h"

static const char getcaps_usage[] = "usage: scep getcaps -u URL [options]\n\n"
                                    "Prints the server's capabilities (GetCACaps), one per line,\n"
                                    "and what this client would choose from them.\n\n" COMMON_USAGE;

static const char getca_usage[] =
    "usage: scep getca -u URL -o DIR [--fingerprint HEX] [options]\n\n"
    "Fetches the CA certificate (and RA certificates) with GetCACert, prints each with its role\n"
    "and its SHA-256, SHA-1 and MD5 fingerprints, and saves them in DIR: certs.pem (all, as\n"
    "received; what the other commands read with --ca DIR), ca.pem, and ra.pem / ra-sign.pem\n"
    "when the server has an RA.\n\n"
    "  -o, --out DIR          where to save (created if missing)\n"
    "      --fingerprint HEX  refuse unless the issuing CA or a CA above it in the chain has\n"
    "                         this SHA-256 (or SHA-1) fingerprint\n"
    "      --der              also save ca.der\n" COMMON_USAGE;

static int parse_common(int argc, char **argv, common_opts *o, const char **out,
                        const char **fingerprint)
{
    static const struct option longopts[] = {COMMON_LONGOPTS,
                                             {"out", required_argument, NULL, 'o'},
                                             {"fingerprint", required_argument, NULL, 'f'},
                                             {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "u:vo:", longopts, NULL)) != -1) {
        int done = cli_common(o, c, optarg);
        if (done < 0)
            return -1;
        if (done)
            continue;
        if (c == 'o' && out)
            *out = optarg;
        else if (c == 'f' && fingerprint)
            *fingerprint = optarg;
        else
            return -1;
    }
    return optind == argc ? 0 : -1;
}

static int run_getcaps(int argc, char **argv)
{
    common_opts o = {0};
    if (parse_common(argc, argv, &o, NULL, NULL) != 0)
        return cli_usage(&cmd_getcaps);
    session s;
    int rc = cli_session("getcaps", &o, &s, 0);
    if (rc == EXIT_OK) {
        char *text = NULL;
        size_t len = 0;
        if (scep_caps_format(s.caps, &text, &len) == SCEP_OK)
            fwrite(text, 1, len, stdout);
        free(text);
        printf("# this client would use %s + %s over %s\n", scep_cipher_name(s.neg.cipher),
               scep_digest_name(s.neg.digest), s.neg.use_post ? "POST" : "GET");
    }
    session_close(&s);
    return rc;
}

static const char *role_of(const session *s, X509 *cert)
{
    if (cert == s->ca && cert == s->ra_enc)
        return "CA (issuing CA, also the encryption recipient)";
    if (cert == s->ca)
        return "CA (issuing CA)";
    if (cert == s->ra_enc && cert == s->ra_sign)
        return "RA (encryption and signing)";
    if (cert == s->ra_enc)
        return "RA encryption";
    if (cert == s->ra_sign)
        return "RA signing";
    return "chain (neither recipient nor signer)";
}

static void print_cert(const session *s, X509 *cert)
{
    char name[512];
    scep_name_text(X509_get_subject_name(cert), name, sizeof(name));
    printf("%s: %s\n", role_of(s, cert), name);
    static const struct {
        scep_digest d;
        const char *label;
    } fps[] = {
        {SCEP_DIGEST_SHA256, "SHA-256"}, {SCEP_DIGEST_SHA1, "SHA-1"}, {SCEP_DIGEST_MD5, "MD5"}};
    for (size_t i = 0; i < 3; i++) {
        char fp[200];
        if (scep_cert_fingerprint(cert, fps[i].d, fp, sizeof(fp)) == SCEP_OK)
            printf("  %-8s %s\n", fps[i].label, fp);
    }
}

static int save(const session *s, const char *dir, int der)
{
    char path[4096], err[512];
    if (files_make_dirs(dir, 0755, err, sizeof(err)) != 0)
        return cli_fail("getca", EXIT_ERROR, "%s", err);
    snprintf(path, sizeof(path), "%s/certs.pem", dir);
    int rc = files_write_certs(path, s->ca_certs, err, sizeof(err));
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    if (rc == 0)
        rc = files_write_cert(path, s->ca, 0, err, sizeof(err));
    snprintf(path, sizeof(path), "%s/ca.der", dir);
    if (rc == 0 && der)
        rc = files_write_cert(path, s->ca, 1, err, sizeof(err));
    snprintf(path, sizeof(path), "%s/ra.pem", dir);
    if (rc == 0 && s->ra_enc != s->ca)
        rc = files_write_cert(path, s->ra_enc, 0, err, sizeof(err));
    snprintf(path, sizeof(path), "%s/ra-sign.pem", dir);
    if (rc == 0 && s->ra_sign != s->ra_enc)
        rc = files_write_cert(path, s->ra_sign, 0, err, sizeof(err));
    return rc == 0 ? EXIT_OK : cli_fail("getca", EXIT_ERROR, "%s", err);
}

static int run_getca(int argc, char **argv)
{
    common_opts o = {0};
    const char *out = NULL, *fingerprint = NULL;
    if (parse_common(argc, argv, &o, &out, &fingerprint) != 0 || out == NULL)
        return cli_usage(&cmd_getca);
    session s;
    int rc = cli_session("getca", &o, &s, 0);
    if (rc == EXIT_OK && (rc = session_fetch_ca(&s, fingerprint)) != EXIT_OK)
        cli_fail("getca", rc, "%s", s.err);
    for (int i = 0; rc == EXIT_OK && i < sk_X509_num(s.ca_certs); i++)
        print_cert(&s, sk_X509_value(s.ca_certs, i));
    if (rc == EXIT_OK)
        rc = save(&s, out, o.der);
    session_close(&s);
    return rc;
}

const command cmd_getcaps = {"getcaps", "print the server's capabilities", getcaps_usage,
                             run_getcaps};
const command cmd_getca = {"getca", "fetch and pin the CA (and RA) certificates", getca_usage,
                           run_getca};
