/* The registry behind metrics.h and its text exposition. Counters are plain C11 atomics, added
 * to with relaxed ordering: each is exact on its own, and a scrape needs no more. */
#include "metrics/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "scep/scep.h"

/* The label values, by index; the last of each is where anything else is counted. */
static const int msg_types[] = {SCEP_MSG_NONE,     SCEP_MSG_CERT_REP,  SCEP_MSG_RENEWAL_REQ,
                                SCEP_MSG_PKCS_REQ, SCEP_MSG_CERT_POLL, SCEP_MSG_GET_CERT,
                                SCEP_MSG_GET_CRL};
static const char *const outcomes[] = {"SUCCESS", "PENDING", "FAILURE", "ok", "error"};
#define N_OPS (SCEP_OP_GET_CA_CERT_CHAIN + 1)
#define N_TYPES (sizeof(msg_types) / sizeof(msg_types[0]))
#define N_OUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))
#define N_FAILS (SCEP_FAIL_BAD_CERT_ID + 2) /* none, then the five failInfo values */

/* Upper bounds in seconds; +Inf is the count. */
static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                0.25,  0.5,    1,     2.5,  5,     10};
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))

typedef struct histogram {
    atomic_uint_fast64_t in_bucket[N_BOUNDS + 1]; /* not cumulative: the render sums them */
    atomic_uint_fast64_t sum_ns;
} histogram;

static atomic_uint_fast64_t requests[N_OPS][N_TYPES][N_OUTCOMES][N_FAILS];
static histogram latency[N_OPS];
static histogram store_flush, store_commit;
static atomic_uint_fast64_t certificates[3];

static size_t index_of_operation(const char *name)
{
    for (size_t i = 1; i < N_OPS; i++)
        if (strcmp(name, scep_operation_name((scep_operation)i)) == 0)
            return i;
    return 0; /* unknown */
}

static size_t index_of_type(int type)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (msg_types[i] == type)
            return i;
    return 0;
}

static size_t index_of_outcome(const char *outcome)
{
    for (size_t i = 0; outcome != NULL && i < N_OUTCOMES; i++)
        if (strcmp(outcome, outcomes[i]) == 0)
            return i;
    return N_OUTCOMES - 1;
}

static void observe(histogram *h, double seconds)
{
    if (!(seconds >= 0))
        seconds = 0;
    size_t b = 0;
    while (b < N_BOUNDS && seconds > bounds[b])
        b++;
    atomic_fetch_add_explicit(&h->in_bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint_fast64_t)(seconds * 1e9), memory_order_relaxed);
}

void metrics_request(const char *operation, int msg_type, const char *outcome, int fail_info,
                     double seconds)
{
    size_t op = index_of_operation(operation ? operation : "");
    size_t fail = fail_info >= 0 && fail_info < N_FAILS - 1 ? (size_t)fail_info + 1 : 0;
    atomic_fetch_add_explicit(
        &requests[op][index_of_type(msg_type)][index_of_outcome(outcome)][fail], 1,
        memory_order_relaxed);
    observe(&latency[op], seconds);
}

void metrics_store_flush(double seconds)
{
    observe(&store_flush, seconds);
}

void metrics_store_commit(double seconds)
{
    observe(&store_commit, seconds);
}

void metrics_certificate(metrics_cert_event event)
{
    if ((unsigned)event < 3)
        atomic_fetch_add_explicit(&certificates[event], 1, memory_order_relaxed);
}

double metrics_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static uint64_t load(atomic_uint_fast64_t *v)
{
    return (uint64_t)atomic_load_explicit(v, memory_order_relaxed);
}

static const char *type_label(size_t i)
{
    return i == 0 ? "none" : scep_msg_type_name(msg_types[i]);
}

static const char *fail_label(size_t i)
{
    return i == 0 ? "none" : scep_fail_info_name((int)i - 1);
}

/* Only the combinations seen: the others would be thousands of zeros. */
static void render_requests(FILE *f)
{
    fputs("# HELP scepd_requests_total Requests answered, by operation, message_type, outcome and "
          "fail_info.\n# TYPE scepd_requests_total counter\n",
          f);
    for (size_t o = 0; o < N_OPS; o++)
        for (size_t t = 0; t < N_TYPES; t++)
            for (size_t r = 0; r < N_OUTCOMES; r++)
                for (size_t x = 0; x < N_FAILS; x++) {
                    uint64_t n = load(&requests[o][t][r][x]);
                    if (n != 0)
                        fprintf(f,
                                "scepd_requests_total{operation=\"%s\",message_type=\"%s\","
                                "outcome=\"%s\",fail_info=\"%s\"} %llu\n",
                                scep_operation_name((scep_operation)o), type_label(t), outcomes[r],
                                fail_label(x), (unsigned long long)n);
                }
}

