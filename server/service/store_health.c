/* The store's state as the server saw it last (store_health.h). */
#include "service/store_health.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "log/log.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int down;  /* read without the lock on every request: cheap while up */
static char reason[512]; /* under the lock */

void store_health_failed(log_format fmt, const char *why)
{
    char line[600];
    pthread_mutex_lock(&lock);
    int was_up = !atomic_load(&down);
    if (was_up) {
        snprintf(reason, sizeof(reason), "%s", why != NULL && why[0] ? why : "no reason given");
        snprintf(line, sizeof(line), "certificate store unavailable: %s", reason);
        atomic_store(&down, 1);
    }
    pthread_mutex_unlock(&lock);
    if (was_up)
        log_error(stdout, fmt, line);
}

void store_health_ok(void)
{
    if (!atomic_load(&down))
        return;
    pthread_mutex_lock(&lock);
    atomic_store(&down, 0);
    reason[0] = '\0';
    pthread_mutex_unlock(&lock);
}

int store_health_problem(char *why, size_t whylen)
{
    pthread_mutex_lock(&lock);
    int is_down = atomic_load(&down);
    snprintf(why, whylen, "%s", is_down ? reason : "");
    pthread_mutex_unlock(&lock);
    return is_down;
}
