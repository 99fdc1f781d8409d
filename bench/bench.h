/*
 * scep-bench: a verifying SCEP load generator on libscep.
 *
 * The run has three phases and only the middle one is timed:
 *   prepare  (prepare.c) fetch GetCACaps and GetCACert, build every PKCSReq;
 *   fire     (load.c)    send each message once over C keep-alive connections;
 *   verify   (verify.c)  check every CertRep and the serials across the run.
 * Nothing in the timed window parses CMS or touches a private key.
 */
#ifndef SCEP_BENCH_H
#define SCEP_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <scep/scep.h>

/* Where the server is: only plain http:// (a benchmark of the server, not of TLS). */
typedef struct bench_url {
    char host[256];
    char port[8];
    char path[1024]; /* starts with '/', no query */
} bench_url;

typedef struct bench_opts {
    const char *url;
    const char *challenge; /* may be NULL */
    long count;            /* enrollments to send */
    long concurrency;      /* workers, each with its own keep-alive connection */
    int use_get;           /* -m get */
    long pid;              /* server process to measure; 0: none */
    int key_bits;          /* RSA size of the requesters' keys */
    int pool;              /* distinct requester keys */
    scep_cipher cipher;    /* 0: negotiated from GetCACaps */
    scep_digest digest;    /* 0: negotiated from GetCACaps */
    int legacy;            /* allow single DES and MD5 (micromdm replies in DES) */
    long verify_every;     /* verify every k-th response; 1 = all (the default) */
    int timeout;           /* seconds per HTTP exchange */
    int kv;                /* one machine-readable line instead of the report */
    const char *label;     /* printed with the result */
    const char *save_dir;  /* --save: every request, its key and its outcome go there */
    long retries;          /* --retry: rounds of resending what failed for want of a server */
    long retry_wait_ms;    /* --retry-wait: pause before each round */
    long start_at_ms;      /* --start-at: fire at this wall-clock time (ms since the epoch) */
    long refused_wait_ms;  /* --refused-wait: a 503 is sent again after this pause; 0: never */
} bench_opts;

/* One enrollment: what is sent (built before the clock starts) and what came back. */
typedef struct bench_req {
    /* Request, immutable once built. */
    unsigned char *der; /* the PKCSReq; OPENSSL_free */
    size_t der_len;
    char *target; /* the HTTP request-target: path?query; free */
    char transaction_id[SCEP_MAX_TRANSACTION_ID + 1];
    unsigned char nonce[SCEP_NONCE_BYTES];
    int key_index; /* into bench_target.keys */
    X509_NAME *subject;
    /* Response, written by the one worker that sent it. */
    int http_status; /* 0: no HTTP answer */
    char content_type[64];
    unsigned char *body; /* free */
    size_t body_len;
    uint64_t start_ns, end_ns;
    /* Verification, written by the one thread that verified it. */
    int verified;     /* a SUCCESS whose certificate checked out */
    char serial[72];  /* its serial, hex upper-case */
    char outcome[16]; /* "ok", "transport", "http-503", "bad-reply", "not-success", "bad-cert" */
    /* Resends (retry.c): how many times it was sent, and what the first send got. */
    int attempts;
    char first_outcome[16];
    long long sent_at_ms; /* the last send, wall clock: to tell what the store had before it */
} bench_req;

/* The server as GetCACert and GetCACaps describe it, and the requesters' key pool. */
typedef struct bench_target {
    bench_url url;
    scep_ctx *ctx;
    STACK_OF(X509) * ca_certs;
    X509 *ca, *ra_enc, *ra_sign; /* borrowed from ca_certs */
    scep_caps caps;
    scep_cipher cipher;
    scep_digest digest;
    int pool;
    EVP_PKEY **keys;
    X509 **signers; /* one self-signed signer certificate per pool key */
} bench_target;

/* What the timed window measured. */
typedef struct bench_load {
    double seconds;      /* first send to last answer */
    long transport_errs; /* no HTTP answer at all */
    long reconnects;     /* keep-alive connections the server closed and we reopened */
    double own_cpu;      /* this process's user+system seconds in the window */
    /* --refused-wait: the 503s answered in the window, and how long each took. */
    long refused;
    long refused_no_retry_after; /* of those, without a Retry-After header */
    uint64_t *refused_ns;        /* refused entries; free */
} bench_load;

