/* initgroups() is a BSD extension: not in POSIX. */
#define _DEFAULT_SOURCE
#include "admin/privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int check_dir(const char *dir, const char *what, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(dir, &sb) != 0 || (sb.st_mode & 022) == 0)
        return 0; /* a missing directory is the loader's to report */
    snprintf(err, errlen,
             "%s (%s) is writable by group or others (mode %04o): chmod 700 it, or pass "
             "--allow-insecure-permissions",
             dir, what, (unsigned)(sb.st_mode & 07777));
    return -1;
}

/* The directory of the store's file ("sqlite:PATH" resolved against DIR), "" for others. */
static void store_dir(const config *c, char *out, size_t outlen)
{
    char uri[CONFIG_PATH * 2];
    config_store_uri(c, uri, sizeof(uri));
    out[0] = '\0';
    const char *path = strncmp(uri, "sqlite:", 7) == 0 ? uri + 7 : NULL;
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (path == NULL || strcmp(path, ":memory:") == 0)
        return;
    int n = slash == NULL
                ? snprintf(out, outlen, ".")
                : snprintf(out, outlen, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (n < 0 || (size_t)n >= outlen)
        out[0] = '\0';
}

int privileges_check_dirs(const config *c, char *err, size_t errlen)
{
    char dir[CONFIG_PATH * 2];
    if (check_dir(c->dir[0] ? c->dir : ".", "the CA directory", err, errlen) != 0)
        return -1;
    store_dir(c, dir, sizeof(dir));
    return dir[0] ? check_dir(dir, "the store's directory", err, errlen) : 0;
}

/* The passwd entry of name, or NULL with why in err. */
static struct passwd *user_named(const char *name, char *err, size_t errlen)
{
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (pw == NULL)
        snprintf(err, errlen, "user = %s: %s", name, errno ? strerror(errno) : "no such user");
    return pw;
}

int privileges_check_user(const config *c, int allow_root, char *err, size_t errlen)
{
    if (c->user[0] == '\0') {
        if (geteuid() != 0 || allow_root)
            return 0;
        snprintf(err, errlen,
                 "refusing to serve as root: set user = NAME (scepd gives root up after binding "
                 "and loading the keys), or pass --allow-root");
        return -1;
    }
    struct passwd *pw = user_named(c->user, err, errlen);
    if (pw == NULL)
        return -1;
    if (geteuid() != 0) {
        if (pw->pw_uid == geteuid())
            return 0;
        snprintf(err, errlen, "user = %s: only root can become another user", c->user);
        return -1;
    }
    struct stat sb;
    const char *dir = c->dir[0] ? c->dir : ".";
    if (stat(dir, &sb) != 0 || sb.st_uid != pw->pw_uid) {
        snprintf(err, errlen,
                 "user = %s: %s must be owned by %s, who reads its keys and writes its store: "
                 "chown -R %s %s",
                 c->user, dir, c->user, c->user, dir);
        return -1;
    }
    return 0;
}

int privileges_drop(const config *c, char *err, size_t errlen)
{
    if (c->user[0] == '\0' || geteuid() != 0)
        return 0;
    struct passwd *pw = user_named(c->user, err, errlen);
    if (pw == NULL)
        return -1;
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (initgroups(c->user, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        snprintf(err, errlen, "cannot become user %s: %s", c->user, strerror(errno));
        return -1;
    }
    /* Given up for good: neither the real, effective nor saved uid is root any more. */
    if (uid != 0 && (setuid(0) == 0 || getuid() != uid || geteuid() != uid)) {
        snprintf(err, errlen, "user %s: root could be regained, stopping", c->user);
        return -1;
    }
    return 0;
}
