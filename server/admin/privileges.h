/* Least privilege for `scepd serve`: directories only its owner may change, no root unless it
 * is given up, and giving it up (server/admin/privileges.c). */
#ifndef SCEPD_PRIVILEGES_H
#define SCEPD_PRIVILEGES_H

#include <stddef.h>

#include "config/config.h"

/* DIR and the directory of the store must not be writable by group or others (whoever may
 * write there may swap a key or the store). Returns 0, or -1 naming the directory and its
 * mode. */
int privileges_check_dirs(const config *c, char *err, size_t errlen);

/*
 * Before binding: as root, `user` must be set (a user that exists and owns DIR, so that it can
 * read the keys on reload and write the store) unless allow_root; `user` set without root is
 * refused unless it is the current user. Returns 0, or -1 with why in err.
 */
int privileges_check_user(const config *c, int allow_root, char *err, size_t errlen);

/* After binding and loading the keys: becomes `user` (groups, gid, uid) when set and not
 * already, and checks that root cannot be regained. Returns 0, or -1 with why in err. */
int privileges_drop(const config *c, char *err, size_t errlen);

#endif
