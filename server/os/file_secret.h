/* Secrets kept in files: passphrases, PINs. */
#ifndef SCEPD_FILE_SECRET_H
#define SCEPD_FILE_SECRET_H

#include <stddef.h>

/* Reads the secret in path into buf (one trailing newline dropped), refusing a file that group
 * or others may read, or an empty one. 0, or -1 with a reason that starts with what and path
 * ("passphrase file /x: empty"); buf is wiped on failure. */
int file_read_secret(const char *what, const char *path, char *buf, size_t len, char *err,
                     size_t errlen);

#endif
