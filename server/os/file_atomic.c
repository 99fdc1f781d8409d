#include "os/file_atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

int file_sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, slash == NULL ? "." : path, n);
    dir[n] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A new file NAME.tmp-XXXXXXXX beside path, opened O_EXCL with mode; its name in tmp. */
static int create_temp(const char *path, mode_t mode, char *tmp, size_t tmplen)
{
    unsigned char r[4];
    if (RAND_bytes(r, sizeof(r)) != 1) {
        errno = EIO;
        return -1;
    }
    int n = snprintf(tmp, tmplen, "%s.tmp-%02x%02x%02x%02x", path, r[0], r[1], r[2], r[3]);
    if (n < 0 || (size_t)n >= tmplen) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    /* The umask may have narrowed the mode; a certificate is meant to be 0644. */
    if (fd >= 0 && fchmod(fd, mode) != 0) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return fd;
}

/* Puts tmp in place of path: over it, or only when path does not exist (link fails then). */
static int put_in_place(const char *tmp, const char *path, int how)
{
    if (how == FILE_REPLACE)
        return rename(tmp, path);
    if (link(tmp, path) != 0)
        return -1;
    unlink(tmp);
    return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, int how,
                      char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    int fd = create_temp(path, mode, tmp, sizeof(tmp));
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = write_all(fd, data, len) == 0 && fsync(fd) == 0 ? 0 : -1;
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && put_in_place(tmp, path, how) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        snprintf(err, errlen, "%s: %s", path, strerror(saved));
        errno = saved;
        return -1;
    }
    if (file_sync_dir(path) != 0) {
        snprintf(err, errlen, "%s: cannot sync its directory: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int file_move_durable(const char *from, const char *to, char *err, size_t errlen)
{
    if (rename(from, to) != 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot move %s to %s: %s", from, to, strerror(errno));
        return -1;
    }
    if (file_sync_dir(to) == 0)
        return 0;
    snprintf(err, errlen, "cannot sync the directory of %s: %s", to, strerror(errno));
    return -1;
}

int file_unreadable(const char *uri, char *err, size_t errlen)
{
    if (strchr(uri, ':') != NULL && uri[0] != '/' && uri[0] != '.')
        return 0;
    FILE *f = fopen(uri, "rb");
    if (f != NULL) {
        fclose(f);
        return 0;
    }
    snprintf(err, errlen, "cannot read %s: %s", uri, strerror(errno));
    return 1;
}