/* One histogram's lines; labels is "" or `name="value",`. */
static void render_histogram(FILE *f, const char *name, const char *labels, histogram *h)
{
    uint64_t total = 0;
    for (size_t b = 0; b <= N_BOUNDS; b++) {
        total += load(&h->in_bucket[b]);
        if (b < N_BOUNDS)
            fprintf(f, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, bounds[b],
                    (unsigned long long)total);
        else
            fprintf(f, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)total);
    }
    size_t n = strlen(labels);
    fprintf(f, "%s_sum%s%.*s%s %.9f\n", name, n ? "{" : "", n ? (int)n - 1 : 0, labels,
            n ? "}" : "", (double)load(&h->sum_ns) / 1e9);
    fprintf(f, "%s_count%s%.*s%s %llu\n", name, n ? "{" : "", n ? (int)n - 1 : 0, labels,
            n ? "}" : "", (unsigned long long)total);
}

static void render_latencies(FILE *f)
{
    fputs("# HELP scepd_request_duration_seconds Time to answer a request, by operation.\n"
          "# TYPE scepd_request_duration_seconds histogram\n",
          f);
    for (size_t o = 0; o < N_OPS; o++) {
        char labels[64];
        snprintf(labels, sizeof(labels), "operation=\"%s\",",
                 scep_operation_name((scep_operation)o));
        render_histogram(f, "scepd_request_duration_seconds", labels, &latency[o]);
    }
    fputs("# HELP scepd_store_commit_duration_seconds Time a commit waited until it was on disk.\n"
          "# TYPE scepd_store_commit_duration_seconds histogram\n",
          f);
    render_histogram(f, "scepd_store_commit_duration_seconds", "", &store_commit);
    fputs("# HELP scepd_store_flush_duration_seconds Time of one flush of the store's log to "
          "disk.\n# TYPE scepd_store_flush_duration_seconds histogram\n",
          f);
    render_histogram(f, "scepd_store_flush_duration_seconds", "", &store_flush);
}

static void render_certificates(FILE *f)
{
    static const char *const names[3] = {"issued", "renewed", "revoked"};
    static const char *const help[3] = {"Certificates issued for new enrollments",
                                        "Certificates issued for renewals",
                                        "Certificates this process revoked"};
    for (int i = 0; i < 3; i++)
        fprintf(f,
                "# HELP scepd_certificates_%s_total %s.\n# TYPE scepd_certificates_%s_total "
                "counter\nscepd_certificates_%s_total %llu\n",
                names[i], help[i], names[i], names[i], (unsigned long long)load(&certificates[i]));
}

/* One CA's expiry samples; label is "" (the server's CA) or ,ca="NAME". */
static void render_expiry(FILE *f, const metrics_ca_times *t, const char *label, int64_t now)
{
    const struct {
        const char *which;
        int64_t at;
    } certs[] = {
        {"ca", t->ca_not_after}, {"next_ca", t->next_ca_not_after}, {"ra", t->ra_not_after}};
    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
        if (certs[i].at != 0)
            fprintf(f, "scepd_certificate_expiry_seconds{certificate=\"%s\"%s} %lld\n",
                    certs[i].which, label, (long long)(certs[i].at - now));
}

static void render_gauges(FILE *f, const metrics_gauges *g)
{
    fputs("# HELP scepd_certificate_expiry_seconds Seconds until the certificate expires.\n"
          "# TYPE scepd_certificate_expiry_seconds gauge\n",
          f);
    metrics_ca_times own = {g->ca_not_after, g->next_ca_not_after, g->ra_not_after};
    render_expiry(f, &own, "", g->now);
    for (size_t i = 0; i < g->n_pcas; i++) {
        char label[sizeof(g->pcas[i].name) + 8];
        snprintf(label, sizeof(label), ",ca=\"%s\"", g->pcas[i].name);
        render_expiry(f, &g->pcas[i].times, label, g->now);
    }
    fputs("# HELP scepd_crl_next_update_seconds Seconds until the latest CRL's nextUpdate.\n"
          "# TYPE scepd_crl_next_update_seconds gauge\n",
          f);
    if (g->crl_next_update != 0)
        fprintf(f, "scepd_crl_next_update_seconds %lld\n",
                (long long)(g->crl_next_update - g->now));
    fputs("# HELP scepd_pending_requests Requests waiting for an operator.\n"
          "# TYPE scepd_pending_requests gauge\n",
          f);
    if (g->pending >= 0)
        fprintf(f, "scepd_pending_requests %ld\n", g->pending);
}

char *metrics_render(const metrics_gauges *g, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (f == NULL)
        return NULL;
    render_requests(f);
    render_latencies(f);
    render_certificates(f);
    render_gauges(f, g);
    fprintf(f,
            "# HELP scepd_build_info The version of scepd and of OpenSSL it runs with.\n"
            "# TYPE scepd_build_info gauge\n"
            "scepd_build_info{version=\"%s\",openssl=\"%s\"} 1\n",
            SCEP_VERSION_STRING, OpenSSL_version(OPENSSL_VERSION_STRING));
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

uint64_t metrics_failures(int fail_info)
{
    if (fail_info < 0 || fail_info >= (int)N_FAILS - 1)
        return 0;
    uint64_t n = 0;
    for (size_t op = 0; op < N_OPS; op++)
        for (size_t t = 0; t < N_TYPES; t++)
            n += load(&requests[op][t][2 /* FAILURE */][fail_info + 1]);
    return n;
}
