/* Group commit: one thread, one fdatasync of the write-ahead log for every commit waiting. */
#include "store/sqlite/sqlite_flush.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "metrics/metrics.h"

/* The files whose identity is checked: the database, its log, its shared memory. */
static const char *const suffixes[] = {"", "-wal", "-shm"};
#define N_FILES (sizeof(suffixes) / sizeof(suffixes[0]))

typedef struct file_id {
    char path[4120];
    int present; /* a file that did not exist at the start (no -shm) is not checked */
    dev_t dev;
    ino_t ino;
} file_id;

/* A caller that asked to be told when its ticket is on disk (sqlite_flusher_notify). */
typedef struct waiter {
    uint64_t ticket;
    store_durable_fn done;
    void *arg;
    struct timespec started; /* when it asked: the commit's wait, for the metrics */
    struct waiter *next;
} waiter;

struct sqlite_flusher {
    sqlite3 *db;       /* only the thread uses it, and only for its log file */
    sqlite3_file *wal; /* that connection's handle on the write-ahead log */
    sqlite3 *ck_db;    /* the checkpointing thread's own connection */
    pthread_t ck_thread;
    pthread_cond_t ck_work; /* a checkpoint is asked for, or stop */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work; /* a commit wants flushing, or stop */
    pthread_cond_t done; /* a flush finished */
    uint64_t committed;  /* the last ticket handed out */
    uint64_t requested;  /* someone waits, or soon will, for the tickets up to this one */
    uint64_t flushed;    /* every ticket up to this one is on disk */
    int failed;
    char why[400]; /* set once, with failed */
    int stop;
    int expected;       /* exchanges under way that have not committed (sqlite_flusher_expect) */
    int grouping;       /* the thread waits for them before a flush */
    uint64_t flushes;   /* fdatasyncs so far */
    long group_wait_us; /* SQLITE_FLUSH_GROUP_WAIT_US unless a test says otherwise */
    int checkpoint;     /* the log has grown past the threshold: copy it into the database */
    int checkpoint_at;  /* the log's frames at which a commit asks for the next checkpoint */
    pthread_mutex_t *writers; /* the group's lock: while held, none of ours commits */
    waiter *waiters;          /* told, outside the lock, once flushed covers their ticket */
    file_id files[N_FILES];   /* fixed after the start */
};

/* Records the first failure; the lock is held. */
static void set_failed(sqlite_flusher *f, const char *why)
{
    if (!f->failed)
        snprintf(f->why, sizeof(f->why), "%s", why);
    f->failed = 1;
}

/* Detaches the waiters whose ticket is on disk, or all of them once a flush failed; the lock
 * is held. */
static waiter *take_ready(sqlite_flusher *f)
{
    waiter *ready = NULL, **link = &f->waiters;
    while (*link != NULL) {
        waiter *w = *link;
        if (f->failed || w->ticket <= f->flushed) {
            *link = w->next;
            w->next = ready;
            ready = w;
        } else {
            link = &w->next;
        }
    }
    return ready;
}

/* Tells and frees the waiters take_ready detached, outside the lock; failed and why as they
 * were when they were detached. */
static void tell_one(store_durable_fn done, void *arg, int failed, const char *why)
{
    char text[420];
    snprintf(text, sizeof(text), "store: %s", why); /* as the handles' last_error says it */
    done(arg, failed ? STORE_ERROR : STORE_OK, failed ? text : "");
}

static void tell(waiter *ready, int failed, const char *why)
{
    while (ready != NULL) {
        waiter *next = ready->next;
        metrics_store_commit(metrics_since(&ready->started));
        tell_one(ready->done, ready->arg, failed, why);
        free(ready);
        ready = next;
    }
}

/* Under the lock: detaches the ready waiters, with failed and why copied for tell(). */
static waiter *take_ready_state(sqlite_flusher *f, int *failed, char *why, size_t whylen)
{
    *failed = f->failed;
    snprintf(why, whylen, "%s", f->failed ? f->why : "");
    return take_ready(f);
}

/* Before a flush, with the lock held: waits (up to SQLITE_FLUSH_GROUP_WAIT_US) while other
 * exchanges under way may still commit, so that this flush covers them. */
