/* The SQLite backend as the store front sees it: "sqlite:PATH" (or a plain path) and "memory:",
 * one connection per handle, and the group of a server's worker threads: one connection behind
 * a recursive mutex (store_shared.c) and one flusher for every commit (sqlite_flush.c). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite/store_shared.h"
#include "store/sqlite/store_sqlite.h"
#include "store/store.h"

struct store_backend_group {
    store *core;             /* the one connection all handles use (store_shared.c) */
    pthread_mutex_t lock;    /* recursive: held by a handle for each operation */
    sqlite_flusher *flusher; /* NULL for an in-memory database: nothing to flush */
};

static void set_err(char *err, size_t errlen, const char *what, const char *uri)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "store %.200s: %s", uri, what);
}

/* The path "sqlite:" is followed by: PATH, or ///abs/path, the URL form with an empty host;
 * NULL with a reason in err. */
static const char *sqlite_path(const char *uri, const char *rest, char *err, size_t errlen)
{
    if (strncmp(rest, "//", 2) != 0)
        return rest;
    if (rest[2] != '/') {
        set_err(err, errlen, "a host in a sqlite URI is not supported", uri);
        return NULL;
    }
    return rest + 2;
}

static store *sqlite_open(const char *uri, const char *rest, char *err, size_t errlen)
{
    const char *path = sqlite_path(uri, rest, err, errlen);
    return path ? store_sqlite_open(path, err, errlen, NULL, 0) : NULL;
}

static store *sqlite_create(const char *uri, const char *rest, char *err, size_t errlen)
{
    const char *path = sqlite_path(uri, rest, err, errlen);
    return path ? store_sqlite_open(path, err, errlen, NULL, 1) : NULL;
}

/* "memory:" and nothing after it: SQLite's private in-memory database. */
static const char *memory_path(const char *uri, const char *rest, char *err, size_t errlen)
{
    if (rest[0] == '\0')
        return ":memory:";
    set_err(err, errlen, "a memory store takes nothing after \"memory:\"", uri);
    return NULL;
}

static store *memory_open(const char *uri, const char *rest, char *err, size_t errlen)
{
    const char *path = memory_path(uri, rest, err, errlen);
    return path ? store_sqlite_open(path, err, errlen, NULL, 0) : NULL;
}

static int init_recursive(pthread_mutex_t *lock)
{
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0)
        return -1;
    int rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    if (rc == 0)
        rc = pthread_mutex_init(lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}

static void group_close(store_backend_group *g)
{
    if (g == NULL)
        return;
    /* The core first: the flusher's last flush then covers every commit it made. */
    store_close(g->core);
    sqlite_flusher_stop(g->flusher);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

static store_backend_group *group_at(const char *uri, const char *path, char *err, size_t errlen)
{
    if (path == NULL)
        return NULL;
    store_backend_group *g = calloc(1, sizeof(*g));
    if (g == NULL || init_recursive(&g->lock) != 0) {
        set_err(err, errlen, "out of memory", uri);
        free(g);
        return NULL;
    }
    /* A first connection creates or migrates the database and sets WAL mode, whose log the
     * flusher opens; an in-memory database exists only in that connection, so it is the core. */
    store *first = store_sqlite_open(path, err, errlen, NULL, 0);
    if (first != NULL && strcmp(path, ":memory:") == 0) {
        g->core = first;
        return g;
    }
    if (first != NULL) {
        char why[256] = "";
        g->flusher = sqlite_flusher_start(path, why, sizeof(why));
        if (g->flusher == NULL) {
            set_err(err, errlen, why, uri);
        } else {
            sqlite_flusher_set_writers(g->flusher, &g->lock); /* the core's commits hold it */
            g->core = store_sqlite_open(path, err, errlen, g->flusher, 0);
        }
    }
    store_close(first);
    if (g->core == NULL) {
        group_close(g);
        return NULL;
    }
    return g;
}

static store_backend_group *sqlite_group_open(const char *uri, const char *rest, char *err,
                                              size_t errlen)
{
    return group_at(uri, sqlite_path(uri, rest, err, errlen), err, errlen);
}

static store_backend_group *memory_group_open(const char *uri, const char *rest, char *err,
                                              size_t errlen)
{
    return group_at(uri, memory_path(uri, rest, err, errlen), err, errlen);
}

static store *group_handle(store_backend_group *g)
{
    return store_shared_handle(g->core, &g->lock, g->flusher);
}

static int sqlite_backup(const char *uri, const char *rest, const char *dest, char *err,
                         size_t errlen)
{
    const char *path = sqlite_path(uri, rest, err, errlen);
    return path ? store_sqlite_backup(path, dest, err, errlen) : -1;
}

static int sqlite_migrate(const char *uri, const char *rest, int64_t *from, int64_t *to, char *err,
                          size_t errlen)
{
    const char *path = sqlite_path(uri, rest, err, errlen);
    return path ? store_sqlite_migrate(path, from, to, err, errlen) : -1;
}

const store_backend store_sqlite_backend = {
    .scheme = "sqlite",
    .open = sqlite_open,
    .create = sqlite_create,
    .group_open = sqlite_group_open,
    .group_handle = group_handle,
    .group_close = group_close,
    .backup = sqlite_backup,
    .migrate = sqlite_migrate,
};

const store_backend store_memory_backend = {
    .scheme = "memory",
    .open = memory_open,
    .create = memory_open,
    .group_open = memory_group_open,
    .group_handle = group_handle,
    .group_close = group_close,
};
