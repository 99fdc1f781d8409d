/* --retry: what a client does when a node or the store was away. A request that got no
 * answer, or a 502, 503 or 504 (a proxy without a node, or a node without its store), is sent
 * again byte for byte; a server that had issued it answers the same certificate. Any other
 * failure is a wrong answer and is never resent. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static int retryable(const bench_req *r)
{
    return !r->verified && (r->http_status == 0 || r->http_status == 502 || r->http_status == 503 ||
                            r->http_status == 504);
}

static void forget_answer(bench_req *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    r->http_status = 0;
    r->content_type[0] = '\0';
}

/* One round: resends what is retryable and verifies the new answers. Returns how many. */
static long retry_round(const bench_target *t, const bench_opts *o, bench_req *reqs, long *idx)
{
    long n = 0;
    for (long i = 0; i < o->count; i++)
        if (retryable(&reqs[i]))
            idx[n++] = i;
    if (n == 0)
        return 0;
    bench_pause_ms(o->retry_wait_ms);
    for (long k = 0; k < n; k++)
        forget_answer(&reqs[idx[k]]);
    bench_load load;
    bench_verdict v;
    bench_fire_some(t, o, reqs, idx, n, &load);
    free(load.refused_ns);
    bench_verify_some(t, reqs, idx, n, &v);
    return n;
}

long bench_retry(const bench_target *t, const bench_opts *o, bench_req *reqs, bench_load *load,
                 bench_verdict *v)
{
    for (long i = 0; i < o->count; i++)
        memcpy(reqs[i].first_outcome, reqs[i].outcome, sizeof(reqs[i].outcome));
    long *idx = calloc((size_t)o->count, sizeof(*idx));
    long resent = 0, n = 1;
    for (long round = 0; idx && n > 0 && round < o->retries; round++)
        resent += n = retry_round(t, o, reqs, idx);
    free(idx);
    if (resent > 0) {
        bench_verify(t, o, reqs, v); /* the verdict and the duplicate serials of the whole run */
        load->transport_errs = 0;
        for (long i = 0; i < o->count; i++)
            load->transport_errs += reqs[i].http_status == 0;
    }
    return resent;
}
