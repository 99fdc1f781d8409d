/* Thread handles on one shared store connection (store_shared.c), for a store_group. */
#ifndef SCEPD_STORE_SHARED_H
#define SCEPD_STORE_SHARED_H

#include <pthread.h>

#include "store/sqlite/sqlite_flush.h"
#include "store/store.h"

/*
 * A handle whose operations run on core (a store_sqlite_open() connection) while holding lock
 * (recursive), which every handle on core shares. flush() waits, without the lock, for the
 * flusher to cover the commits this handle made (flusher NULL: nothing to wait for). core,
 * lock and flusher are borrowed and outlive the handle. NULL when out of memory.
 */
store *store_shared_handle(store *core, pthread_mutex_t *lock, sqlite_flusher *flusher);

#endif
