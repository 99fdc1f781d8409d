/* scep-bench: options, the three phases, and the report. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char usage_text[] =
    "usage: scep-bench -u URL [options]\n"
    "\n"
    "Enrolls N distinct PKCSReq messages (built before the clock starts) once each over C\n"
    "keep-alive connections, then verifies every CertRep and reports the rate, latency, and the\n"
    "server's CPU and memory. A run counts only if every response verifies and no serial repeats.\n"
    "\n"
    "  -u, --url URL            the SCEP URL (http:// only), e.g. http://127.0.0.1:8080/scep\n"
    "  -c, --challenge SECRET   challenge password to put in every CSR\n"
    "  -n, --count N            enrollments to send (default 1000)\n"
    "  -C, --concurrency C      workers, one connection each (default 8)\n"
    "  -m, --method post|get    PKIOperation by POST (default) or GET\n"
    "  -p, --pid PID            the server process: CPU per enrollment and peak RSS from /proc\n"
    "  -k, --key-bits BITS      RSA size of the requesters' keys (default 2048)\n"
    "      --pool N             distinct requester keys, reused round-robin (default 16)\n"
    "      --cipher NAME        request cipher (default: negotiated from GetCACaps)\n"
    "      --digest NAME        request digest (default: negotiated from GetCACaps)\n"
    "      --legacy             allow single DES and MD5 (micromdm answers in DES)\n"
    "      --verify-every K     verify every K-th response only (default 1: all)\n"
    "      --timeout S          seconds per HTTP exchange (default 60)\n"
    "      --label TEXT         a name printed with the result\n"
    "      --save DIR           write each request, its key and its outcome into DIR\n"
    "      --retry N            resend what got no answer or a 502/503/504, up to N rounds\n"
    "      --retry-wait MS      pause before each of those rounds (default 1000)\n"
    "      --start-at MS        fire at this time (milliseconds since the epoch)\n"
    "      --refused-wait MS    a 503 is counted as a refusal and sent again after MS, within\n"
    "                           the timed window (an overload measurement; default 0: never)\n"
    "      --kv                 print one key=value line instead of the report\n"
    "\n"
    "Exit status: 0 every response verified, 1 the run is not valid, 2 usage or setup error.\n";

static int number(const char *arg, long min, long max, long *out)
{
    char *end = NULL;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int set_algorithm(bench_opts *o, int c, const char *arg)
{
    if (c == 'x')
        o->cipher = scep_cipher_from_name(arg);
    else
        o->digest = scep_digest_from_name(arg);
    return (c == 'x' ? o->cipher != SCEP_CIPHER_NONE : o->digest != SCEP_DIGEST_NONE) ? 0 : -1;
}

static int set_numeric(bench_opts *o, int c, const char *arg)
{
    long v = 0;
    int rc = -1;
    switch (c) {
    case 'n':
        rc = number(arg, 1, 10000000, &o->count);
        break;
    case 'C':
        rc = number(arg, 1, 4096, &o->concurrency);
        break;
    case 'p':
        rc = number(arg, 1, 1L << 30, &o->pid);
        break;
    case 'k':
        rc = number(arg, 1024, 16384, &v);
        o->key_bits = (int)v;
        break;
    case 'P':
        rc = number(arg, 1, 4096, &v);
        o->pool = (int)v;
        break;
    case 'V':
        rc = number(arg, 1, 1L << 30, &o->verify_every);
        break;
    case 'T':
        rc = number(arg, 1, 3600, &v);
        o->timeout = (int)v;
        break;
    case 'R':
        rc = number(arg, 0, 1000, &o->retries);
        break;
    case 'W':
        rc = number(arg, 0, 600000, &o->retry_wait_ms);
        break;
    case 'A':
        rc = number(arg, 1, 1L << 62, &o->start_at_ms);
        break;
    case 'w':
        rc = number(arg, 0, 600000, &o->refused_wait_ms);
        break;
    }
    return rc;
}

static int set_option(bench_opts *o, int c, const char *arg)
{
    switch (c) {
    case 'u':
        o->url = arg;
        return 0;
    case 'c':
        o->challenge = arg;
        return 0;
    case 'm':
        o->use_get = strcmp(arg, "get") == 0;
        return o->use_get || strcmp(arg, "post") == 0 ? 0 : -1;
    case 'L':
        o->legacy = 1;
        return 0;
    case 'K':
        o->kv = 1;
        return 0;
    case 'l':
        o->label = arg;
        return 0;
    case 'S':
        o->save_dir = arg;
        return 0;
    case 'x':
    case 'd':
        return set_algorithm(o, c, arg);
    default:
        return set_numeric(o, c, arg);
    }
}

static int parse(int argc, char **argv, bench_opts *o)
{
    static const struct option longopts[] = {{"url", required_argument, NULL, 'u'},
                                             {"challenge", required_argument, NULL, 'c'},
                                             {"count", required_argument, NULL, 'n'},
                                             {"concurrency", required_argument, NULL, 'C'},
                                             {"method", required_argument, NULL, 'm'},
                                             {"pid", required_argument, NULL, 'p'},
                                             {"key-bits", required_argument, NULL, 'k'},
                                             {"pool", required_argument, NULL, 'P'},
                                             {"cipher", required_argument, NULL, 'x'},
                                             {"digest", required_argument, NULL, 'd'},
                                             {"legacy", no_argument, NULL, 'L'},
                                             {"verify-every", required_argument, NULL, 'V'},
                                             {"timeout", required_argument, NULL, 'T'},
                                             {"label", required_argument, NULL, 'l'},
                                             {"kv", no_argument, NULL, 'K'},
                                             {"save", required_argument, NULL, 'S'},
                                             {"retry", required_argument, NULL, 'R'},
                                             {"retry-wait", required_argument, NULL, 'W'},
                                             {"start-at", required_argument, NULL, 'A'},
                                             {"refused-wait", required_argument, NULL, 'w'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *o = (bench_opts){.count = 1000,
                      .concurrency = 8,
                      .key_bits = 2048,
                      .pool = 16,
                      .verify_every = 1,
                      .timeout = 60,
                      .retry_wait_ms = 1000,
                      .label = ""};
    int c;
    while ((c = getopt_long(argc, argv, "u:c:n:C:m:p:k:h", longopts, NULL)) != -1) {
        if (c == 'h' || c == '?' || set_option(o, c, optarg) != 0) {
            if (c != 'h' && c != '?')
                fprintf(stderr, "scep-bench: bad value for -%c: %s\n", c, optarg);
            fputs(usage_text, stderr);
            return -1;
        }
    }
    if (o->url == NULL || optind != argc) {
        fputs(usage_text, stderr);
        return -1;
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct latency {
    double p50, p99, max; /* milliseconds */
} latency;

