/*
 * POST /challenge[?ttl=SECONDS&subject_match=REGEX] with "Authorization: Bearer TOKEN" answers
 * a fresh one-time challenge as text/plain; GET /lockouts (token) lists the sources of failed
 * attempts. GET /readyz (no token): 200 when the server can issue, 503 when it cannot, with one
 * reason or warning a line. GET /healthz (no token): 200 "ok" whenever the process answers.
 * GET /metrics (no token, read only, like /readyz): the Prometheus text exposition.
 * GET /ui/ (no token: the files hold no data): the web console (ui_files.c).
 * Under /api/v1/ the admin API (api.h, docs/admin.md): JSON, tokens with roles from the store
 * (`scepd token`) or admin_token. Anything else: 401, 404 or 405. Bad or missing tokens are
 * counted per address (server/policy/lockout.c): past the limit, 429 with Retry-After. A small
 * thread pool answers, so a slow API call does not hold up /readyz.
 */
#include "admin/admin_http.h"

#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "admin/api.h"
#include "admin/api_auth.h"
#include "admin/admin_tls.h"
#include "admin/ui_files.h"
#include "ca/ca_generations.h"
#include "ca/ca_health.h"
#include "policy/challenge.h"
#include "profile/profile.h"
#include "http/http.h"
#include "policy/lockout.h"
#include "log/audit_store.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "service/store_health.h"

/* A profile's own CA (ca_dir), for /readyz: its eras' certificates. */
typedef struct pca_view {
    char profile[CONFIG_PROFILE_NAME];
    char dir[CONFIG_PATH];
    authority view[2];
    int n_views;
    time_t switch_at;
} pca_view;

struct admin_http {
    config cfg; /* a copy: the endpoint outlives reloads of the main server */
    char token[CONFIG_SECRET];
    struct MHD_Daemon *daemon;
    struct sockaddr_storage addr;
    char cert_role[16]; /* admin_client_cert_role */
    /* HTTPS and client certificates, kept while their daemon runs; a reload of the files
     * (admin_http_reload_tls) starts a daemon with the new ones, and the old one finishes its
     * connections until the next. */
    admin_tls *tls; /* the live daemon's: under lock */
    struct MHD_Daemon *retired;
    admin_tls *retired_tls;
    /* What the server serves, for /readyz: certificates only, replaced at each reload. */
    pthread_mutex_t lock;
    authority view[2];
    int n_views;
    time_t switch_at;
    pca_view *pcas;
    size_t n_pcas;
    store *st; /* for /metrics, under st_lock; opened at first use */
    pthread_mutex_t st_lock;
};

#define ADMIN_THREADS 4u

/* What one connection sent: its body, up to API_BODY_MAX. */
typedef struct admin_conn {
    char *body;
    size_t len;
    size_t seen; /* bytes of body received, kept or not */
    int too_big;
    struct timespec over_at; /* when the body passed API_BODY_MAX */
} admin_conn;

#define BODY_LIMIT_TEXT "64 KiB" /* API_BODY_MAX, for the messages */
/* libmicrohttpd 0.9.75 queues no answer in the middle of a body: a body past the limit is read
 * and dropped until it ends, then answered 413. One still arriving past these is cut. */
