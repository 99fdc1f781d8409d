/* scepd init: a new CA directory (or one around an existing CA), with an optional RA. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/ca_create.h"
#include "ca/ca_health.h"
#include "admin/cli.h"
#include "ca/ca_generations.h"
#include "keys/keys.h"
#include "os/file_atomic.h"
#include "scep/scep.h"

static const char usage_text[] =
    "usage: scepd init --dir DIR --subject DN [options]\n"
    "\n"
    "Creates a CA in DIR: ca.pem and ca.key (0600), scepd.conf, and the store scepd.db.\n"
    "Prints the CA certificate's SHA-256 fingerprint, which clients pin.\n"
    "\n"
    "  --dir DIR              the CA directory (created 0700 if missing)\n"
    "  --subject DN           CA subject, \"CN=Example CA,O=Example\" (RFC 4514) or\n"
    "                         \"/O=Example/CN=Example CA\" (DER order)\n"
    "  --key SPEC             rsa:2048 (default), rsa:3072, rsa:4096, ec:P-256, ec:P-384\n"
    "  --days N               CA validity in days (default 3650)\n"
    "  --ra                   also create an RA (ra.pem, ra.key; RSA-2048, signed by the CA):\n"
    "                         clients encrypt to the RA and the RA signs replies\n"
    "  --ra-sign SPEC         with --ra, also an RA signing certificate (ra-sign.pem,\n"
    "                         ra-sign.key; keyUsage digitalSignature) of key SPEC: ec:P-256,\n"
    "                         ec:P-384, rsa:2048...; scepd.conf gets reply_signer = by-request\n"
    "                         (it signs CertReps to requests signed with EC)\n"
    "  --ra-subject DN        RA subject (default: the CA's CN + \" RA\"; the signing\n"
    "                         certificate's CN gets \" signing\" added)\n"
    "  --ra-days N            RA validity in days (default 730, never past the CA's end;\n"
    "                         `scepd ra-renew` makes the next one)\n"
    "  --import-ca CERT KEY   use an existing CA certificate and key instead of making one.\n"
    "                         CERT may hold the chain above the CA (CA first, each next one\n"
    "                         its issuer): kept in chain.pem and sent with the CA. A CA that\n"
    "                         is expired or not yet valid is refused\n"
    "  --key-pass-file FILE   the CA key's passphrase (FILE's first line; mode 0600): reads\n"
    "                         an encrypted KEY, and writes ca.key encrypted with it (AES-256);\n"
    "                         scepd.conf names FILE as ca_key_pass_file\n"
    "  --store URI            the store instead of DIR/scepd.db, written to scepd.conf:\n"
    "                         sqlite:PATH, or postgresql://USER@HOST/DB?passfile=FILE\n"
    "                         (an empty database; its schema is created here)\n"
    "  --key-uri URI          make the CA key (and with --ra the RA key) in a PKCS#11 token:\n"
    "                         URI is pkcs11:token=LABEL;object=NAME (RFC 7512). DIR keeps\n"
    "                         references to the token's keys, never a private key. Also\n"
    "                         --import-ca CERT URI, for a key already in the token\n"
    "  --pkcs11-module FILE   the token's PKCS#11 module (scepd.conf: pkcs11_module)\n"
    "  --pkcs11-pin-file FILE the token's user PIN (mode 0600; scepd.conf: pkcs11_pin_file)\n";

typedef struct init_opts {
    const char *dir, *subject, *key_spec, *ra_subject, *import_cert, *import_key, *pass_file;
    const char *key_uri, *module, *pin_file;
    const char *ra_sign;   /* --ra-sign SPEC, or NULL */
    const char *token_uri; /* the CA key's pkcs11: URI (--key-uri, or --import-ca's KEY) */
    int days, ra, ra_days;
} init_opts;