/* Nearest-rank percentiles of the k durations v (sorted here). */
static latency percentiles(uint64_t *v, long k)
{
    latency l = {0, 0, 0};
    if (k > 0) {
        qsort(v, (size_t)k, sizeof(*v), cmp_u64);
        l.p50 = (double)v[(k * 50 + 99) / 100 - 1] / 1e6;
        l.p99 = (double)v[(k * 99 + 99) / 100 - 1] / 1e6;
        l.max = (double)v[k - 1] / 1e6;
    }
    return l;
}

/* Over the requests that got an HTTP answer (with --refused-wait: the send that was not a 503). */
static latency latencies(const bench_req *reqs, long n)
{
    uint64_t *v = calloc((size_t)n, sizeof(*v));
    long k = 0;
    for (long i = 0; v && i < n; i++)
        if (reqs[i].http_status != 0)
            v[k++] = reqs[i].end_ns - reqs[i].start_ns;
    latency l = percentiles(v, k);
    free(v);
    return l;
}

typedef struct run {
    bench_opts o;
    bench_target t;
    bench_req *reqs;
    double prep_seconds;
    bench_load load;
    bench_verdict v;
    long resent;
    int have_proc;
    bench_proc before, after;
    latency lat;
    latency refused_lat; /* of the 503s under --refused-wait */
} run;