#define DISCARD_MAX (64u * 1024u * 1024u)
#define DISCARD_SECONDS 5

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    if (status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* 429 with Retry-After, or 503 with retry_after -1: the store cannot say. */
static enum MHD_Result too_many(struct MHD_Connection *conn, long retry_after)
{
    char body[96] = "cannot check the token now\n", secs[24] = "10";
    unsigned status = retry_after < 0 ? 503 : 429;
    if (retry_after >= 0) {
        snprintf(body, sizeof(body), "too many failed attempts, retry after %ld s\n", retry_after);
        snprintf(secs, sizeof(secs), "%ld", retry_after);
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static store *admin_store(admin_http *a)
{
    if (a->st == NULL) {
        char uri[CONFIG_PATH * 2], err[512];
        config_store_uri(&a->cfg, uri, sizeof(uri));
        a->st = store_open(uri, err, sizeof(err));
        if (a->st == NULL)
            log_error(stdout, a->cfg.log_format, err);
    }
    return a->st;
}

static void peer_key(struct MHD_Connection *conn, char *key, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    lockout_sockaddr_key(ci ? ci->client_addr : NULL, key, len);
}

/* A bad or missing token: counted against the address and logged, never the token. */
static void count_bad_token(admin_http *a, store *st, const char *key)
{
    (void)lockout_fail(st, &a->cfg, LOCKOUT_ADMIN, key, "admin tokens");
    char line[160];
    snprintf(line, sizeof(line), "admin: bad or missing bearer token from %s", key[0] ? key : "-");
    log_info(stdout, a->cfg.log_format, line);
}

static store *open_call_store(const admin_http *a)
{
    char uri[CONFIG_PATH * 2], err[512];
    config_store_uri(&a->cfg, uri, sizeof(uri));
    store *st = store_open(uri, err, sizeof(err));
    if (st == NULL)
        log_error(stdout, a->cfg.log_format, err);
    return st;
}

/* profile=NAME: a profile of the configuration as it is now (a reload may have added it). */
static int profile_refused(admin_http *a, struct MHD_Connection *conn, const char *name,
                           enum MHD_Result *ret)
{
    char err[512], msg[128];
    if (name == NULL)
        return 0;
    if (!config_profile_name_ok(name)) {
        *ret = text(conn, 400, "profile must be a profile name: 1 to 32 of a-z, 0-9, _ and -\n");
        return 1;
    }
    int found = profile_exists(&a->cfg, name, err, sizeof(err));
    if (found == 1)
        return 0;
    snprintf(msg, sizeof(msg),
             found == 0 ? "no profile '%s' on this server\n"
                        : "cannot read the profiles now (%s)\n",
             name);
    *ret = text(conn, found == 0 ? 404 : 503, msg);
    return 1;
}

/* POST /challenge: the text answer of the first admin endpoint, audited as the API's. */
static enum MHD_Result mint(admin_http *a, store *st, struct MHD_Connection *conn,
                            const api_identity *who, const char *peer)
{
    const char *ttl_text = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "ttl");
    const char *match = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "subject_match");
    char *end = NULL;
    long ttl = ttl_text ? strtol(ttl_text, &end, 10) : 3600;
    if (ttl_text && (end == ttl_text || *end != '\0' || ttl <= 0 || ttl > 3650L * 86400))
        return text(conn, 400, "ttl must be a number of seconds\n");
    regex_t re;
    if (match != NULL && regcomp(&re, match, REG_EXTENDED | REG_NOSUB) != 0)
        return text(conn, 400, "subject_match is not a valid regular expression\n");
    if (match != NULL)
        regfree(&re);
    const char *prof = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "profile");
    enum MHD_Result refused;
    if (profile_refused(a, conn, prof, &refused))
        return refused;
    char err[512], secret[64], actor[STORE_ACTOR];
    if (challenge_mint_for(st, prof, ttl, match, secret, sizeof(secret), err, sizeof(err)) != 0)
        return text(conn, 503, "cannot mint a challenge now\n");
    st->ops->event_add(st, "challenge", "admin-http", match ? match : "");
    api_actor(who, actor, sizeof(actor));
    log_audit_event e = {.event = "challenge.mint", .peer = peer, .detail = match};
    log_audit_store(st, actor, &e);
    char body[80];
    snprintf(body, sizeof(body), "%s\n", secret);
    OPENSSL_cleanse(secret, sizeof(secret));
    enum MHD_Result ret = text(conn, 200, body);
    OPENSSL_cleanse(body, sizeof(body));
    return ret;
}

#define LISTING_MAX (64 * 1024) /* the first records only past that */

typedef struct listing {
    char *buf;
    size_t len, used;
    int64_t now;
} listing;

static int list_line(void *arg, const store_failure *f)
{
    listing *l = arg;
    char line[LOCKOUT_KEY + 128];
    lockout_format(f, l->now, line, sizeof(line));
    int n = snprintf(l->buf + l->used, l->len - l->used, "%s\n", line);
    if (n < 0 || (size_t)n >= l->len - l->used)
        return 1; /* full: the first records only */
    l->used += (size_t)n;
    return 0;
}

/* GET /lockouts: what `scepd lockouts` prints. */
static enum MHD_Result lockouts(store *st, struct MHD_Connection *conn)
{
    listing l = {malloc(LISTING_MAX), LISTING_MAX, 0, (int64_t)time(NULL)};
    if (l.buf == NULL)
        return MHD_NO;
    l.used = (size_t)snprintf(l.buf, l.len, "%s\n", LOCKOUT_HEADER);
    store_status s = st->ops->failure_list(st, l.now, list_line, &l);
    enum MHD_Result ret =
        s == STORE_OK ? text(conn, 200, l.buf) : text(conn, 503, "cannot read the store now\n");
    free(l.buf);
    return ret;
}