/* The token's options: together, and never with a key file's passphrase. */
static int token_options(init_opts *o)
{
    if (o->key_uri != NULL && strncmp(o->key_uri, "pkcs11:", 7) != 0)
        return cli_bad_value("init", "--key-uri", o->key_uri, "a pkcs11: URI");
    if (o->key_uri != NULL && o->import_cert != NULL)
        return cli_misuse("init", "--key-uri makes a key: with --import-ca, give the URI as KEY");
    o->token_uri = o->key_uri                                                   ? o->key_uri
                   : o->import_key && strncmp(o->import_key, "pkcs11:", 7) == 0 ? o->import_key
                                                                                : NULL;
    if (o->token_uri == NULL && (o->module != NULL || o->pin_file != NULL))
        return cli_misuse("init", "--pkcs11-module and --pkcs11-pin-file go with a pkcs11: key");
    if (o->token_uri != NULL && o->pass_file != NULL)
        return cli_misuse("init", "--key-pass-file is for key files: a token's PIN comes from "
                                  "--pkcs11-pin-file");
    return 0;
}

static int check_options(init_opts *o, int ra_days_given);

static int parse(int argc, char **argv, init_opts *o)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"subject", required_argument, NULL, 's'},
                                             {"key", required_argument, NULL, 'k'},
                                             {"days", required_argument, NULL, 'n'},
                                             {"ra", no_argument, NULL, 'r'},
                                             {"ra-subject", required_argument, NULL, 'R'},
                                             {"ra-sign", required_argument, NULL, 'S'},
                                             {"import-ca", required_argument, NULL, 'i'},
                                             {"ra-days", required_argument, NULL, 'D'},
                                             {"key-pass-file", required_argument, NULL, 'p'},
                                             {"key-uri", required_argument, NULL, 'u'},
                                             {"pkcs11-module", required_argument, NULL, 'm'},
                                             {"pkcs11-pin-file", required_argument, NULL, 'P'},
                                             {NULL, 0, NULL, 0}};
    *o = (init_opts){.key_spec = "rsa:2048", .days = 3650, .ra_days = 730};
    int ra_days_given = 0;
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
        case 'n': {
            long days = 0;
            if (config_parse_long(optarg, 1, 36500, &days) != 0)
                return cli_bad_value("init", "--days", optarg, "a whole number from 1 to 36500");
            o->days = (int)days;
            break;
        }
        case 'r':
            o->ra = 1;
            break;
        case 'R':
            o->ra_subject = optarg;
            break;
        case 'S':
            o->ra_sign = optarg;
            break;
        case 'D': {
            long days = 0;
            if (config_parse_long(optarg, 1, 36500, &days) != 0)
                return cli_bad_value("init", "--ra-days", optarg, "a whole number from 1 to 36500");
            o->ra_days = (int)days;
            ra_days_given = 1;
            break;
        }
        case 'p':
            o->pass_file = optarg;
            break;
        case 'u':
        case 'm':
        case 'P':
            *(c == 'u' ? &o->key_uri : c == 'm' ? &o->module : &o->pin_file) = optarg;
            break;
        case 'i':
            o->import_cert = optarg;
            if (optind >= argc)
                return cli_misuse("init", "--import-ca needs CERT and KEY");
            o->import_key = argv[optind++];
            break;
        default:
            return cli_usage(&cmd_init);
        }
    }
    if (optind != argc)
        return cli_misuse("init", "unexpected argument '%s'", argv[optind]);
    return check_options(o, ra_days_given);
}

static int known_spec(const char *spec)
{
    static const char *const specs[] = {"rsa:2048", "rsa:3072", "rsa:4096", "ec:P-256", "ec:P-384"};
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
        if (strcmp(spec, specs[i]) == 0)
            return 1;
    return 0;
}

