/* Secrets kept in files: one line, readable by its owner alone. */
#include "os/file_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* Drops one trailing newline (the file's, not the secret's); the length left. */
static size_t drop_newline(char *buf, size_t n)
{
    if (n > 0 && buf[n - 1] == '\n') {
        buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '\r')
            buf[--n] = '\0';
    }
    return n;
}

int file_read_secret(const char *what, const char *path, char *buf, size_t len, char *err,
                     size_t errlen)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_NOCTTY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    const char *why = !S_ISREG(sb.st_mode)      ? "not a regular file"
                      : (sb.st_mode & 077) != 0 ? "readable by group or others (chmod 600 it)"
                                                : NULL;
    ssize_t n = why ? 0 : read(fd, buf, len);
    close(fd);
    if (why == NULL && (n < 0 || (size_t)n >= len))
        why = n < 0 ? strerror(errno) : "longer than the longest secret taken";
    if (why == NULL) {
        buf[n] = '\0';
        why = drop_newline(buf, (size_t)n) == 0 ? "empty" : NULL;
    }
    if (why == NULL)
        return 0;
    OPENSSL_cleanse(buf, len);
    snprintf(err, errlen, "%s %s: %s", what, path, why);
    return -1;
}