/* The store: answering as the server saw it last, and still there to open. 1 with a line
 * in out when it is not. */
static int store_unready(const admin_http *a, char *out, size_t outlen)
{
    char why[512], uri[CONFIG_PATH * 2];
    out[0] = '\0';
    if (!store_health_problem(why, sizeof(why))) {
        config_store_uri(&a->cfg, uri, sizeof(uri));
        store *st = store_open(uri, why, sizeof(why));
        store_close(st);
        if (st != NULL)
            return 0;
    }
    snprintf(out, outlen, "error: certificate store unavailable: %s\n", why);
    return 1;
}

/* Whether the keys' tokens answer (a line in out, and 1, when not). One that came back makes
 * `serve` reload, which opens its keys again. */
static int keys_unready(char *out, size_t outlen)
{
    char why[200];
    int rc = ca_keys_ready(why, sizeof(why));
    out[0] = '\0';
    if (rc > 0)
        kill(getpid(), SIGHUP);
    if (rc != 0)
        snprintf(out, outlen, "error: %s\n", why);
    return rc != 0;
}

/* The readiness of the era in force, of its keys' tokens and of the store: 503 with the
 * reasons when the server cannot issue. */
static enum MHD_Result readyz(admin_http *a, struct MHD_Connection *conn)
{
    char body[2048] = "", store_line[600];
    time_t now = time(NULL);
    pthread_mutex_lock(&a->lock);
    const authority *ca = a->n_views == 2 && now >= a->switch_at ? &a->view[1] : &a->view[0];
    int have_ca = a->n_views > 0; /* read under the lock: a reload replaces the views */
    int errors = have_ca ? ca_health(ca, (int64_t)now, body, sizeof(body)) : 1;
    for (size_t i = 0; i < a->n_pcas; i++) {
        const pca_view *v = &a->pcas[i];
        ca = v->n_views == 2 && now >= v->switch_at ? &v->view[1] : &v->view[0];
        errors += ca_health_of(ca, v->profile, (int64_t)now, body, sizeof(body));
    }
    pthread_mutex_unlock(&a->lock);
    errors += store_unready(a, store_line, sizeof(store_line));
    char keys_line[256], refused[700], gen_line[760] = "";
    errors += keys_unready(keys_line, sizeof(keys_line));
    if (ca_generations_problem(refused, sizeof(refused))) {
        snprintf(gen_line, sizeof(gen_line), "error: CA generation refused: %s\n", refused);
        errors++;
    }
    char out[sizeof(body) + sizeof(store_line) + sizeof(keys_line) + sizeof(gen_line) + 32];
    snprintf(out, sizeof(out), "%s\n%s%s%s%s", errors ? "not ready" : "ready",
             have_ca ? body : "error: the server has no CA loaded\n", keys_line, gen_line,
             store_line);
    return text(conn, errors ? 503 : 200, out);
}

static int count_one(void *arg, const store_request *r)
{
    (void)r;
    ++*(long *)arg;
    return 0;
}

static int64_t not_after(X509 *cert)
{
    return cert != NULL ? ca_unix_time(X509_get0_notAfter(cert)) : 0;
}

/* When the first RA certificate ends, the RA signing one included: the RA's expiry gauge. */
static int64_t ra_ends(const authority *ca)
{
    int64_t ra = not_after(ca->ra_cert), sign = not_after(ca->ra_sign_cert);
    return sign != 0 && (ra == 0 || sign < ra) ? sign : ra;
}

/* Each profile CA's certificates in force at now, under a->lock; the caller frees the array. */
static metrics_profile_ca *scrape_pcas(admin_http *a, int64_t now, size_t *n)
{
    metrics_profile_ca *out = a->n_pcas > 0 ? calloc(a->n_pcas, sizeof(*out)) : NULL;
    *n = out != NULL ? a->n_pcas : 0;
    for (size_t i = 0; i < *n; i++) {
        const pca_view *v = &a->pcas[i];
        const authority *ca = v->n_views == 2 && now >= v->switch_at ? &v->view[1] : &v->view[0];
        snprintf(out[i].name, sizeof(out[i].name), "%s", v->profile);
        out[i].times =
            (metrics_ca_times){not_after(ca->cert), not_after(ca->next.cert), ra_ends(ca)};
    }
    return out;
}