static int valid(const run *r)
{
    return r->v.ok == r->v.checked && r->v.checked > 0 && r->v.dup_serials == 0 &&
           r->load.transport_errs == 0 && r->load.refused_no_retry_after == 0;
}

static void print_kv(const run *r)
{
    long n = r->o.count;
    double srv_cpu = r->have_proc ? r->after.cpu - r->before.cpu : -1;
    printf("label=%s valid=%d method=%s c=%ld n=%ld seconds=%.3f rate=%.1f p50_ms=%.2f "
           "p99_ms=%.2f max_ms=%.2f transport_errs=%ld reconnects=%ld checked=%ld ok=%ld "
           "http_errs=%ld bad_reply=%ld not_success=%ld bad_cert=%ld dup_serials=%ld "
           "server_cpu_ms=%.3f server_hwm_kib=%ld server_rss_before_kib=%ld bench_cpu_s=%.3f "
           "cipher=%s digest=%s reply_cipher=%s reply_digest=%s resent=%ld refused=%ld "
           "refused_no_retry_after=%ld refused_p50_ms=%.2f refused_p99_ms=%.2f "
           "refused_max_ms=%.2f\n",
           r->o.label[0] ? r->o.label : "-", valid(r), r->o.use_get ? "GET" : "POST",
           r->o.concurrency, n, r->load.seconds, (double)n / r->load.seconds, r->lat.p50,
           r->lat.p99, r->lat.max, r->load.transport_errs, r->load.reconnects, r->v.checked,
           r->v.ok, r->v.http_errs, r->v.bad_reply, r->v.not_success, r->v.bad_cert,
           r->v.dup_serials, srv_cpu >= 0 ? srv_cpu * 1000.0 / (double)n : -1.0,
           r->have_proc ? r->after.hwm_kib : -1, r->have_proc ? r->before.rss_kib : -1,
           r->load.own_cpu, scep_cipher_name(r->t.cipher), scep_digest_name(r->t.digest),
           scep_cipher_name(r->v.reply_cipher), scep_digest_name(r->v.reply_digest), r->resent,
           r->load.refused, r->load.refused_no_retry_after, r->refused_lat.p50, r->refused_lat.p99,
           r->refused_lat.max);
}

static void print_server(const run *r)
{
    if (!r->have_proc) {
        printf("  server      (no --pid: CPU and memory not measured)\n");
        return;
    }
    double cpu = r->after.cpu - r->before.cpu;
    printf("  server      pid %ld: %.3f ms CPU per enrollment (%.2f s in %.2f s wall, %.0f%% of "
           "a core)\n",
           r->o.pid, cpu * 1000.0 / (double)r->o.count, cpu, r->load.seconds,
           100.0 * cpu / r->load.seconds);
    printf("              peak RSS %.1f MiB (VmHWM), RSS %.1f MiB before the run\n",
           (double)r->after.hwm_kib / 1024.0, (double)r->before.rss_kib / 1024.0);
}

