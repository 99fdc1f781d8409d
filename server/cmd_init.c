/* scepd init: a new CA directory (or one around an existing CA), with an optional RA. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/x509v3.h>

#include "ca.h"
#include "ca_create.h"
#include "cli.h"
#include "scep/scep.h"

static const char usage_text[] =
    "usage: scepd init --dir DIR --subject DN [options]\n"
    "\n"
    "Creates a CA in DIR: ca.pem and ca.key (0600), scepd.conf, and the store scepd.db.\n"
    "Prints the CA certificate's SHA-256 fingerprint, which clients pin.\n"
    "\n"
    "  --dir DIR              the CA directory (created 0700 if missing)\n"
    "  --subject DN           CA subject, \"CN=Example CA,O=Example\" or \"/CN=Example "
    "CA/O=Example\"\n"
    "  --key SPEC             rsa:2048 (default), rsa:3072, rsa:4096, ec:P-256, ec:P-384\n"
    "  --days N               CA validity in days (default 3650)\n"
    "  --ra                   also create an RA (ra.pem, ra.key; RSA-2048, signed by the CA):\n"
    "                         clients encrypt to the RA and the RA signs replies\n"
    "  --ra-subject DN        RA subject (default: the CA's CN + \" RA\")\n"
    "  --import-ca CERT KEY   use an existing CA certificate and key instead of making one\n";

typedef struct init_opts {
    const char *dir, *subject, *key_spec, *ra_subject, *import_cert, *import_key;
    int days, ra;
} init_opts;

static int parse(int argc, char **argv, init_opts *o)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"subject", required_argument, NULL, 's'},
                                             {"key", required_argument, NULL, 'k'},
                                             {"days", required_argument, NULL, 'n'},
                                             {"ra", no_argument, NULL, 'r'},
                                             {"ra-subject", required_argument, NULL, 'R'},
                                             {"import-ca", required_argument, NULL, 'i'},
                                             {NULL, 0, NULL, 0}};
    *o = (init_opts){.key_spec = "rsa:2048", .days = 3650};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->dir = optarg;
            break;
        case 's':
            o->subject = optarg;
            break;
        case 'k':
            o->key_spec = optarg;
            break;
        case 'n':
            o->days = (int)strtol(optarg, NULL, 10);
            break;
        case 'r':
            o->ra = 1;
            break;
        case 'R':
            o->ra_subject = optarg;
            break;
        case 'i':
            o->import_cert = optarg;
            if (optind >= argc)
                return -1;
            o->import_key = argv[optind++];
            break;
        default:
            return -1;
        }
    }
    if (optind != argc || o->dir == NULL || o->days < 1 || o->days > 36500)
        return -1;
    return (o->subject == NULL) == (o->import_cert == NULL) ? -1 : 0;
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return 0;
    return cli_fail("init", "cannot create %s: %s", dir, strerror(errno));
}

/* The CA key and certificate: made, or imported and checked to belong together. */
static int make_ca(const init_opts *o, EVP_PKEY **key, X509 **cert)
{
    char err[512];
    if (o->import_cert != NULL) {
        *cert = ca_load_cert(o->import_cert, err, sizeof(err));
        *key = *cert ? ca_load_key(o->import_key, err, sizeof(err)) : NULL;
        if (*key == NULL)
            return cli_fail("init", "%s", err);
        if (EVP_PKEY_eq(X509_get0_pubkey(*cert), *key) != 1 || X509_check_ca(*cert) < 1)
            return cli_fail("init", "%s is not a CA certificate for the key %s", o->import_cert,
                            o->import_key);
        return 0;
    }
    X509_NAME *name = ca_parse_name(o->subject);
    if (name == NULL)
        return cli_fail("init", "cannot read the subject '%s'", o->subject);
    *key = ca_generate_key(o->key_spec);
    *cert = *key ? ca_create_root(*key, name, o->days) : NULL;
    X509_NAME_free(name);
    if (*key == NULL)
        return cli_fail("init", "unknown key type '%s'", o->key_spec);
    return *cert ? 0 : cli_fail("init", "cannot create the CA certificate");
}

