/* Clocks and /proc: what the server and this process spend. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_pause_ms(long ms)
{
    struct timespec d = {(time_t)(ms / 1000), (ms % 1000) * 1000000};
    while (nanosleep(&d, &d) != 0)
        ;
}

double bench_own_cpu(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* utime + stime of the whole process (all its threads), fields 14 and 15 of /proc/PID/stat. */
static int read_cpu(long pid, double *out)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char *got = fgets(line, sizeof(line), f);
    fclose(f);
    char *p = got ? strrchr(line, ')') : NULL; /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    *out = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

static long status_kib(const char *text, const char *field)
{
    const char *p = strstr(text, field);
    return p ? strtol(p + strlen(field), NULL, 10) : -1;
}

int bench_proc_read(long pid, bench_proc *out)
{
    memset(out, 0, sizeof(*out));
    char path[64], text[4096];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    out->hwm_kib = status_kib(text, "\nVmHWM:");
    out->rss_kib = status_kib(text, "\nVmRSS:");
    return read_cpu(pid, &out->cpu);
}

typedef struct par {
    long n, stride;
    void (*fn)(void *, long);
    void *arg;
    atomic_long next;
} par;

static void *par_worker(void *arg)
{
    par *p = arg;
    for (;;) {
        long i = atomic_fetch_add(&p->next, 1) * p->stride;
        if (i >= p->n)
            return NULL;
        p->fn(p->arg, i);
    }
}

void bench_parallel(long n, long stride, void (*fn)(void *arg, long i), void *arg)
{
    par p = {.n = n, .stride = stride > 0 ? stride : 1, .fn = fn, .arg = arg};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long k = cores > 1 ? (cores < 64 ? cores : 64) : 1;
    pthread_t tids[64];
    long started = 0;
    while (started < k && pthread_create(&tids[started], NULL, par_worker, &p) == 0)
        started++;
    if (started == 0)
        par_worker(&p);
    for (long i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
}