/* The gauges a scrape reads: the era in force, and from the store the pending requests and
 * the latest CRL (left out when the store cannot say). */
static void scrape_gauges(admin_http *a, metrics_gauges *g)
{
    memset(g, 0, sizeof(*g));
    g->now = (int64_t)time(NULL);
    pthread_mutex_lock(&a->lock);
    const authority *ca = a->n_views == 2 && g->now >= a->switch_at ? &a->view[1] : &a->view[0];
    if (a->n_views > 0) {
        g->ca_not_after = ca_unix_time(X509_get0_notAfter(ca->cert));
        g->ra_not_after = ra_ends(ca);
        g->next_ca_not_after = ca->next.cert ? ca_unix_time(X509_get0_notAfter(ca->next.cert)) : 0;
    }
    g->pcas = scrape_pcas(a, g->now, &g->n_pcas);
    pthread_mutex_unlock(&a->lock);
    pthread_mutex_lock(&a->st_lock);
    store *st = admin_store(a);
    store_crl crl = {0};
    if (st != NULL && st->ops->crl_latest(st, NULL, &crl) == STORE_OK)
        g->crl_next_update = crl.next_update;
    store_crl_clear(&crl);
    long pending = 0;
    g->pending =
        st != NULL && st->ops->request_list(st, 1, count_one, &pending) == STORE_OK ? pending : -1;
    pthread_mutex_unlock(&a->st_lock);
}

static enum MHD_Result metrics(admin_http *a, struct MHD_Connection *conn)
{
    metrics_gauges g;
    scrape_gauges(a, &g);
    size_t len = 0;
    char *body = metrics_render(&g, &len);
    free(g.pcas);
    if (body == NULL)
        return text(conn, 503, "out of memory\n");
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* Certificates of src, referenced: the view outlives the server it was taken from. */
static void view_of(const authority *src, authority *dst)
{
    memset(dst, 0, sizeof(*dst));
    dst->cert = src->cert;
    X509_up_ref(dst->cert);
    if ((dst->key = src->key) != NULL)
        EVP_PKEY_up_ref(dst->key); /* the API signs CRLs after a revocation */
    if ((dst->prev.cert = src->prev.cert) != NULL)
        X509_up_ref(dst->prev.cert);
    if ((dst->prev.key = src->prev.key) != NULL)
        EVP_PKEY_up_ref(dst->prev.key);
    if ((dst->ra_cert = src->ra_cert) != NULL)
        X509_up_ref(dst->ra_cert);
    if ((dst->ra_sign_cert = src->ra_sign_cert) != NULL)
        X509_up_ref(dst->ra_sign_cert); /* for its expiry in /metrics */
    if ((dst->next.cert = src->next.cert) != NULL)
        X509_up_ref(dst->next.cert); /* for its expiry in /metrics */
    dst->chain = sk_X509_new_null();
    for (int i = 0; dst->chain && src->chain && i < sk_X509_num(src->chain); i++) {
        X509 *c = sk_X509_value(src->chain, i);
        if (sk_X509_push(dst->chain, c) > 0)
            X509_up_ref(c);
    }
}

static void free_pcas(admin_http *a)
{
    for (size_t i = 0; i < a->n_pcas; i++)
        for (int j = 0; j < a->pcas[i].n_views; j++)
            ca_free(&a->pcas[i].view[j]);
    free(a->pcas);
    a->pcas = NULL;
    a->n_pcas = 0;
}

void admin_http_set_server(admin_http *a, const server *srv)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    for (int i = 0; i < a->n_views; i++)
        ca_free(&a->view[i]);
    a->n_views = srv->n_eras;
    for (int i = 0; i < srv->n_eras; i++)
        view_of(&srv->eras[i].ca, &a->view[i]);
    a->switch_at = srv->switch_at;
    free_pcas(a);
    a->pcas = calloc(srv->n_pcas, sizeof(*a->pcas));
    for (size_t i = 0; a->pcas != NULL && i < srv->n_pcas; i++) {
        const profile_ca *pc = &srv->pcas[i];
        pca_view *v = &a->pcas[a->n_pcas++];
        snprintf(v->profile, sizeof(v->profile), "%s", pc->profile);
        snprintf(v->dir, sizeof(v->dir), "%s", pc->dir);
        for (v->n_views = 0; v->n_views < pc->n_eras; v->n_views++)
            view_of(&pc->eras[v->n_views].ca, &v->view[v->n_views]);
        v->switch_at = pc->switch_at;
    }
    pthread_mutex_unlock(&a->lock);
}

