/*
 * The server's counters and histograms, process-wide, for GET /metrics (Prometheus text
 * exposition format 0.0.4). One call per event, lock-free (C11 atomics): safe from any thread,
 * never a lock on the request path. A scrape may see one event's counters a moment apart.
 */
#ifndef SCEPD_METRICS_H
#define SCEPD_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* One answered HTTP request: operation as scep_operation_name() gives it, the messageType (0:
 * none), the log line's outcome ("SUCCESS", "PENDING", "FAILURE", "ok", "error") and failInfo
 * (-1: none), and how long it took. */
void metrics_request(const char *operation, int msg_type, const char *outcome, int fail_info,
                     double seconds);

/* The store: one flush of its log to disk, and a commit waiting until it is durable. */
void metrics_store_flush(double seconds);
/* The FAILURE answers with this failInfo (0-4) since the start, over every operation. */
uint64_t metrics_failures(int fail_info);
void metrics_store_commit(double seconds);

typedef enum metrics_cert_event {
    METRICS_ISSUED = 0,  /* a new certificate for an enrollment */
    METRICS_RENEWED = 1, /* a new certificate for a renewal */
    METRICS_REVOKED = 2, /* a revocation this process made */
} metrics_cert_event;
void metrics_certificate(metrics_cert_event event);

/* The certificates of one CA whose expiry a scrape reports (Unix seconds; 0: there is none). */
typedef struct metrics_ca_times {
    int64_t ca_not_after, next_ca_not_after, ra_not_after;
} metrics_ca_times;

/* A profile's own CA (ca_dir): its certificates' times, labelled ca="name" (the profile's). */
typedef struct metrics_profile_ca {
    char name[40];
    metrics_ca_times times;
} metrics_profile_ca;

/* What a scrape reads from the server's state and store (times in Unix seconds; 0: there is
 * none; pending -1: unknown). */
typedef struct metrics_gauges {
    int64_t now;
    int64_t ca_not_after, next_ca_not_after, ra_not_after, crl_next_update;
    long pending;
    metrics_profile_ca *pcas; /* n_pcas of them, the caller's */
    size_t n_pcas;
} metrics_gauges;

/* The exposition text, NUL-terminated, with its length in *len; the caller frees it with
 * free(). NULL when out of memory. */
char *metrics_render(const metrics_gauges *g, size_t *len);

/* Seconds since t (a CLOCK_MONOTONIC time), for the calls above. */
struct timespec;
double metrics_since(const struct timespec *t);

#endif