static X509_NAME *ra_name(const init_opts *o, X509 *ca_cert)
{
    if (o->ra_subject != NULL)
        return ca_parse_name(o->ra_subject);
    char cn[256] = "SCEP";
    X509_NAME_get_text_by_NID(X509_get_subject_name(ca_cert), NID_commonName, cn, sizeof(cn));
    X509_NAME *name = X509_NAME_dup(X509_get_subject_name(ca_cert));
    int idx = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
    if (idx >= 0)
        X509_NAME_ENTRY_free(X509_NAME_delete_entry(name, idx));
    char ra_cn[300];
    snprintf(ra_cn, sizeof(ra_cn), "%s RA", cn);
    if (name != NULL)
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (unsigned char *)ra_cn, -1, -1, 0);
    return name;
}

static int make_ra(const init_opts *o, X509 *ca_cert, EVP_PKEY *ca_key, const char *dir)
{
    X509_NAME *name = ra_name(o, ca_cert);
    if (name == NULL)
        return cli_fail("init", "cannot read the RA subject");
    EVP_PKEY *key = ca_generate_key("rsa:2048");
    X509 *cert =
        key ? ca_create_ra(ca_cert, ca_key, key, name, o->days < 730 ? o->days : 730) : NULL;
    char path[CONFIG_PATH + 16], err[512];
    int rc = cert ? 0 : cli_fail("init", "cannot create the RA certificate");
    snprintf(path, sizeof(path), "%s/ra.key", dir);
    if (rc == 0 && ca_write_key(path, key, err, sizeof(err)) != 0)
        rc = cli_fail("init", "%s", err);
    snprintf(path, sizeof(path), "%s/ra.pem", dir);
    if (rc == 0 && ca_write_cert(path, cert, err, sizeof(err)) != 0)
        rc = cli_fail("init", "%s", err);
    X509_free(cert);
    EVP_PKEY_free(key);
    X509_NAME_free(name);
    return rc;
}

/* Records the CA certificate in the store: generations of the CA live there too. */
static int record_ca(const config *c, X509 *ca_cert)
{
    store *st = cli_open_store("init", c);
    if (st == NULL)
        return EXIT_FAIL;
    int rc = ca_record(st, ca_cert) == 0
                 ? 0
                 : cli_fail("init", "cannot record the CA: %s", st->ops->last_error(st));
    store_close(st);
    return rc;
}

static int write_all(const init_opts *o, EVP_PKEY *key, X509 *cert)
{
    char path[CONFIG_PATH + 16], err[512];
    snprintf(path, sizeof(path), "%s/ca.key", o->dir);
    if (ca_write_key(path, key, err, sizeof(err)) != 0)
        return cli_fail("init", "%s", err);
    snprintf(path, sizeof(path), "%s/ca.pem", o->dir);
    if (ca_write_cert(path, cert, err, sizeof(err)) != 0)
        return cli_fail("init", "%s", err);
    if (o->ra && make_ra(o, cert, key, o->dir) != 0)
        return EXIT_FAIL;
    config c;
    config_defaults(&c, o->dir);
    if (o->ra) {
        snprintf(c.ra_cert, sizeof(c.ra_cert), "ra.pem");
        snprintf(c.ra_key, sizeof(c.ra_key), "ra.key");
    }
    snprintf(path, sizeof(path), "%s/scepd.conf", o->dir);
    if (config_write(&c, path) != 0)
        return cli_fail("init", "cannot write %s: %s", path, strerror(errno));
    return record_ca(&c, cert);
}

static int run(int argc, char **argv)
{
    init_opts o;
    if (parse(argc, argv, &o) != 0)
        return cli_usage(&cmd_init);
    char conf[CONFIG_PATH + 16];
    snprintf(conf, sizeof(conf), "%s/scepd.conf", o.dir);
    struct stat sb;
    if (stat(conf, &sb) == 0)
        return cli_fail("init", "%s already holds a CA (%s exists)", o.dir, conf);
    if (make_dir(o.dir) != 0)
        return EXIT_FAIL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int rc = make_ca(&o, &key, &cert);
    if (rc == 0)
        rc = write_all(&o, key, cert);
    if (rc == 0) {
        char fp[200];
        if (scep_cert_fingerprint(cert, SCEP_DIGEST_SHA256, fp, sizeof(fp)) != SCEP_OK)
            fp[0] = '\0';
        char key_id[STORE_KEY_ID] = "";
        ca_key_id(X509_get_X509_PUBKEY(cert), key_id, sizeof(key_id));
        printf("created %s CA in %s\nCA SHA-256 fingerprint: %s\nCA key id (crl_url {ca}): %s\n",
               o.ra ? "an RA-mode" : "a", o.dir, fp, key_id);
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

const command cmd_init = {"init", "create a CA (and RA) directory", usage_text, run};