/* The era in force now, referenced for one call (ca_free it); cert NULL when none. */
static void era_now(admin_http *a, authority *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&a->lock);
    time_t now = time(NULL);
    if (a->n_views > 0)
        view_of(a->n_views == 2 && now >= a->switch_at ? &a->view[1] : &a->view[0], out);
    pthread_mutex_unlock(&a->lock);
}

/* Each profile CA's era in force, referenced for one call (pcas_release it). */
static api_profile_ca *pcas_now(admin_http *a, size_t *n)
{
    pthread_mutex_lock(&a->lock);
    time_t now = time(NULL);
    api_profile_ca *out = a->n_pcas > 0 ? calloc(a->n_pcas, sizeof(*out)) : NULL;
    *n = out != NULL ? a->n_pcas : 0;
    for (size_t i = 0; i < *n; i++) {
        const pca_view *v = &a->pcas[i];
        snprintf(out[i].profile, sizeof(out[i].profile), "%s", v->profile);
        snprintf(out[i].dir, sizeof(out[i].dir), "%s", v->dir);
        view_of(v->n_views == 2 && now >= v->switch_at ? &v->view[1] : &v->view[0], &out[i].ca);
    }
    pthread_mutex_unlock(&a->lock);
    return out;
}

static void pcas_release(api_profile_ca *pcas, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ca_free(&pcas[i].ca);
    free(pcas);
}

static enum MHD_Result api_call_on(admin_http *a, struct MHD_Connection *conn, const char *url,
                                   const char *method, const admin_conn *ac, store *st,
                                   const api_identity *who)
{
    authority ca;
    era_now(a, &ca);
    size_t n_pcas = 0;
    api_profile_ca *pcas = pcas_now(a, &n_pcas);
    api_call c = {.conn = conn,
                  .method = method,
                  .path = url + strlen(API_PREFIX),
                  .body = ac->body ? ac->body : "",
                  .body_len = ac->len,
                  .cfg = &a->cfg,
                  .st = st,
                  .ca = ca.cert ? &ca : NULL,
                  .pcas = pcas,
                  .n_pcas = n_pcas};
    snprintf(c.name, sizeof(c.name), "%s", who->name);
    snprintf(c.role, sizeof(c.role), "%s", who->role);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    lockout_sockaddr_key(ci ? ci->client_addr : NULL, c.peer, sizeof(c.peer));
    enum MHD_Result ret = api_route(&c);
    ca_free(&ca);
    pcas_release(pcas, n_pcas);
    return ret;
}

static int is_api(const char *url)
{
    size_t n = strlen(API_PREFIX);
    return strncmp(url, API_PREFIX, n) == 0 && (url[n] == '/' || url[n] == '\0');
}

/* An error in the form of the endpoint: JSON under the API, text elsewhere. */
static enum MHD_Result refuse(struct MHD_Connection *conn, const char *url, unsigned status,
                              const char *why)
{
    if (is_api(url))
        return api_error(conn, status, "%s", why);
    char line[200];
    snprintf(line, sizeof(line), "%s\n", why);
    return text(conn, status, line);
}

/* url for a log line: libmicrohttpd has decoded it (%0A is a newline), so controls are '?'. */
static const char *url_for_log(const char *url, char *out, size_t outlen)
{
    size_t i = 0;
    for (; url[i] != '\0' && i + 1 < outlen; i++)
        out[i] = (unsigned char)url[i] < 0x20 || url[i] == 0x7f ? '?' : url[i];
    out[i] = '\0';
    return out;
}

/* Behind a token with admin_tls_client_ca: a missing or untrusted certificate, logged. */
static enum MHD_Result no_client_cert(admin_http *a, struct MHD_Connection *conn, const char *url,
                                      const char *peer, const char *why)
{
    char line[600], shown[128];
    snprintf(line, sizeof(line), "admin: refused %s from %s: %s",
             url_for_log(url, shown, sizeof(shown)), peer[0] ? peer : "-", why);
    log_info(stdout, a->cfg.log_format, line);
    return refuse(conn, url, 403, why);
}

/* Without a bearer token and with admin_client_cert_role, the verified client certificate
 * stands for one: 1 with who set, 0 (the token decides), -1 with why. */
