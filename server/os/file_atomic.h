/* Durable files: what a crash leaves is the old file or the whole new one, never a part. */
#ifndef SCEPD_FILE_ATOMIC_H
#define SCEPD_FILE_ATOMIC_H

#include <stddef.h>
#include <sys/types.h>

enum { FILE_KEEP = 0, FILE_REPLACE = 1 };

/*
 * Writes data to path with exactly mode: into a new temporary file beside it (O_EXCL), fsync,
 * then into place (FILE_REPLACE: rename over an existing file; FILE_KEEP: refuse when path
 * exists, EEXIST), and fsync of the directory. On failure path is as it was and the temporary
 * file is gone. Returns 0, or -1 with why in err (and errno set).
 */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, int how,
                      char *err, size_t errlen);

/* fsync of the directory that holds path, so that a rename or a new name in it lasts. */
int file_sync_dir(const char *path);

/* Renames from to to, then syncs the directory, so that the move lasts through a crash; a
 * missing from is no error. 0, or -1 with why in err. */
int file_move_durable(const char *from, const char *to, char *err, size_t errlen);

/* Whether uri is a path that cannot be opened for reading: 1 with why in the system's words
 * ("Permission denied") in err, else 0 (also for a provider URI such as "pkcs11:..."). */
int file_unreadable(const char *uri, char *err, size_t errlen);

#endif
