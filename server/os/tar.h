/* Archives of a few files, for `scepd backup` and `scepd restore`: a gzip-compressed tar
 * written and read with libarchive, with no format code of our own. */
#ifndef SCEPD_TAR_H
#define SCEPD_TAR_H

#include <stddef.h>

typedef struct tar_member {
    const char *name; /* in the archive: a plain file name */
    const char *path; /* on disk */
} tar_member;

/* Writes the members into a new archive at out, mode 0600: under a temporary name beside it,
 * fsync, then renamed into place (over an older archive), so that out is always whole. Each
 * member keeps its mode. 0, or -1 with a reason in err. */
int tar_write(const char *out, const tar_member *members, size_t n, char *err, size_t errlen);

/* The most bytes one member may hold on restore, and the most members. */
#define TAR_MAX_MEMBER (64ULL << 30)
#define TAR_MAX_MEMBERS 256

/* Where a backup puts a profile's own CA directory (ca_dir): TAR_CA_DIRS/NAME/FILE. */
#define TAR_CA_DIRS "ca_dirs"

/* Extracts the archive at in into dir, which must be empty: only regular files with plain names
 * (no '/', not starting with '.'), or TAR_CA_DIRS/NAME/FILE (NAME a profile's name, FILE plain;
 * its directories made 0700), at most TAR_MAX_MEMBERS of TAR_MAX_MEMBER bytes, never over
 * one another, each with its mode cut to 0640 and fsync'ed. *count is how many. 0, or -1 with
 * a reason in err (what was extracted stays, for the operator to see). */
int tar_extract(const char *in, const char *dir, int *count, char *err, size_t errlen);

#endif
