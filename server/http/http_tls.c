/* The HTTPS listener's files. OpenSSL reads and checks them, so that a bad file is refused
 * with a message naming it; GnuTLS (inside libmicrohttpd) gets them re-encoded as plain PEM. */
#include "http/http_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* A certificate chain or key file larger than this is not one. */
#define TLS_FILE_MAX (1024 * 1024)

/* No passphrase prompt on the terminal: an encrypted key is refused instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static BIO *open_file(const char *setting, const char *path, char *err, size_t errlen)
{
    struct stat sb;
    const char *why = stat(path, &sb) != 0        ? strerror(errno)
                      : !S_ISREG(sb.st_mode)      ? "not a regular file"
                      : sb.st_size > TLS_FILE_MAX ? "larger than 1 MiB"
                                                  : NULL;
    BIO *b = why == NULL ? BIO_new_file(path, "r") : NULL;
    if (b == NULL)
        snprintf(err, errlen, "%s %s: %s", setting, path, why ? why : strerror(errno));
    return b;
}

/* BIO's contents as a string; NULL when out of memory. */
static char *bio_text(BIO *b, size_t *len)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *text = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (text == NULL)
        return NULL;
    memcpy(text, data, (size_t)n);
    text[n] = '\0';
    if (len != NULL)
        *len = (size_t)n;
    return text;
}

/* The certificates of setting's file re-encoded into *text; *leaf (when not NULL) keeps the
 * first certificate. */
static int read_chain(const char *setting, const char *path, char **text, X509 **leaf, char *err,
                      size_t errlen)
{
    BIO *in = open_file(setting, path, err, errlen), *pem = BIO_new(BIO_s_mem());
    X509 *x;
    int n = 0;
    while (in != NULL && pem != NULL && (x = PEM_read_bio_X509(in, NULL, no_passphrase, NULL))) {
        PEM_write_bio_X509(pem, x);
        if (n++ == 0 && leaf != NULL)
            *leaf = x;
        else
            X509_free(x);
    }
    ERR_clear_error(); /* the end of the file */
    if (in != NULL && n == 0)
        snprintf(err, errlen, "%s %s: no PEM certificate in it", setting, path);
    if (n > 0 && (*text = bio_text(pem, NULL)) == NULL)
        snprintf(err, errlen, "out of memory");
    BIO_free(in);
    BIO_free(pem);
    return *text != NULL ? 0 : -1;
}

static int read_key(const char *setting, const char *path, http_tls_pem *out, EVP_PKEY **key,
                    char *err, size_t errlen)
{
    /* Secure memory: its buffer is wiped when freed. */
    BIO *in = open_file(setting, path, err, errlen), *pem = BIO_new(BIO_s_secmem());
    if (in != NULL && pem != NULL) {
        *key = PEM_read_bio_PrivateKey(in, NULL, no_passphrase, NULL);
        ERR_clear_error();
        if (*key == NULL)
            snprintf(err, errlen, "%s %s: no unencrypted PEM private key in it", setting, path);
        else if (PEM_write_bio_PrivateKey(pem, *key, NULL, NULL, 0, NULL, NULL) != 1 ||
                 (out->key = bio_text(pem, &out->key_len)) == NULL)
            snprintf(err, errlen, "out of memory");
    }
    BIO_free(in);
    BIO_free(pem);
    return out->key != NULL ? 0 : -1;
}

static void serial_text(X509 *leaf, char *out, size_t len)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    snprintf(out, len, "%s", hex != NULL ? hex : "?");
    OPENSSL_free(hex);
    BN_free(bn);
}

/* The certificate and key belong together, and the certificate is valid now. */
static int check_pair(const http_tls_files *f, X509 *leaf, EVP_PKEY *key, char *err, size_t errlen)
{
    if (X509_check_private_key(leaf, key) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "%s %s does not match the certificate in %s %s", f->key_setting,
                 f->key, f->cert_setting, f->cert);
        return -1;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0 ||
        X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0) {
        snprintf(err, errlen, "%s %s: the certificate is not valid now (expired or not yet valid)",
                 f->cert_setting, f->cert);
        return -1;
    }
    return 0;
}

int http_tls_read(const config *c, http_tls_pem *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (c->tls_cert[0] == '\0' || c->tls_key[0] == '\0') {
        snprintf(err, errlen, "listen_tls %s needs tls_cert and tls_key", c->listen_tls);
        return -1;
    }
    http_tls_files f = {"tls_cert", c->tls_cert, "tls_key", c->tls_key};
    return http_tls_read_files(c, &f, out, err, errlen);
}

int http_tls_read_certs(const config *c, const char *setting, const char *name, char **pem,
                        char *err, size_t errlen)
{
    char path[CONFIG_PATH * 2];
    *pem = NULL;
    config_path(c, name, path, sizeof(path));
    return read_chain(setting, path, pem, NULL, err, errlen);
}

int http_tls_read_files(const config *c, const http_tls_files *f, http_tls_pem *out, char *err,
                        size_t errlen)
{
    char cert_path[CONFIG_PATH * 2], key_path[CONFIG_PATH * 2];
    X509 *leaf = NULL;
    EVP_PKEY *key = NULL;
    memset(out, 0, sizeof(*out));
    config_path(c, f->cert, cert_path, sizeof(cert_path));
    config_path(c, f->key, key_path, sizeof(key_path));
    int rc = read_chain(f->cert_setting, cert_path, &out->cert, &leaf, err, errlen) == 0 &&
                     read_key(f->key_setting, key_path, out, &key, err, errlen) == 0 &&
                     check_pair(f, leaf, key, err, errlen) == 0
                 ? 0
                 : -1;
    if (rc == 0)
        serial_text(leaf, out->serial, sizeof(out->serial));
    else
        http_tls_clear(out);
    X509_free(leaf);
    EVP_PKEY_free(key);
    return rc;
}

int http_tls_copy(http_tls_pem *to, const http_tls_pem *from)
{
    memset(to, 0, sizeof(*to));
    to->cert = strdup(from->cert);
    to->key = malloc(from->key_len + 1);
    if (to->cert == NULL || to->key == NULL) {
        http_tls_clear(to);
        return -1;
    }
    memcpy(to->key, from->key, from->key_len + 1);
    to->key_len = from->key_len;
    memcpy(to->serial, from->serial, sizeof(to->serial));
    return 0;
}

void http_tls_clear(http_tls_pem *p)
{
    free(p->cert);
    if (p->key != NULL)
        OPENSSL_cleanse(p->key, p->key_len);
    free(p->key);
    memset(p, 0, sizeof(*p));
}
