#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

int files_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

int files_make_dirs(const char *path, int mode, char *err, size_t errlen)
{
    char partial[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(partial)) {
        snprintf(err, errlen, "bad directory name '%s'", path);
        return -1;
    }
    memcpy(partial, path, n + 1);
    /* Each parent in turn, then the directory itself. */
    for (char *p = partial + 1;; p++) {
        char saved = *p;
        if (saved != '/' && saved != '\0')
            continue;
        *p = '\0';
        if (mkdir(partial, (mode_t)mode) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", partial, strerror(errno));
            return -1;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", path);
        return -1;
    }
    return 0;
}

static BIO *open_read(const char *path, char *err, size_t errlen)
{
    BIO *bio = BIO_new_file(path, "rb");
    if (bio == NULL)
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return bio;
}

EVP_PKEY *files_read_key(const char *path, char *err, size_t errlen)
{
    BIO *bio = open_read(path, err, errlen);
    if (bio == NULL)
        return NULL;
    struct stat sb;
    if (stat(path, &sb) == 0 && (sb.st_mode & 077) != 0)
        fprintf(stderr,
                "scep: warning: the private key %s is readable by group or others (mode "
                "%04o): chmod 600 it\n",
                path, (unsigned)(sb.st_mode & 07777));
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (key == NULL && BIO_reset(bio) == 0)
        key = d2i_PrivateKey_bio(bio, NULL);
    BIO_free(bio);
    if (key == NULL)
        snprintf(err, errlen, "%s holds no private key (PEM or DER)", path);
    return key;
}

STACK_OF(X509) * files_read_certs(const char *path, char *err, size_t errlen)
{
    BIO *bio = open_read(path, err, errlen);
    if (bio == NULL)
        return NULL;
    STACK_OF(X509) *certs = sk_X509_new_null();
    X509 *cert;
    while (certs && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        if (!sk_X509_push(certs, cert))
            X509_free(cert);
    if (certs && sk_X509_num(certs) == 0 && BIO_reset(bio) == 0 &&
        (cert = d2i_X509_bio(bio, NULL)) != NULL && !sk_X509_push(certs, cert))
        X509_free(cert);
    BIO_free(bio);
    if (certs == NULL || sk_X509_num(certs) == 0) {
        snprintf(err, errlen, "%s holds no certificate (PEM or DER)", path);
        sk_X509_pop_free(certs, X509_free);
        return NULL;
    }
    return certs;
}

X509 *files_read_cert(const char *path, char *err, size_t errlen)
{
    STACK_OF(X509) *certs = files_read_certs(path, err, errlen);
    X509 *first = certs ? sk_X509_shift(certs) : NULL;
    sk_X509_pop_free(certs, X509_free);
    return first;
}

int files_write_atomic(const char *path, const void *data, size_t len, int mode, char *err,
                       size_t errlen)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "path too long: %s", path);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write next to %s: %s", path, strerror(errno));
        return -1;
    }
    const unsigned char *p = data;
    size_t left = len;
    int ok = fchmod(fd, (mode_t)mode) == 0;
    while (ok && left > 0) {
        ssize_t n = write(fd, p, left);
        ok = n > 0;
        if (ok) {
            p += n;
            left -= (size_t)n;
        }
    }
    ok = ok && fsync(fd) == 0;
    ok = (close(fd) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Writes what a BIO collected, atomically. */
static int write_bio(const char *path, BIO *bio, int ok, int mode, char *err, size_t errlen)
{
    char *data = NULL;
    long n = bio ? BIO_get_mem_data(bio, &data) : -1;
    int rc = -1;
    if (!ok || n < 0)
        snprintf(err, errlen, "cannot encode %s", path);
    else
        rc = files_write_atomic(path, data, (size_t)n, mode, err, errlen);
    if (data != NULL && mode == 0600)
        OPENSSL_cleanse(data, (size_t)n);
    BIO_free(bio);
    return rc;
}

int files_write_key(const char *path, EVP_PKEY *key, char *err, size_t errlen)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1;
    return write_bio(path, bio, ok, 0600, err, errlen);
}

int files_write_cert(const char *path, X509 *cert, int der, char *err, size_t errlen)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = bio && (der ? i2d_X509_bio(bio, cert) == 1 : PEM_write_bio_X509(bio, cert) == 1);
    return write_bio(path, bio, ok, 0644, err, errlen);
}

int files_write_certs(const char *path, STACK_OF(X509) * certs, char *err, size_t errlen)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = bio != NULL;
    for (int i = 0; ok && i < sk_X509_num(certs); i++)
        ok = PEM_write_bio_X509(bio, sk_X509_value(certs, i)) == 1;
    return write_bio(path, bio, ok, 0644, err, errlen);
}

int files_write_crl(const char *path, X509_CRL *crl, int der, char *err, size_t errlen)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = bio && (der ? i2d_X509_CRL_bio(bio, crl) == 1 : PEM_write_bio_X509_CRL(bio, crl) == 1);
    return write_bio(path, bio, ok, 0644, err, errlen);
}