static int cert_identity(const admin_http *a, struct MHD_Connection *conn, api_identity *who,
                         char *why, size_t whylen)
{
    memset(who, 0, sizeof(*who));
    if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization") != NULL)
        return 0;
    int rc = admin_tls_peer_name(a->cert_role, conn, who->name, sizeof(who->name), why, whylen);
    if (rc > 0)
        snprintf(who->role, sizeof(who->role), "%s", a->cert_role);
    return rc;
}

/* Whether conn's client certificate passes admin_tls_client_ca as read last (1), or 0 with why. */
static int peer_ok(admin_http *a, struct MHD_Connection *conn, char *why, size_t whylen)
{
    pthread_mutex_lock(&a->lock);
    X509_STORE *trust = a->tls->trust;
    if (trust != NULL)
        X509_STORE_up_ref(trust); /* a reload may replace it during the check */
    pthread_mutex_unlock(&a->lock);
    int ok = admin_tls_peer_ok(trust, conn, why, whylen);
    X509_STORE_free(trust);
    return ok;
}

/* The endpoints behind a token, once the body is in: lockout, token, then the route. */
static enum MHD_Result with_token(admin_http *a, struct MHD_Connection *conn, const char *url,
                                  const char *method, const admin_conn *ac)
{
    char key[LOCKOUT_KEY], why[320];
    peer_key(conn, key, sizeof(key));
    api_identity who;
    int cert = 0;
    if (!peer_ok(a, conn, why, sizeof(why)) ||
        (cert = cert_identity(a, conn, &who, why, sizeof(why))) < 0)
        return no_client_cert(a, conn, url, key, why);
    store *st = open_call_store(a);
    long left = st ? lockout_remaining(st, LOCKOUT_ADMIN, key, (int64_t)time(NULL)) : -1;
    if (left > 0)
        lockout_log_refusal(&a->cfg, LOCKOUT_ADMIN, key, left);
    int known = left != 0 ? -1 : cert ? 1 : api_authenticate(conn, st, a->token, &who);
    enum MHD_Result ret;
    if (left != 0 || known < 0)
        ret = is_api(url) ? api_too_many(conn, left != 0 ? left : -1)
                          : too_many(conn, left != 0 ? left : -1); /* a right token too */
    else if (known == 0) {
        count_bad_token(a, st, key);
        ret = refuse(conn, url, 401, "a valid bearer token is required");
    } else if (is_api(url))
        ret = api_call_on(a, conn, url, method, ac, st, &who);
    else if (strcmp(url, "/lockouts") == 0)
        ret = strcmp(method, "GET") == 0 ? lockouts(st, conn) : text(conn, 405, "use GET\n");
    else if (strcmp(url, "/challenge") != 0) /* known token: not counted as a failure */
        ret = api_error(conn, 404,
                        "no route %.200s: /api/v1/, /challenge, /lockouts, /readyz, /healthz, "
                        "/metrics and /ui/ are here",
                        url);
    else if (strcmp(method, "POST") != 0)
        ret = text(conn, 405, "use POST\n");
    else if (strcmp(who.role, "operate") != 0)
        ret = text(conn, 403, "minting a challenge needs an operate token\n");
    else
        ret = mint(a, st, conn, &who, key);
    store_close(st);
    return ret;
}

/* Keeps the next piece of the body, or drops it once the body is past API_BODY_MAX; 0 when a
 * too big body has gone on past DISCARD_MAX or DISCARD_SECONDS (the connection is then cut). */
static int take_body(admin_conn *ac, const char *data, size_t len)
{
    ac->seen += len;
    char *grown =
        ac->too_big || len > API_BODY_MAX - ac->len ? NULL : realloc(ac->body, ac->len + len + 1);
    if (grown != NULL) {
        memcpy(grown + ac->len, data, len);
        ac->len += len;
        grown[ac->len] = '\0';
        ac->body = grown;
        return 1;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!ac->too_big)
        ac->over_at = now;
    ac->too_big = 1;
    return ac->seen <= DISCARD_MAX && now.tv_sec - ac->over_at.tv_sec <= DISCARD_SECONDS;
}

static int declared_too_big(struct MHD_Connection *conn)
{
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl != NULL && strtoull(cl, NULL, 10) > API_BODY_MAX;
}

/* A body past API_BODY_MAX: 413 in the endpoint's form, or (cut) a line only when it would
 * not end. One log line a request either way. */