/* The options that go together, after parsing. */
static int check_options(init_opts *o, int ra_days_given)
{
    if (o->dir == NULL)
        return cli_misuse("init", "--dir DIR is required");
    if ((o->subject == NULL) == (o->import_cert == NULL))
        return cli_misuse("init", "give either --subject DN or --import-ca CERT KEY");
    if (ra_days_given && !o->ra)
        return cli_misuse("init", "--ra-days goes with --ra");
    if (o->ra_sign != NULL && !o->ra)
        return cli_misuse("init", "--ra-sign goes with --ra");
    if (o->ra_sign != NULL && !known_spec(o->ra_sign)) /* before anything is written */
        return cli_bad_value("init", "--ra-sign", o->ra_sign,
                             "rsa:2048, rsa:3072, rsa:4096, ec:P-256 or ec:P-384");
    return token_options(o);
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0) {
        file_sync_dir(dir); /* its name in the parent lasts through a crash */
        return 0;
    }
    if (errno != EEXIST)
        return cli_fail("init", "cannot create %s: %s", dir, strerror(errno));
    /* An existing directory may be open to others (0777): the CA's is its owner's alone. */
    if (chmod(dir, 0700) != 0)
        return cli_fail("init", "cannot make %s private (chmod 700): %s", dir, strerror(errno));
    return 0;
}

/* An imported CA must be valid now, and so must each certificate above it; one that ends
 * within the default validity is taken with a warning: its certificates are cut short. */
static int check_import_dates(const init_opts *o, STACK_OF(X509) * chain)
{
    int64_t now = (int64_t)time(NULL);
    char why[400], what[300];
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *cert = sk_X509_value(chain, i);
        ca_cert_what(chain, i, what, sizeof(what));
        if (ca_cert_not_valid(cert, what, now, why, sizeof(why)) != 0)
            return cli_fail("init", "cannot import %s: %s", o->import_cert, why);
    }
    config defaults;
    config_defaults(&defaults, NULL);
    int64_t until = ca_unix_time(X509_get0_notAfter(sk_X509_value(chain, 0)));
    if (until - now < (int64_t)defaults.validity_days * 86400) {
        char when[32];
        ca_time_text(until, when, sizeof(when));
        fprintf(stderr,
                "scepd init: warning: the CA certificate expires at %s, within the default "
                "certificate validity (%d days): certificates it issues end with it\n",
                when, defaults.validity_days);
    }
    return 0;
}

/* The imported CA (with the chain above it) and its key, checked to belong together. */
static int import_ca(const init_opts *o, const char *pass, EVP_PKEY **key, STACK_OF(X509) * *chain)
{
    char err[512];
    *chain = ca_load_certs(o->import_cert, err, sizeof(err));
    *key = *chain ? ca_load_key_pass(o->import_key, pass, err, sizeof(err)) : NULL;
    if (*key == NULL)
        return cli_fail("init", "%s", err);
    X509 *cert = sk_X509_value(*chain, 0);
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), *key) != 1 || X509_check_ca(cert) < 1)
        return cli_fail("init", "%s is not a CA certificate for the key %s", o->import_cert,
                        o->import_key);
    if (ca_check_chain(*chain, err, sizeof(err)) != 0)
        return cli_fail("init", "%s: %s", o->import_cert, err);
    return check_import_dates(o, *chain);
}

/* A new key of spec in the token of the key at uri: the key uri names (where NULL), or one
 * referenced from the file where. */
static EVP_PKEY *token_key(const char *uri, const char *spec, const char *where, char *err,
                           size_t errlen)
{
    keystore *ks = keys_open(uri, err, errlen);
    private_key *k = ks ? ks->generate(ks, spec, where, NULL, err, errlen) : NULL;
    EVP_PKEY *pkey = k ? k->ops->pkey(k) : NULL;
    if (pkey != NULL)
        EVP_PKEY_up_ref(pkey);
    if (k != NULL)
        k->ops->destroy(k);
    if (ks != NULL)
        ks->destroy(ks);
    return pkey;
}

