/* Keys, certificates and CRLs on disk: PEM or DER in, PEM or DER out, written atomically
 * (a temporary file renamed over the target) so that a crash never leaves half a file, and
 * private keys always 0600. */
#ifndef SCEP_CLIENT_FILES_H
#define SCEP_CLIENT_FILES_H

#include <stddef.h>

#include <openssl/x509.h>

EVP_PKEY *files_read_key(const char *path, char *err, size_t errlen);
X509 *files_read_cert(const char *path, char *err, size_t errlen);
/* Every certificate in a PEM bundle, or the one in a DER file. */
STACK_OF(X509) * files_read_certs(const char *path, char *err, size_t errlen);

int files_write_key(const char *path, EVP_PKEY *key, char *err, size_t errlen);
int files_write_cert(const char *path, X509 *cert, int der, char *err, size_t errlen);
int files_write_certs(const char *path, STACK_OF(X509) * certs, char *err, size_t errlen);
int files_write_crl(const char *path, X509_CRL *crl, int der, char *err, size_t errlen);
/* Writes bytes atomically with the given mode. */
int files_write_atomic(const char *path, const void *data, size_t len, int mode, char *err,
                       size_t errlen);
int files_exists(const char *path);
/* Creates the directory path and its missing parents (mkdir -p). 0, or -1 with err. */
int files_make_dirs(const char *path, int mode, char *err, size_t errlen);

#endif