static enum MHD_Result body_too_big(admin_http *a, struct MHD_Connection *conn, const char *url,
                                    const char *method, int cut)
{
    char key[LOCKOUT_KEY], line[LOCKOUT_KEY + 300], shown[121], verb[17];
    peer_key(conn, key, sizeof(key));
    url_for_log(url, shown, sizeof(shown));
    url_for_log(method, verb, sizeof(verb));
    if (cut)
        snprintf(line, sizeof(line),
                 "admin: cut %s %s from %s: its body was still arriving after %u MiB or "
                 "%d s past the " BODY_LIMIT_TEXT " limit",
                 verb, shown, key[0] ? key : "-", DISCARD_MAX >> 20, DISCARD_SECONDS);
    else
        snprintf(line, sizeof(line),
                 "admin: refused %s %s from %s with 413: the body is larger "
                 "than " BODY_LIMIT_TEXT,
                 verb, shown, key[0] ? key : "-");
    log_info(stdout, a->cfg.log_format, line);
    return cut ? MHD_NO : refuse(conn, url, 413, "the body is larger than " BODY_LIMIT_TEXT);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    admin_http *a = cls;
    if (*con_cls == NULL) { /* first call: headers only */
        if (declared_too_big(conn))
            return body_too_big(a, conn, url, method, 0);
        admin_conn *ac = calloc(1, sizeof(*ac));
        if (ac == NULL)
            return MHD_NO;
        *con_cls = ac;
        return MHD_YES;
    }
    admin_conn *ac = *con_cls;
    if (*upload_data_size != 0) {
        int go_on = take_body(ac, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return go_on ? MHD_YES : body_too_big(a, conn, url, method, 1);
    }
    if (ac->too_big)
        return body_too_big(a, conn, url, method, 0);
    if (strcmp(url, "/readyz") == 0)
        return strcmp(method, "GET") == 0 ? readyz(a, conn) : text(conn, 405, "use GET\n");
    if (strcmp(url, "/healthz") == 0)
        return strcmp(method, "GET") == 0 ? text(conn, 200, "ok\n") : text(conn, 405, "use GET\n");
    if (strcmp(url, "/metrics") == 0)
        return strcmp(method, "GET") == 0 ? metrics(a, conn) : text(conn, 405, "use GET\n");
    if (ui_files_owns(url))
        return ui_files_answer(conn, url, method);
    return with_token(a, conn, url, method, ac);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    admin_conn *ac = *con_cls;
    if (ac != NULL) {
        if (ac->body != NULL)
            OPENSSL_cleanse(ac->body, ac->len); /* a body may hold a challenge's reason */
        free(ac->body);
        free(ac);
    }
    *con_cls = NULL;
}

/* admin_token or the first line of admin_token_file; neither: the store's tokens only. */
static int read_token(admin_http *a, const config *c, char *err, size_t errlen)
{
    if (c->admin_token[0] != '\0') {
        snprintf(a->token, sizeof(a->token), "%s", c->admin_token);
        return 0;
    }
    a->token[0] = '\0';
    if (c->admin_token_file[0] == '\0')
        return 0;
    char path[CONFIG_PATH + 32];
    config_path(c, c->admin_token_file, path, sizeof(path));
    FILE *f = fopen(path, "r");
    int ok = f && fgets(a->token, sizeof(a->token), f) != NULL;
    if (f)
        fclose(f);
    a->token[strcspn(a->token, "\r\n")] = '\0';
    if (!ok || strlen(a->token) < 16) {
        snprintf(err, errlen, "admin_token_file %s holds no token of 16+ characters", path);
        return -1;
    }
    return 0;
}

/* A daemon serving t, on listen_fd (the live daemon's, at a reload) or (-1) bound to a->addr. */
static struct MHD_Daemon *start_daemon(admin_http *a, admin_tls *t, int listen_fd)
{
    /* ITC: MHD_quiesce_daemon needs it. */
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | admin_tls_flags(t);
    if (a->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem where[] = {{MHD_OPTION_SOCK_ADDR, 0, &a->addr},
                                     {MHD_OPTION_END, 0, NULL}};
    if (listen_fd >= 0)
        where[0] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL};
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, a, MHD_OPTION_ARRAY, where,
                            MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                            MHD_OPTION_THREAD_POOL_SIZE, ADMIN_THREADS, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, NULL, MHD_OPTION_ARRAY, admin_tls_options(t),
                            MHD_OPTION_END);
}