/* What verification found. */
typedef struct bench_verdict {
    long checked, ok;
    long http_errs;   /* answered, but not 200 application/x-pki-message */
    long bad_reply;   /* signature, transactionID, recipientNonce, decryption */
    long not_success; /* FAILURE or PENDING */
    long bad_cert;    /* certificate missing, wrong key, subject, issuer or signature */
    long dup_serials; /* certificates whose serial another certificate in the run also has */
    char first_problem[256];
    scep_cipher reply_cipher; /* as seen in the first verified reply */
    scep_digest reply_digest;
} bench_verdict;

/* A server process's use of the machine, from /proc. */
typedef struct bench_proc {
    double cpu;   /* user+system seconds */
    long hwm_kib; /* VmHWM: peak resident set */
    long rss_kib; /* VmRSS now */
} bench_proc;

/* net.c: a minimal HTTP/1.1 client with keep-alive over blocking sockets. */
typedef struct bench_conn {
    const bench_url *url;
    int fd;
    int timeout;
    int used; /* served a request already: a close before any answer byte may be retried */
    unsigned char *buf;
    size_t cap, have;
} bench_conn;

typedef struct bench_reply {
    int status;
    int retry_after; /* the Retry-After header in seconds; -1: none */
    char content_type[64];
    unsigned char *body; /* free */
    size_t len;
} bench_reply;

int bench_url_parse(const char *url, bench_url *out, char *err, size_t errlen);
void bench_conn_init(bench_conn *c, const bench_url *url, int timeout);
int bench_conn_connect(bench_conn *c);
void bench_conn_close(bench_conn *c);
/* One exchange; reopens the connection when the server closed it while idle. Returns 0 with
 * *r filled (any HTTP status), -1 when no answer came. *reconnects counts reopenings. */
int bench_http(bench_conn *c, const char *method, const char *target, const unsigned char *body,
               size_t len, bench_reply *r, long *reconnects);

/* prepare.c */
int bench_target_open(bench_target *t, const bench_opts *o, char *err, size_t errlen);
/* The same without a server: certs are a CA's (and its RA's) as GetCACert would answer them
 * (references are taken); the algorithms are o's, or AES-128-CBC and SHA-256. */
int bench_target_local(bench_target *t, const bench_opts *o, STACK_OF(X509) * certs, char *err,
                       size_t errlen);
void bench_target_close(bench_target *t);
int bench_prepare(const bench_target *t, const bench_opts *o, bench_req *reqs, char *err,
                  size_t errlen);
void bench_req_clear(bench_req *r);

/* load.c */
int bench_fire(const bench_target *t, const bench_opts *o, bench_req *reqs, bench_load *out);
/* The same for the n requests reqs[idx[0..n)] only. */
int bench_fire_some(const bench_target *t, const bench_opts *o, bench_req *reqs, const long *idx,
                    long n, bench_load *out);

/* verify.c */
void bench_verify(const bench_target *t, const bench_opts *o, bench_req *reqs, bench_verdict *out);
/* The same for reqs[idx[0..n)] only, every one of them. */
void bench_verify_some(const bench_target *t, bench_req *reqs, const long *idx, long n,
                       bench_verdict *out);

/* retry.c: --retry. Resends, byte for byte, each request that got no answer or a 502, 503 or
 * 504, up to o->retries rounds, and verifies the new answers. Returns the resends made. */
long bench_retry(const bench_target *t, const bench_opts *o, bench_req *reqs, bench_load *load,
                 bench_verdict *v);

/* save.c: DIR/results ("TRANSACTIONID ok SERIAL" or "TRANSACTIONID failed -" per request, then
 * the number of sends, the outcomes of the first and the last, and the wall-clock time of the
 * last send in milliseconds) and,
 * per request, DIR/TRANSACTIONID.req (the PKCSReq, DER), .key (its requester's key, PEM, 0600)
 * and .crt (its signer certificate): enough to send it again and open the answer. */
int bench_save(const bench_target *t, const bench_opts *o, const bench_req *reqs, char *err,
               size_t errlen);

/* proc.c */
int bench_proc_read(long pid, bench_proc *out);
double bench_own_cpu(void);
uint64_t bench_now_ns(void);
void bench_pause_ms(long ms);
/* Calls fn(arg, i) for i = 0, stride, 2 * stride, ... below n, on one thread per core. */
void bench_parallel(long n, long stride, void (*fn)(void *arg, long i), void *arg);

#endif
