/* The archive of a backup, through libarchive (pax tar, gzip). Reading trusts nothing in the
 * archive: names, types, sizes and modes are checked before a byte is written. */
#include "os/tar.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "os/file_atomic.h"

static int add_member(struct archive *a, const tar_member *m, char *err, size_t errlen)
{
    int fd = open(m->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "cannot read %s: %s", m->path,
                 fd < 0 ? strerror(errno) : "not a file");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, m->name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, sb.st_mode & 07777);
    archive_entry_set_size(e, sb.st_size);
    archive_entry_set_mtime(e, sb.st_mtime, 0);
    int rc = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -1;
    char buf[65536];
    ssize_t n;
    la_int64_t left = sb.st_size;
    while (rc == 0 && left > 0 && (n = read(fd, buf, sizeof(buf))) > 0) {
        n = n > left ? (ssize_t)left : n; /* a file growing meanwhile: the size in the header */
        rc = archive_write_data(a, buf, (size_t)n) == n ? 0 : -1;
        left -= n;
    }
    if (rc == 0 && left > 0)
        rc = -1; /* shrank meanwhile */
    if (rc != 0)
        snprintf(err, errlen, "cannot archive %s: %s", m->path,
                 archive_error_string(a) ? archive_error_string(a) : "it changed while read");
    archive_entry_free(e);
    close(fd);
    return rc;
}

static int write_all(int fd, const tar_member *members, size_t n, char *err, size_t errlen)
{
    struct archive *a = archive_write_new();
    int rc = a && archive_write_set_format_pax_restricted(a) == ARCHIVE_OK &&
                     archive_write_add_filter_gzip(a) == ARCHIVE_OK &&
                     archive_write_open_fd(a, fd) == ARCHIVE_OK
                 ? 0
                 : -1;
    if (rc != 0)
        snprintf(err, errlen, "cannot start the archive: %s",
                 a && archive_error_string(a) ? archive_error_string(a) : "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = add_member(a, &members[i], err, errlen);
    if (a != NULL && archive_write_close(a) != ARCHIVE_OK && rc == 0) {
        snprintf(err, errlen, "cannot finish the archive: %s", archive_error_string(a));
        rc = -1;
    }
    archive_write_free(a);
    return rc;
}

int tar_write(const char *out, const tar_member *members, size_t n, char *err, size_t errlen)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.partial", out) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "the archive's name is too long");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    int rc = write_all(fd, members, n, err, errlen);
    if (rc == 0 && fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s to disk: %s", tmp, strerror(errno));
        rc = -1;
    }
    close(fd);
    if (rc == 0)
        rc = file_move_durable(tmp, out, err, errlen);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* A name restore may write: a plain file name of this directory, nothing hidden. */
static int plain_name(const char *name)
{
    return name != NULL && name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL &&
           strlen(name) < 256;
}

/* For TAR_CA_DIRS/NAME/FILE (NAME a profile name: 1-32 of a-z, 0-9, _ and -; FILE plain), the
 * length of "TAR_CA_DIRS/NAME/"; else 0. */
static size_t ca_dir_name(const char *name)
{
    size_t p = strlen(TAR_CA_DIRS "/");
    if (name == NULL || strncmp(name, TAR_CA_DIRS "/", p) != 0)
        return 0;
    size_t n = strspn(name + p, "abcdefghijklmnopqrstuvwxyz0123456789_-");
    return n >= 1 && n <= 32 && name[p + n] == '/' && plain_name(name + p + n + 1) ? p + n + 1 : 0;
}

/* Makes dir/NAME's directories (0700) for a member NAME under TAR_CA_DIRS (they may be made
 * already, by an earlier member: as directories only, never a link or a file). */
static int make_parents(const char *dir, const char *name, size_t len, char *err, size_t errlen)
{
    char path[4400];
    for (size_t i = 0; i < len; i++) {
        if (name[i] != '/')
            continue;
        snprintf(path, sizeof(path), "%s/%.*s", dir, (int)i, name);
        struct stat sb;
        if (mkdir(path, 0700) != 0 &&
            (errno != EEXIST || lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
            snprintf(err, errlen, "cannot make the directory %s: %s", path,
                     errno == EEXIST ? "a file of that name is there" : strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int refuse(char *err, size_t errlen, const char *why, const char *name)
{
    snprintf(err, errlen, "refusing the archive: %s (%.200s)", why, name ? name : "no name");
    return -1;
}

static int extract_member(struct archive *a, struct archive_entry *e, const char *dir, char *err,
                          size_t errlen)
{
    const char *name = archive_entry_pathname(e);
    size_t parent = ca_dir_name(name);
    if (!plain_name(name) && parent == 0)
        return refuse(err, errlen, "a member is not a plain file name", name);
    if (archive_entry_filetype(e) != AE_IFREG)
        return refuse(err, errlen, "a member is not a regular file", name);
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0 ||
        (unsigned long long)archive_entry_size(e) > TAR_MAX_MEMBER)
        return refuse(err, errlen, "a member is too large", name);
    if (parent != 0 && make_parents(dir, name, parent, err, errlen) != 0)
        return -1;
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  archive_entry_perm(e) & 0640);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    const void *block;
    size_t len;
    la_int64_t offset, written = 0;
    int rc;
    while ((rc = archive_read_data_block(a, &block, &len, &offset)) == ARCHIVE_OK) {
        if (offset != written || (unsigned long long)(written + (la_int64_t)len) > TAR_MAX_MEMBER ||
            write(fd, block, len) != (ssize_t)len) {
            rc = ARCHIVE_FATAL;
            break;
        }
        written += (la_int64_t)len;
    }
    int ok = rc == ARCHIVE_EOF && written == archive_entry_size(e) && fsync(fd) == 0;
    close(fd);
    if (!ok)
        snprintf(err, errlen, "cannot extract %s: %s", name,
                 archive_error_string(a) ? archive_error_string(a) : "a write failed");
    return ok ? 0 : -1;
}

static int extract_all(struct archive *a, const char *dir, int *count, char *err, size_t errlen)
{
    struct archive_entry *e;
    int rc;
    while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        if (*count >= TAR_MAX_MEMBERS)
            return refuse(err, errlen, "too many members", archive_entry_pathname(e));
        if (extract_member(a, e, dir, err, errlen) != 0)
            return -1;
        ++*count;
    }
    if (rc != ARCHIVE_EOF) {
        snprintf(err, errlen, "cannot read the archive: %s",
                 archive_error_string(a) ? archive_error_string(a) : "unreadable");
        return -1;
    }
    return 0;
}

int tar_extract(const char *in, const char *dir, int *count, char *err, size_t errlen)
{
    *count = 0;
    struct archive *a = archive_read_new();
    int rc = a && archive_read_support_format_tar(a) == ARCHIVE_OK &&
                     archive_read_support_filter_gzip(a) == ARCHIVE_OK &&
                     archive_read_open_filename(a, in, 65536) == ARCHIVE_OK
                 ? 0
                 : -1;
    if (rc != 0)
        snprintf(err, errlen, "cannot open %s: %s", in,
                 a && archive_error_string(a) ? archive_error_string(a) : "out of memory");
    if (rc == 0)
        rc = extract_all(a, dir, count, err, errlen);
    archive_read_free(a);
    char inside[4200];
    snprintf(inside, sizeof(inside), "%s/.", dir); /* file_sync_dir syncs the one holding it */
    if (rc == 0 && file_sync_dir(inside) != 0) {
        snprintf(err, errlen, "cannot write %s to disk: %s", dir, strerror(errno));
        rc = -1;
    }
    return rc;
}