/* The CA key and certificate (first of chain): made, or imported. */
static int make_ca(const init_opts *o, const char *pass, EVP_PKEY **key, STACK_OF(X509) * *chain)
{
    if (o->import_cert != NULL)
        return import_ca(o, pass, key, chain);
    X509_NAME *name = ca_parse_name(o->subject);
    if (name == NULL)
        return cli_fail("init", "cannot read the subject '%s'", o->subject);
    char err[600];
    *key = o->key_uri ? token_key(o->key_uri, o->key_spec, NULL, err, sizeof(err))
                      : keys_new_pkey(o->key_spec);
    X509 *cert = *key ? ca_create_root(*key, name, o->days) : NULL;
    X509_NAME_free(name);
    if (*key == NULL && o->key_uri != NULL)
        return cli_fail("init", "%s", err);
    if (*key == NULL)
        return cli_fail("init", "unknown key type '%s'", o->key_spec);
    if (cert == NULL)
        return cli_fail("init", "cannot create the CA certificate");
    *chain = sk_X509_new_null();
    if (*chain == NULL || !sk_X509_push(*chain, cert)) {
        X509_free(cert);
        return cli_fail("init", "out of memory");
    }
    return 0;
}

/* The RA's subject: --ra-subject, or the CA's with CN + " RA"; cn_suffix added to its CN. */
static X509_NAME *ra_name(const init_opts *o, X509 *ca_cert, const char *cn_suffix)
{
    X509_NAME *given = o->ra_subject ? ca_parse_name(o->ra_subject) : NULL;
    if (o->ra_subject != NULL && (given == NULL || cn_suffix[0] == '\0'))
        return given;
    const X509_NAME *base = given ? given : X509_get_subject_name(ca_cert);
    char cn[256] = "SCEP";
    X509_NAME_get_text_by_NID(base, NID_commonName, cn, sizeof(cn));
    X509_NAME *name = X509_NAME_dup(base);
    X509_NAME_free(given);
    int idx = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
    if (idx >= 0)
        X509_NAME_ENTRY_free(X509_NAME_delete_entry(name, idx));
    char ra_cn[300];
    snprintf(ra_cn, sizeof(ra_cn), "%s%s%s", cn, o->ra_subject ? "" : " RA", cn_suffix);
    if (name != NULL)
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (unsigned char *)ra_cn, -1, -1, 0);
    return name;
}

/* One RA certificate: DIR/BASE.key and DIR/BASE.pem, its key of spec; signing: the RA signing
 * certificate (digitalSignature only), else the RA (also keyEncipherment). */
static int make_ra_cert(const init_opts *o, X509 *ca_cert, EVP_PKEY *ca_key, const char *base,
                        const char *spec, int signing)
{
    X509_NAME *name = ra_name(o, ca_cert, signing ? " signing" : "");
    if (name == NULL)
        return cli_fail("init", "cannot read the RA subject");
    char path[CONFIG_PATH + 16], ca_ref[CONFIG_PATH + 16], err[600] = "";
    snprintf(path, sizeof(path), "%s/%s.key", o->dir, base);
    snprintf(ca_ref, sizeof(ca_ref), "%s/ca.key", o->dir);
    /* In a token, beside the CA key (ra.key refers to it, as ca.key to the CA's). */
    EVP_PKEY *key =
        o->token_uri ? token_key(ca_ref, spec, path, err, sizeof(err)) : keys_new_pkey(spec);
    if (key == NULL && err[0] == '\0')
        snprintf(err, sizeof(err), "unknown key type '%s'", spec);
    X509 *cert = !key      ? NULL
                 : signing ? ca_create_ra_sign(ca_cert, ca_key, key, name, o->ra_days)
                           : ca_create_ra(ca_cert, ca_key, key, name, o->ra_days);
    int rc = cert ? 0 : cli_fail("init", "%s", err[0] ? err : "cannot create the RA certificate");
    if (rc == 0 && !o->token_uri && ca_write_key(path, key, err, sizeof(err)) != 0)
        rc = cli_fail("init", "%s", err);
    snprintf(path, sizeof(path), "%s/%s.pem", o->dir, base);
    if (rc == 0 && ca_write_cert(path, cert, err, sizeof(err)) != 0)
        rc = cli_fail("init", "%s", err);
    X509_free(cert);
    EVP_PKEY_free(key);
    X509_NAME_free(name);
    return rc;
}