admin_http *admin_http_start(const config *c, char *err, size_t errlen)
{
    err[0] = '\0';
    if (c->admin_listen[0] == '\0')
        return NULL;
    admin_http *a = calloc(1, sizeof(*a));
    if (a == NULL || (a->tls = calloc(1, sizeof(*a->tls))) == NULL) {
        free(a);
        return NULL;
    }
    a->cfg = *c;
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->st_lock, NULL);
    OPENSSL_cleanse(a->cfg.challenge, sizeof(a->cfg.challenge));
    snprintf(a->cert_role, sizeof(a->cert_role), "%s", c->admin_client_cert_role);
    if (read_token(a, c, err, errlen) != 0 || admin_tls_load(c, a->tls, err, errlen) != 0 ||
        http_parse_listen(c->admin_listen, &a->addr, err, errlen) != 0) {
        admin_http_stop(a);
        return NULL;
    }
    a->daemon = start_daemon(a, a->tls, -1);
    if (a->daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s for the admin endpoint", c->admin_listen);
        admin_http_stop(a);
        return NULL;
    }
    return a;
}

static void free_tls(admin_tls *t)
{
    if (t != NULL)
        admin_tls_clear(t);
    free(t);
}

/* The daemon a reload replaced, once its connections are done (or RETIRED_WAIT_MS passed). */
#define RETIRED_WAIT_MS 2000
static void stop_retired(admin_http *a)
{
    if (a->retired == NULL)
        return;
    for (int waited = 0; waited < RETIRED_WAIT_MS; waited += 50) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(a->retired, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (info == NULL || info->num_connections == 0)
            break;
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    MHD_stop_daemon(a->retired); /* quiesced: the listening socket stays open */
    a->retired = NULL;
    free_tls(a->retired_tls);
    a->retired_tls = NULL;
}

static void log_tls_reload(const admin_http *a, const admin_tls *old, const admin_tls *fresh)
{
    char line[300];
    if (strcmp(old->pem.serial, fresh->pem.serial) != 0)
        snprintf(line, sizeof(line), "reload: admin TLS certificate %s replaces %s",
                 fresh->pem.serial, old->pem.serial);
    else
        snprintf(line, sizeof(line), "reload: admin TLS files read again (certificate %s)",
                 fresh->pem.serial);
    log_info(stdout, a->cfg.log_format, line);
}

static void keep_old_tls(const admin_http *a, const char *why)
{
    char line[CONFIG_PATH * 2 + 300];
    snprintf(line, sizeof(line), "reload: keeping the old admin TLS certificate and key: %s", why);
    log_error(stdout, a->cfg.log_format, line);
}

void admin_http_reload_tls(admin_http *a)
{
    if (a == NULL || a->tls->pem.cert == NULL)
        return; /* plain HTTP: no files */
    char err[CONFIG_PATH * 2 + 200];
    admin_tls *fresh = calloc(1, sizeof(*fresh));
    if (fresh == NULL || admin_tls_load(&a->cfg, fresh, err, sizeof(err)) != 0) {
        keep_old_tls(a, fresh != NULL ? err : "out of memory");
        free_tls(fresh);
        return;
    }
    if (admin_tls_same(fresh, a->tls)) {
        free_tls(fresh);
        return;
    }
    stop_retired(a);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    /* The new daemon shares the listening socket before the old one stops taking from it: no
     * moment without a listener. */
    struct MHD_Daemon *next = info != NULL ? start_daemon(a, fresh, info->listen_fd) : NULL;
    if (next == NULL) {
        keep_old_tls(a, "libmicrohttpd (GnuTLS) refuses the new files");
        free_tls(fresh);
        return;
    }
    (void)MHD_quiesce_daemon(a->daemon);
    log_tls_reload(a, a->tls, fresh);
    pthread_mutex_lock(&a->lock);
    a->retired = a->daemon;
    a->retired_tls = a->tls;
    a->daemon = next;
    a->tls = fresh;
    pthread_mutex_unlock(&a->lock);
}

void admin_http_stop(admin_http *a)
{
    if (a == NULL)
        return;
    stop_retired(a);
    if (a->daemon)
        MHD_stop_daemon(a->daemon);
    for (int i = 0; i < a->n_views; i++)
        ca_free(&a->view[i]);
    free_pcas(a);
    store_close(a->st);
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->st_lock);
    OPENSSL_cleanse(a->token, sizeof(a->token));
    free_tls(a->tls);
    free(a);
}