static void group_wait(sqlite_flusher *f)
{
    if (f->expected <= 0 || f->stop)
        return;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    long ns = until.tv_nsec + f->group_wait_us % 1000000L * 1000L;
    until.tv_sec += f->group_wait_us / 1000000L + ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    f->grouping = 1;
    while (f->expected > 0 && !f->stop && !f->failed)
        if (pthread_cond_timedwait(&f->work, &f->lock, &until) == ETIMEDOUT)
            break;
    f->grouping = 0;
}

/* Copies the log into the database on the checkpointing thread's connection, so that no
 * answering thread pays for it (page writes, two fdatasyncs) under the group's lock, and the
 * flusher keeps flushing meanwhile. The first pass runs beside the writers and copies all but
 * what they add meanwhile. SQLite restarts the log only when a writer begins on a log copied
 * completely, which under steady load never happens after a pass beside them: so a second
 * pass copies the few frames added meanwhile holding the group's lock, and the first commit
 * after it restarts the log. */
static void checkpoint(sqlite_flusher *f)
{
    (void)sqlite3_wal_checkpoint_v2(f->ck_db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (f->writers != NULL) {
        pthread_mutex_lock(f->writers);
        (void)sqlite3_wal_checkpoint_v2(f->ck_db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_unlock(f->writers);
    }
}

static void *checkpoint_loop(void *arg)
{
    sqlite_flusher *f = arg;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (!f->stop && !f->checkpoint)
            pthread_cond_wait(&f->ck_work, &f->lock);
        if (f->stop)
            break;
        f->checkpoint = 0;
        pthread_mutex_unlock(&f->lock);
        checkpoint(f);
        pthread_mutex_lock(&f->lock);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

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
        group_wait(f);
        /* Every commit that took a ticket up to here has finished writing: this flush covers
         * them all, and commits arriving meanwhile wait for the next round. */
        uint64_t target = f->committed;
        pthread_mutex_unlock(&f->lock);
        struct timespec started;
        clock_gettime(CLOCK_MONOTONIC, &started);
        int rc = f->wal->pMethods->xSync(f->wal, SQLITE_SYNC_NORMAL);
        metrics_store_flush(metrics_since(&started));
        char why[300] = "";
        if (rc != SQLITE_OK)
            snprintf(why, sizeof(why), "writing the log to disk failed: %s", strerror(errno));
        pthread_mutex_lock(&f->lock);
        f->flushes++;
        if (rc == SQLITE_OK)
            f->flushed = target;
        else
            set_failed(f, why);
        int failed;
        char told[sizeof(f->why)];
        waiter *ready = take_ready_state(f, &failed, told, sizeof(told));
        pthread_mutex_unlock(&f->lock);
        pthread_cond_broadcast(&f->done);
        tell(ready, failed, told);
        pthread_mutex_lock(&f->lock);
    }
    /* Failed, or stopped with every ticket flushed: then nobody is left waiting. */
    if (f->waiters != NULL)
        set_failed(f, "the store was closed before its last flush");
    int failed;
    char told[sizeof(f->why)];
    waiter *ready = take_ready_state(f, &failed, told, sizeof(told));
    pthread_mutex_unlock(&f->lock);
    pthread_cond_broadcast(&f->done);
    tell(ready, failed, told);
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

/* After the log is open: the files as they are now, which must stay the same. */
static int remember_files(sqlite_flusher *f, const char *path, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_FILES; i++) {
        file_id *id = &f->files[i];
        struct stat st;
        int n = snprintf(id->path, sizeof(id->path), "%s%s", path, suffixes[i]);
        if (n < 0 || (size_t)n >= sizeof(id->path)) {
            snprintf(err, errlen, "the database path is too long");
            return -1;
        }
        id->present = stat(id->path, &st) == 0;
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        if (!id->present && i == 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* The checkpointing thread's connection. It checkpoints only once it has opened the log:
 * a read opens it. */
static int open_checkpointer(sqlite_flusher *f, const char *path, char *err, size_t errlen)
{
    int rc = sqlite3_open_v2(path, &f->ck_db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(f->ck_db, 5000);
        rc = sqlite3_exec(f->ck_db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK)
        snprintf(err, errlen, "%s", f->ck_db ? sqlite3_errmsg(f->ck_db) : sqlite3_errstr(rc));
    return rc == SQLITE_OK ? 0 : -1;
}

/* Frees what sqlite_flusher_start made; its threads are stopped. */
static void flusher_free(sqlite_flusher *f)
{
    pthread_cond_destroy(&f->ck_work);
    pthread_cond_destroy(&f->done);
    pthread_cond_destroy(&f->work);
    pthread_mutex_destroy(&f->lock);
    sqlite3_close_v2(f->ck_db);
    sqlite3_close_v2(f->db);
    free(f);
}

/* Stops the checkpointing thread; the flushing thread is stopped or never started. */
static void checkpointer_stop(sqlite_flusher *f)
{
    pthread_mutex_lock(&f->lock);
    f->stop = 1;
    pthread_mutex_unlock(&f->lock);
    pthread_cond_signal(&f->ck_work);
    pthread_join(f->ck_thread, NULL);
}

sqlite_flusher *sqlite_flusher_start(const char *path, char *err, size_t errlen)
{
    sqlite_flusher *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (open_wal(f, path, err, errlen) != 0 || remember_files(f, path, err, errlen) != 0 ||
        open_checkpointer(f, path, err, errlen) != 0) {
        sqlite3_close_v2(f->ck_db);
        sqlite3_close_v2(f->db);
        free(f);
        return NULL;
    }
    f->group_wait_us = SQLITE_FLUSH_GROUP_WAIT_US;
    f->checkpoint_at = SQLITE_FLUSH_CHECKPOINT_FRAMES;
    pthread_mutex_init(&f->lock, NULL);
    pthread_condattr_t monotonic; /* group_wait's deadline is on CLOCK_MONOTONIC */
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&f->work, &monotonic);
    pthread_condattr_destroy(&monotonic);
    pthread_cond_init(&f->done, NULL);
    pthread_cond_init(&f->ck_work, NULL);
    if (pthread_create(&f->ck_thread, NULL, checkpoint_loop, f) != 0) {
        snprintf(err, errlen, "cannot start the checkpointing thread");
        flusher_free(f);
        return NULL;
    }
    if (pthread_create(&f->thread, NULL, flush_loop, f) != 0) {
        snprintf(err, errlen, "cannot start the flushing thread");
        checkpointer_stop(f);
        flusher_free(f);
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
    checkpointer_stop(f);
    flusher_free(f);
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

/* With the lock held, after a commit that left frames in the log: 1 when the checkpointing
 * thread must be woken. Once asked, again only when the log has restarted or grown by as much
 * again (a reader of another process may keep it from restarting): the commits that follow
 * before the restart find as many frames and would ask for nothing but empty passes. */
static int checkpoint_wanted(sqlite_flusher *f, int frames)
{
    if (frames < SQLITE_FLUSH_CHECKPOINT_FRAMES)
        f->checkpoint_at = SQLITE_FLUSH_CHECKPOINT_FRAMES;
    if (frames < f->checkpoint_at)
        return 0;
    f->checkpoint_at = frames + SQLITE_FLUSH_CHECKPOINT_FRAMES;
    int wake = !f->checkpoint;
    f->checkpoint = 1;
    return wake;
}

uint64_t sqlite_flusher_committed(sqlite_flusher *f, int now, int expected, int frames)
{
    pthread_mutex_lock(&f->lock);
    uint64_t ticket = ++f->committed;
    int checkpoint = checkpoint_wanted(f, frames);
    if (expected && f->expected > 0)
        f->expected--;
    int wake = (now && request(f, ticket)) || (f->grouping && f->expected == 0);
    pthread_mutex_unlock(&f->lock);
    if (wake)
        pthread_cond_signal(&f->work);
    if (checkpoint)
        pthread_cond_signal(&f->ck_work);
    return ticket;
}

void sqlite_flusher_expect(sqlite_flusher *f, int delta)
{
    pthread_mutex_lock(&f->lock);
    f->expected += delta;
    if (f->expected < 0)
        f->expected = 0;
    int wake = f->grouping && f->expected == 0;
    pthread_mutex_unlock(&f->lock);
    if (wake)
        pthread_cond_signal(&f->work);
}

/* Whether each file is still the one opened: a removed or replaced database keeps taking
 * writes through the descriptors already open, and loses them all at the next start. */
static int files_changed(const sqlite_flusher *f, char *why, size_t whylen)
{
    for (size_t i = 0; i < N_FILES; i++) {
        const file_id *id = &f->files[i];
        struct stat st;
        if (!id->present)
            continue;
        if (stat(id->path, &st) == 0 && st.st_dev == id->dev && st.st_ino == id->ino)
            continue;
        snprintf(why, whylen,
                 "the database file %.256s was removed or replaced while serving: refusing to "
                 "answer; restore it and restart",
                 f->files[0].path);
        return 1;
    }
    return 0;
}

int sqlite_flusher_wait(sqlite_flusher *f, uint64_t ticket)
{
    char why[400];
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    int changed = files_changed(f, why, sizeof(why));
    pthread_mutex_lock(&f->lock);
    if (request(f, ticket)) {
        pthread_mutex_unlock(&f->lock);
        pthread_cond_signal(&f->work);
        pthread_mutex_lock(&f->lock);
    }
    while (!f->failed && f->flushed < ticket)
        pthread_cond_wait(&f->done, &f->lock);
    if (changed)
        set_failed(f, why);
    /* After a failure nothing the store says can be vouched for, even what it flushed before:
     * a later read may return pages that never reached the disk. */
    int ok = !f->failed && f->flushed >= ticket;
    pthread_mutex_unlock(&f->lock);
    metrics_store_commit(metrics_since(&started));
    return ok ? 0 : -1;
}

void sqlite_flusher_notify(sqlite_flusher *f, uint64_t ticket, store_durable_fn done, void *arg)
{
    char why[400];
    int changed = files_changed(f, why, sizeof(why));
    waiter *w = malloc(sizeof(*w));
    if (w == NULL) { /* out of memory: wait here rather than not at all */
        int failed = sqlite_flusher_wait(f, ticket) != 0;
        (void)sqlite_flusher_error(f, why, sizeof(why));
        tell_one(done, arg, failed, why);
        return;
    }
    *w = (waiter){.ticket = ticket, .done = done, .arg = arg};
    clock_gettime(CLOCK_MONOTONIC, &w->started);
    pthread_mutex_lock(&f->lock);
    if (changed)
        set_failed(f, why);
    w->next = f->waiters;
    f->waiters = w;
    int wake = !f->failed && request(f, ticket);
    int failed;
    char told[sizeof(f->why)];
    /* Already flushed, or failed (also every other waiter then, since the flusher may be gone) */
    waiter *ready = take_ready_state(f, &failed, told, sizeof(told));
    pthread_mutex_unlock(&f->lock);
    if (wake)
        pthread_cond_signal(&f->work);
    tell(ready, failed, told);
}

void sqlite_flusher_set_writers(sqlite_flusher *f, pthread_mutex_t *writers)
{
    pthread_mutex_lock(&f->lock);
    f->writers = writers;
    pthread_mutex_unlock(&f->lock);
}

void sqlite_flusher_set_group_wait(sqlite_flusher *f, long us)
{
    pthread_mutex_lock(&f->lock);
    f->group_wait_us = us;
    pthread_mutex_unlock(&f->lock);
}

uint64_t sqlite_flusher_flushes(sqlite_flusher *f)
{
    pthread_mutex_lock(&f->lock);
    uint64_t n = f->flushes;
    pthread_mutex_unlock(&f->lock);
    return n;
}

int sqlite_flusher_error(sqlite_flusher *f, char *why, size_t whylen)
{
    pthread_mutex_lock(&f->lock);
    int failed = f->failed;
    snprintf(why, whylen, "%s", failed ? f->why : "");
    pthread_mutex_unlock(&f->lock);
    return failed;
}