/* The RA (RSA-2048: clients encrypt to it) and, with --ra-sign, the RA signing certificate. */
static int make_ra(const init_opts *o, X509 *ca_cert, EVP_PKEY *ca_key, config *c)
{
    if (make_ra_cert(o, ca_cert, ca_key, "ra", "rsa:2048", 0) != 0)
        return EXIT_FAIL;
    snprintf(c->ra_cert, sizeof(c->ra_cert), "ra.pem");
    snprintf(c->ra_key, sizeof(c->ra_key), "ra.key");
    if (o->ra_sign == NULL)
        return 0;
    if (make_ra_cert(o, ca_cert, ca_key, "ra-sign", o->ra_sign, 1) != 0)
        return EXIT_FAIL;
    snprintf(c->ra_sign_cert, sizeof(c->ra_sign_cert), "ra-sign.pem");
    snprintf(c->ra_sign_key, sizeof(c->ra_sign_key), "ra-sign.key");
    c->reply_signer = REPLY_SIGNER_BY_REQUEST;
    return 0;
}

/* Records the CA certificate in the store: generations of the CA live there too. */
static int record_ca(const config *c, X509 *ca_cert)
{
    store *st = cli_create_store("init", c);
    if (st == NULL)
        return EXIT_FAIL;
    char err[512];
    int rc = ca_record(st, ca_cert) == 0
                 ? 0
                 : cli_fail("init", "cannot record the CA: %s", st->ops->last_error(st));
    if (rc == 0 && ca_generations_record(c, st, err, sizeof(err)) != 0)
        rc = cli_fail("init", "%s", err);
    store_close(st);
    return rc;
}

/* The reference to the token's key at uri (which must be key), kept at path. 0, or -1. */
static int save_token_ref(const char *uri, EVP_PKEY *key, const char *path, char *err,
                          size_t errlen)
{
    keystore *ks = keys_open(uri, err, errlen);
    int rc = ks ? ks->save(ks, key, path, NULL, err, errlen) : -1;
    if (ks != NULL)
        ks->destroy(ks);
    return rc;
}

/* ca.key (encrypted with pass when set; a reference for a token key), ca.pem, and chain.pem
 * when the CA has a chain. */
static int write_ca(const init_opts *o, EVP_PKEY *key, STACK_OF(X509) * chain, const char *pass,
                    config *c)
{
    char path[CONFIG_PATH + 16], err[512];
    snprintf(path, sizeof(path), "%s/ca.key", o->dir);
    if (o->token_uri ? save_token_ref(o->token_uri, key, path, err, sizeof(err))
                     : ca_write_key_pass(path, key, pass[0] ? pass : NULL, err, sizeof(err)) != 0)
        return cli_fail("init", "%s", err);
    snprintf(path, sizeof(path), "%s/ca.pem", o->dir);
    if (ca_write_cert(path, sk_X509_value(chain, 0), err, sizeof(err)) != 0)
        return cli_fail("init", "%s", err);
    if (sk_X509_num(chain) < 2)
        return 0;
    snprintf(path, sizeof(path), "%s/%s", o->dir, CA_CHAIN_FILE);
    if (ca_write_certs(path, chain, 1, err, sizeof(err)) != 0)
        return cli_fail("init", "%s", err);
    snprintf(c->ca_chain, sizeof(c->ca_chain), "%s", CA_CHAIN_FILE);
    return 0;
}

