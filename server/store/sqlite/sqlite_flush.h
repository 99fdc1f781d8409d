/*
 * Group commit for the SQLite store: one thread makes the write-ahead log durable for every
 * connection of this process that committed since its last flush, so concurrent workers share
 * one fdatasync instead of queueing behind one each.
 *
 * Connections that use it commit with synchronous=NORMAL (the log is written, not flushed) and
 * take a ticket after each commit; a reply that reports the write waits for its ticket first.
 * A flush covers every commit that finished before it started: fdatasync works on the file,
 * whichever descriptor wrote it. A failed flush is final: every wait then fails, since the
 * kernel may have dropped the pages it could not write.
 */
#ifndef SCEPD_SQLITE_FLUSH_H
#define SCEPD_SQLITE_FLUSH_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include "store/store.h"

typedef struct sqlite_flusher sqlite_flusher;

/* Opens its own connection to the WAL-mode database at path and starts the thread. On failure
 * returns NULL and writes a reason into err. */
sqlite_flusher *sqlite_flusher_start(const char *path, char *err, size_t errlen);

/* Stops the thread after a last flush, and closes its connection. NULL is ignored. */
void sqlite_flusher_stop(sqlite_flusher *f);

/* Called after a commit finished: a ticket for it. With now, the thread starts a flush at once,
 * so that the disk works while the caller builds its reply; otherwise the commit waits for the
 * next flush anyone asks for (each flush costs CPU time in the kernel, so fewer is better).
 * frames: the write-ahead log's length after it (the wal hook's); from
 * SQLITE_FLUSH_CHECKPOINT_FRAMES on, a thread of the flusher's copies the log into the
 * database on its own connection, so that the committing thread does not, holding the group's
 * lock (SQLite's automatic checkpoint would, at the same threshold). */
#define SQLITE_FLUSH_CHECKPOINT_FRAMES 1000
uint64_t sqlite_flusher_committed(sqlite_flusher *f, int now, int expected, int frames);

/* Exchanges under way that have not committed yet: sqlite_flusher_expect(f, 1) when one
 * starts, and its commit (committed with expected) or sqlite_flusher_expect(f, -1) when it
 * ends without one. While any is expected, a flush waits for them up to
 * SQLITE_FLUSH_GROUP_WAIT_US, so that one fdatasync covers them too (each costs about a third
 * of a millisecond of kernel CPU here): at concurrency 1 nothing is expected, nothing waits. */
#define SQLITE_FLUSH_GROUP_WAIT_US 500
void sqlite_flusher_expect(sqlite_flusher *f, int delta);

/* Waits until the commit of ticket is on disk: 0, or -1 once any flush has failed (ticket 0
 * asks only that). Also checks that the database, its log and its shared memory are still
 * the files that were open at the start (device and inode): one removed or replaced counts as
 * a failed flush, which is final. */
int sqlite_flusher_wait(sqlite_flusher *f, uint64_t ticket);

/* The same without waiting: done(arg, ...) runs once the commit of ticket is on disk
 * (STORE_OK) or once a flush failed (STORE_ERROR), on the flusher's thread, or on the caller's
 * before this returns when that is already so. */
void sqlite_flusher_notify(sqlite_flusher *f, uint64_t ticket, store_durable_fn done, void *arg);

/* The lock that every commit of this process's handles holds (the group's): a checkpoint
 * holds it for a last short pass, so that the log is copied completely and restarts. Without
 * one (a flusher of its own) that pass is left out. Set before the first commit. */
void sqlite_flusher_set_writers(sqlite_flusher *f, pthread_mutex_t *writers);

/* For tests: another bound for that wait, in microseconds. */
void sqlite_flusher_set_group_wait(sqlite_flusher *f, long us);

/* How many flushes (fdatasync calls) the thread made so far. */
uint64_t sqlite_flusher_flushes(sqlite_flusher *f);

/* 1 and the reason of the first failure in why, or 0 (why empty) while nothing failed. */
int sqlite_flusher_error(sqlite_flusher *f, char *why, size_t whylen);

#endif
