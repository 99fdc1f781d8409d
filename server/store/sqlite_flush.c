/* Group commit: one thread, one fdatasync of the write-ahead log for every commit waiting. */
#include "sqlite_flush.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

struct sqlite_flusher {
    sqlite3 *db;       /* only the thread uses it, and only for its log file */
    sqlite3_file *wal; /* that connection's handle on the write-ahead log */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work; /* a commit wants flushing, or stop */
    pthread_cond_t done; /* a flush finished */
    uint64_t committed;  /* the last ticket handed out */
    uint64_t requested;  /* someone waits, or soon will, for the tickets up to this one */
    uint64_t flushed;    /* every ticket up to this one is on disk */
    int failed;
    int stop;
};

/* Condition variables are signalled after the lock is released: a thread woken while the
 * signaller still holds it would only wake to block on the lock, a second wake-up for each. */
static void *flush_loop(void *arg)
{
    sqlite_flusher *f = arg;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (!f->stop && !f->failed && f->flushed >= f->requested)
            pthread_cond_wait(&f->work, &f->lock);
        if (f->failed || (f->stop && f->flushed >= f->requested))
            break;
        /* Every commit that took a ticket up to here has finished writing: this flush covers
         * them all, and commits arriving meanwhile wait for the next round. */
        uint64_t target = f->committed;
        pthread_mutex_unlock(&f->lock);
        int rc = f->wal->pMethods->xSync(f->wal, SQLITE_SYNC_NORMAL);
        pthread_mutex_lock(&f->lock);
        if (rc == SQLITE_OK)
            f->flushed = target;
        else
            f->failed = 1;
        pthread_mutex_unlock(&f->lock);
        pthread_cond_broadcast(&f->done);
        pthread_mutex_lock(&f->lock);
    }
    pthread_mutex_unlock(&f->lock);
    pthread_cond_broadcast(&f->done);
    return NULL;
}

/* A read opens the connection's write-ahead log, which stays open until the connection
 * closes; SQLite never deletes the log while a connection holds it. */
static int open_wal(sqlite_flusher *f, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open_v2(path, &f->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(f->db, 5000);
        rc = sqlite3_prepare_v2(f->db, "PRAGMA journal_mode", -1, &st, NULL);
    }
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        if (mode == NULL || strcmp(mode, "wal") != 0) {
            snprintf(err, errlen, "group commit needs WAL mode, the database is in %s",
                     mode ? mode : "an unknown mode");
            sqlite3_finalize(st);
            return -1;
        }
    } else if (rc == SQLITE_OK) {
        rc = sqlite3_errcode(f->db);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(f->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_file_control(f->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f->wal);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s", f->db ? sqlite3_errmsg(f->db) : sqlite3_errstr(rc));
        return -1;
    }
    if (f->wal == NULL || f->wal->pMethods == NULL) {
        snprintf(err, errlen, "the write-ahead log is not open");
        return -1;
    }
    return 0;
}

sqlite_flusher *sqlite_flusher_start(const char *path, char *err, size_t errlen)
{
    sqlite_flusher *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (open_wal(f, path, err, errlen) != 0) {
        sqlite3_close_v2(f->db);
        free(f);
        return NULL;
    }
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->work, NULL);
    pthread_cond_init(&f->done, NULL);
    if (pthread_create(&f->thread, NULL, flush_loop, f) != 0) {
        snprintf(err, errlen, "cannot start the flushing thread");
        pthread_cond_destroy(&f->done);
        pthread_cond_destroy(&f->work);
        pthread_mutex_destroy(&f->lock);
        sqlite3_close_v2(f->db);
        free(f);
        return NULL;
    }
    return f;
}

void sqlite_flusher_stop(sqlite_flusher *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->lock);
    f->stop = 1;
    f->requested = f->committed;
    pthread_cond_signal(&f->work);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    pthread_cond_destroy(&f->done);
    pthread_cond_destroy(&f->work);
    pthread_mutex_destroy(&f->lock);
    sqlite3_close_v2(f->db);
    free(f);
}

/* Asks for a flush up to ticket; the lock is held. Returns 1 when the flusher must be woken,
 * which the caller does after releasing the lock. */
static int request(sqlite_flusher *f, uint64_t ticket)
{
    if (f->requested >= ticket)
        return 0;
    f->requested = ticket;
    return 1;
}

uint64_t sqlite_flusher_committed(sqlite_flusher *f, int now)
{
    pthread_mutex_lock(&f->lock);
    uint64_t ticket = ++f->committed;
    int wake = now && request(f, ticket);
    pthread_mutex_unlock(&f->lock);
    if (wake)
        pthread_cond_signal(&f->work);
    return ticket;
}

int sqlite_flusher_wait(sqlite_flusher *f, uint64_t ticket)
{
    pthread_mutex_lock(&f->lock);
    if (request(f, ticket)) {
        pthread_mutex_unlock(&f->lock);
        pthread_cond_signal(&f->work);
        pthread_mutex_lock(&f->lock);
    }
    while (!f->failed && f->flushed < ticket)
        pthread_cond_wait(&f->done, &f->lock);
    /* After a failure nothing the store says can be vouched for, even what it flushed before:
     * a later read may return pages that never reached the disk. */
    int ok = !f->failed && f->flushed >= ticket;
    pthread_mutex_unlock(&f->lock);
    return ok ? 0 : -1;
}