/* Paths in scepd.conf are relative to DIR; one given on the command line is relative to here. */
static int absolute(const char *path, char *out, size_t outlen)
{
    char cwd[PATH_MAX];
    int n = path[0] == '/'                     ? snprintf(out, outlen, "%s", path)
            : getcwd(cwd, sizeof(cwd)) != NULL ? snprintf(out, outlen, "%s/%s", cwd, path)
                                               : -1;
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

static int write_all(const init_opts *o, EVP_PKEY *key, STACK_OF(X509) * chain, const char *pass)
{
    X509 *cert = sk_X509_value(chain, 0);
    config c;
    config_defaults(&c, o->dir);
    if (write_ca(o, key, chain, pass, &c) != 0)
        return EXIT_FAIL;
    if (o->ra && make_ra(o, cert, key, &c) != 0)
        return EXIT_FAIL;
    if (o->pass_file != NULL &&
        absolute(o->pass_file, c.ca_key_pass_file, sizeof(c.ca_key_pass_file)) != 0)
        return cli_fail("init", "%s: path too long", o->pass_file);
    if (o->pin_file != NULL &&
        absolute(o->pin_file, c.pkcs11_pin_file, sizeof(c.pkcs11_pin_file)) != 0)
        return cli_fail("init", "%s: path too long", o->pin_file);
    if (o->module != NULL)
        snprintf(c.pkcs11_module, sizeof(c.pkcs11_module), "%s", o->module);
    char path[CONFIG_PATH + 16], err[512];
    if (cli_apply_store_flag(&c, err, sizeof(err)) != 0)
        return cli_fail("init", "%s", err);
    snprintf(path, sizeof(path), "%s/scepd.conf", o->dir);
    if (config_write(&c, path) != 0)
        return cli_fail("init", "cannot write %s: %s", path, strerror(errno));
    return record_ca(&c, cert);
}

static void print_created(const init_opts *o, X509 *cert)
{
    char fp[200];
    if (scep_cert_fingerprint(cert, SCEP_DIGEST_SHA256, fp, sizeof(fp)) != SCEP_OK)
        fp[0] = '\0';
    char key_id[STORE_KEY_ID] = "";
    ca_key_id(X509_get_X509_PUBKEY(cert), key_id, sizeof(key_id));
    printf("created %s CA in %s\nCA SHA-256 fingerprint: %s\nCA key id (crl_url {ca}): %s\n",
           o->ra ? "an RA-mode" : "a", o->dir, fp, key_id);
}

static int run(int argc, char **argv)
{
    init_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc;
    char conf[CONFIG_PATH + 16], pass[CA_PASS_MAX] = "", err[512];
    snprintf(conf, sizeof(conf), "%s/scepd.conf", o.dir);
    struct stat sb;
    if (stat(conf, &sb) == 0)
        return cli_fail("init", "%s already holds a CA (%s exists)", o.dir, conf);
    if (o.pass_file != NULL &&
        ca_read_pass_file(o.pass_file, pass, sizeof(pass), err, sizeof(err)) != 0)
        return cli_fail("init", "%s", err);
    char pin_file[CONFIG_PATH] = "";
    if (o.pin_file != NULL && absolute(o.pin_file, pin_file, sizeof(pin_file)) != 0)
        return cli_fail("init", "%s: path too long", o.pin_file);
    keys_pkcs11_settings(o.module, pin_file);
    EVP_PKEY *key = NULL;
    STACK_OF(X509) *chain = NULL;
    /* The CA first: a refused import leaves no directory behind. */
    rc = make_ca(&o, pass, &key, &chain);
    if (rc == 0)
        rc = make_dir(o.dir) != 0 ? EXIT_FAIL : write_all(&o, key, chain, pass);
    if (rc == 0)
        print_created(&o, sk_X509_value(chain, 0));
    OPENSSL_cleanse(pass, sizeof(pass));
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    return rc;
}

const command cmd_init = {"init", "create a CA (and RA) directory", usage_text, run};