static void print_report(const run *r)
{
    const bench_verdict *v = &r->v;
    long n = r->o.count;
    printf("scep-bench %s%s%s %s c=%ld n=%ld, request %s + %s", r->o.url, r->o.label[0] ? " " : "",
           r->o.label, r->o.use_get ? "GET" : "POST", r->o.concurrency, n,
           scep_cipher_name(r->t.cipher), scep_digest_name(r->t.digest));
    if (v->reply_cipher != SCEP_CIPHER_NONE)
        printf(", reply %s + %s\n", scep_cipher_name(v->reply_cipher),
               scep_digest_name(v->reply_digest));
    else
        printf(", no reply opened\n");
    printf("  prepared    %ld PKCSReq in %.2f s (%d RSA-%d requester keys)\n", n, r->prep_seconds,
           r->t.pool, r->o.key_bits);
    printf("  rate        %.1f enrollments/s (%ld in %.3f s)\n", (double)n / r->load.seconds, n,
           r->load.seconds);
    printf("  latency     p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", r->lat.p50, r->lat.p99,
           r->lat.max);
    printf("  transport   %ld without an answer, %ld reconnects\n", r->load.transport_errs,
           r->load.reconnects);
    if (r->o.refused_wait_ms > 0)
        printf("  refused     %ld answers 503 (%ld without Retry-After), each sent again after "
               "%ld ms; 503 latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
               r->load.refused, r->load.refused_no_retry_after, r->o.refused_wait_ms,
               r->refused_lat.p50, r->refused_lat.p99, r->refused_lat.max);
    if (r->o.retries > 0)
        printf("  resent      %ld times (up to %ld rounds)\n", r->resent, r->o.retries);
    printf("  verified    %ld/%ld ok (%s); %ld HTTP, %ld bad reply, %ld not SUCCESS, %ld bad "
           "certificate, %ld with a duplicate serial\n",
           v->ok, v->checked, r->o.verify_every == 1 ? "all" : "sampled", v->http_errs,
           v->bad_reply, v->not_success, v->bad_cert, v->dup_serials);
    print_server(r);
    printf("  bench       %.2f s CPU in the window (%.3f ms per enrollment)\n", r->load.own_cpu,
           r->load.own_cpu * 1000.0 / (double)n);
    if (valid(r))
        printf("  VALID: every checked response verified, no duplicate serial\n");
    else
        printf("  NOT VALID%s%s\n", v->first_problem[0] ? ": first problem: " : "",
               v->first_problem[0] ? v->first_problem : ": duplicate serials");
}

static int measure(run *r, char *err, size_t errlen)
{
    uint64_t t0 = bench_now_ns();
    if (bench_prepare(&r->t, &r->o, r->reqs, err, errlen) != 0)
        return -1;
    r->prep_seconds = (double)(bench_now_ns() - t0) / 1e9;
    r->have_proc = r->o.pid != 0 && bench_proc_read(r->o.pid, &r->before) == 0;
    if (bench_fire(&r->t, &r->o, r->reqs, &r->load) != 0) {
        snprintf(err, errlen, "cannot start the workers");
        return -1;
    }
    if (r->have_proc && bench_proc_read(r->o.pid, &r->after) != 0)
        r->have_proc = 0;
    r->lat = latencies(r->reqs, r->o.count);
    r->refused_lat = percentiles(r->load.refused_ns, r->load.refused);
    bench_verify(&r->t, &r->o, r->reqs, &r->v);
    r->resent = bench_retry(&r->t, &r->o, r->reqs, &r->load, &r->v);
    return r->o.save_dir ? bench_save(&r->t, &r->o, r->reqs, err, errlen) : 0;
}

int main(int argc, char **argv)
{
    static run r; /* large; zeroed */
    char err[256] = "";
    if (parse(argc, argv, &r.o) != 0)
        return 2;
    int rc = 2;
    r.reqs = calloc((size_t)r.o.count, sizeof(*r.reqs));
    if (r.reqs != NULL && bench_target_open(&r.t, &r.o, err, sizeof(err)) == 0 &&
        measure(&r, err, sizeof(err)) == 0) {
        if (r.o.kv)
            print_kv(&r);
        else
            print_report(&r);
        rc = valid(&r) ? 0 : 1;
    } else {
        fprintf(stderr, "scep-bench: %s\n", err[0] ? err : "out of memory");
    }
    for (long i = 0; r.reqs && i < r.o.count; i++)
        bench_req_clear(&r.reqs[i]);
    free(r.reqs);
    bench_target_close(&r.t);
    free(r.load.refused_ns);
    return rc;
}
