/* The contract of store.h that does not depend on how records are kept: valid states, serials,
 * hashes, keys and sizes, and which operation may move a request to ISSUED. A call that breaks
 * it never reaches the backend: it fails here with STORE_ERROR (STORE_NOT_FOUND for a lookup by
 * a key that cannot exist) and a reason in last_error(). */
#include "store/store_contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct checked {
    store base;
    store *inner;
    int own_error; /* the last call failed here, not in the backend */
    char err[256];
} checked;

static checked *impl(store *s)
{
    return (checked *)s;
}

/* Before each call: the backend's error text is the one to report unless a check fails. */
static store *pass(store *base)
{
    impl(base)->own_error = 0;
    return impl(base)->inner;
}

static store_status misuse(store *base, const char *what)
{
    checked *c = impl(base);
    snprintf(c->err, sizeof(c->err), "store: %s", what);
    c->own_error = 1;
    return STORE_ERROR;
}

static int request_state_ok(request_state state)
{
    return state >= REQUEST_PENDING && state <= REQUEST_ISSUED;
}

static int serial_ok(const char *serial)
{
    size_t n = strnlen(serial, STORE_HEX_SERIAL);
    if (n == 0 || n >= STORE_HEX_SERIAL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = serial[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

static int cert_state_ok(cert_state state)
{
    return state >= CERT_VALID && state <= CERT_SUPERSEDED;
}

/* RFC 5280 CRLReason: 0..10 (7 is unused but harmless), or -1 for none. */
static int crl_reason_ok(int reason)
{
    return reason >= -1 && reason <= 10;
}

static int hash_ok(const char *hash)
{
    size_t n = hash ? strlen(hash) : 0;
    return n == 64 && strspn(hash, "0123456789ABCDEF") == n;
}

static int failure_key_ok(const char *scope, const char *key)
{
    return scope != NULL && scope[0] != '\0' &&
           strlen(scope) < sizeof(((store_failure *)0)->scope) && key != NULL && key[0] != '\0';
}

static const char *cert_misfit(const store_cert *c)
{
    if (!serial_ok(c->serial))
        return "serial is not 1 to 40 upper-case hex digits";
    if (c->der == NULL || c->der_len == 0 || c->der_len > STORE_MAX_BLOB)
        return "certificate DER missing or above the store's ceiling";
    if (!cert_state_ok(c->state) || !crl_reason_ok(c->revocation_reason))
        return "invalid certificate state or revocation reason";
    return NULL;
}

static const char *request_misfit(const store_request *req)
{
    if (req->transaction_id[0] == '\0')
        return "request without a transactionID";
    if (req->csr_len > STORE_MAX_BLOB || (req->csr_len > 0 && req->csr_der == NULL))
        return "CSR missing or above the store's ceiling";
    return NULL;
}

static store_status ck_request_put(store *base, const store_request *req, store_request *out)
{
    store *in = pass(base);
    if (out != req)
        memset(out, 0, sizeof(*out));
    const char *why = request_misfit(req);
    return why ? misuse(base, why) : in->ops->request_put(in, req, out);
}

static store_status ck_request_transition(store *base, int64_t id, request_state from,
                                          request_state to, const char *reason)
{
    store *in = pass(base);
    if (!request_state_ok(from) || !request_state_ok(to))
        return misuse(base, "invalid request state");
    if (to == REQUEST_ISSUED)
        return misuse(base, "only cert_issue moves a request to ISSUED");
    return in->ops->request_transition(in, id, from, to, reason);
}

static store_status ck_cert_issue(store *base, const store_cert *cert, int64_t request_id,
                                  request_state from)
{
    store *in = pass(base);
    const char *why = cert_misfit(cert);
    if (why == NULL && request_id != 0 && !request_state_ok(from))
        why = "invalid request state";
    return why ? misuse(base, why) : in->ops->cert_issue(in, cert, request_id, from);
}

static store_status ck_request_issue(store *base, const store_request *req, const store_cert *cert,
                                     store_request *out)
{
    store *in = pass(base);
    memset(out, 0, sizeof(*out));
    const char *why = cert_misfit(cert);
    if (why == NULL)
        why = request_misfit(req);
    return why ? misuse(base, why) : in->ops->request_issue(in, req, cert, out);
}

static store_status ck_cert_set_state(store *base, const char *serial, cert_state state,
                                      int64_t revoked_at, int reason)
{
    store *in = pass(base);
    if (!cert_state_ok(state) || (state == CERT_REVOKED && !crl_reason_ok(reason)))
        return misuse(base, "invalid certificate state or revocation reason");
    if (state != CERT_REVOKED) { /* only a revocation carries a date and a reason */
        revoked_at = 0;
        reason = -1;
    }
    return in->ops->cert_set_state(in, serial, state, revoked_at, reason);
}

static store_status ck_crl_add(store *base, const store_crl *crl)
{
    store *in = pass(base);
    if (crl == NULL || crl->der == NULL || crl->der_len == 0 || crl->der_len > STORE_MAX_BLOB)
        return misuse(base, "CRL without DER");
    return in->ops->crl_add(in, crl);
}

static store_status ck_challenge_add(store *base, const store_challenge *c)
{
    store *in = pass(base);
    if (c == NULL || !hash_ok(c->hash))
        return misuse(base, "challenge hash must be 64 upper-case hex digits");
    return in->ops->challenge_add(in, c);
}

/* A hash that cannot be stored is not there. */
static store_status ck_challenge_get(store *base, const char *hash, store_challenge *out)
{
    store *in = pass(base);
    memset(out, 0, sizeof(*out));
    return hash_ok(hash) ? in->ops->challenge_get(in, hash, out) : STORE_NOT_FOUND;
}

static store_status ck_challenge_consume(store *base, const char *hash, int64_t now)
{
    store *in = pass(base);
    return hash_ok(hash) ? in->ops->challenge_consume(in, hash, now) : STORE_NOT_FOUND;
}

static store_status ck_failure_get(store *base, const char *scope, const char *key, int64_t now,
                                   store_failure *out)
{
    store *in = pass(base);
    memset(out, 0, sizeof(*out));
    return failure_key_ok(scope, key) ? in->ops->failure_get(in, scope, key, now, out)
                                      : STORE_NOT_FOUND;
}

static store_status ck_failure_get_pair(store *base, const char *const scope[2],
                                        const char *const key[2], int64_t now, store_failure out[2])
{
    store *in = pass(base);
    memset(out, 0, 2 * sizeof(*out));
    const char *keys[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++)
        if (failure_key_ok(scope[i], key[i]))
            keys[i] = key[i];
    if (keys[0] == NULL && keys[1] == NULL)
        return STORE_OK;
    return in->ops->failure_get_pair(in, scope, keys, now, out);
}

static store_status ck_failure_add(store *base, const char *scope, const char *key, int64_t now,
                                   store_failure_step step, void *arg, store_failure *out)
{
    store *in = pass(base);
    memset(out, 0, sizeof(*out));
    if (!failure_key_ok(scope, key) || step == NULL)
        return misuse(base, "a failure needs a scope, a key and a policy");
    return in->ops->failure_add(in, scope, key, now, step, arg, out);
}

static store_status ck_event_add(store *base, const char *kind, const char *ref, const char *detail)
{
    store *in = pass(base);
    if (kind == NULL || kind[0] == '\0')
        return misuse(base, "event without a kind");
    return in->ops->event_add(in, kind, ref, detail);
}

/* A token name: 1-63 of [A-Za-z0-9._-], so that it prints and logs as it is. */
static int token_name_ok(const char *name)
{
    size_t n = name ? strnlen(name, STORE_TOKEN_NAME) : 0;
    if (n == 0 || n >= STORE_TOKEN_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static store_status ck_token_add(store *base, const store_token *t)
{
    store *in = pass(base);
    if (t == NULL || !token_name_ok(t->name))
        return misuse(base, "a token name is 1-63 letters, digits, '.', '_' or '-'");
    if (strcmp(t->role, "read") != 0 && strcmp(t->role, "operate") != 0)
        return misuse(base, "a token's role is read or operate");
    if (!hash_ok(t->hash))
        return misuse(base, "token hash must be 64 upper-case hex digits");
    return in->ops->token_add(in, t);
}

static store_status ck_token_list(store *base, store_token_fn fn, void *arg)
{
    store *in = pass(base);
    return fn != NULL ? in->ops->token_list(in, fn, arg) : misuse(base, "list without a callback");
}

static store_status ck_token_remove(store *base, const char *name)
{
    store *in = pass(base);
    return token_name_ok(name) ? in->ops->token_remove(in, name) : STORE_NOT_FOUND;
}

static store_status ck_token_find(store *base, const char *hash, store_token *out)
{
    store *in = pass(base);
    memset(out, 0, sizeof(*out));
    return hash && hash_ok(hash) ? in->ops->token_find(in, hash, out) : STORE_NOT_FOUND;
}

static store_status ck_audit_add(store *base, const store_audit *a)
{
    store *in = pass(base);
    if (a == NULL || a->actor[0] == '\0' || a->action[0] == '\0')
        return misuse(base, "an audit row needs an actor and an action");
    return in->ops->audit_add(in, a);
}

static store_status ck_audit_list(store *base, const audit_filter *f, store_audit_fn fn, void *arg)
{
    store *in = pass(base);
    if (f == NULL || fn == NULL || f->limit < 0)
        return misuse(base, "list without a filter or a callback");
    return in->ops->audit_list(in, f, fn, arg);
}

static store_status ck_request_page(store *base, const request_filter *f, store_request_fn fn,
                                    void *arg)
{
    store *in = pass(base);
    if (f == NULL || fn == NULL || f->limit < 0 || (f->state != -1 && !request_state_ok(f->state)))
        return misuse(base, "a request page needs a state (or -1), a limit and a callback");
    return in->ops->request_page(in, f, fn, arg);
}

static store_status ck_challenge_list(store *base, int64_t now, store_challenge_fn fn, void *arg)
{
    store *in = pass(base);
    return fn != NULL ? in->ops->challenge_list(in, now, fn, arg)
                      : misuse(base, "list without a callback");
}

/* The id of a challenge: the first 16 of its hash's 64 hex digits. */
static store_status ck_challenge_revoke(store *base, const char *id, int64_t now)
{
    store *in = pass(base);
    if (id == NULL || strnlen(id, 17) != 16)
        return STORE_NOT_FOUND;
    for (int i = 0; i < 16; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'F')))
            return STORE_NOT_FOUND;
    return in->ops->challenge_revoke(in, id, now);
}

static int generation_ok(const store_ca_generation *g)
{
    return g->ca_len <= STORE_MAX_BLOB && g->ra_len <= STORE_MAX_BLOB &&
           (g->ca_der != NULL) == (g->ca_len > 0) && (g->ra_der != NULL) == (g->ra_len > 0) &&
           memchr(g->ca_key, '\0', sizeof(g->ca_key)) != NULL &&
           memchr(g->ra_key, '\0', sizeof(g->ra_key)) != NULL;
}

static store_status ck_ca_generations_put(store *base, const store_ca_generations *g,
                                          int64_t *counter)
{
    store *in = pass(base);
    if (g == NULL || g->role[STORE_CA_CURRENT].ca_der == NULL)
        return misuse(base, "CA generations without a current CA certificate");
    for (int i = 0; i < STORE_CA_ROLES; i++)
        if (!generation_ok(&g->role[i]))
            return misuse(base, "a CA generation with a bad certificate size or key reference");
    return in->ops->ca_generations_put(in, g, counter);
}

static store_status ck_ca_generations_get(store *base, store_ca_generations *out)
{
    store *in = pass(base);
    memset(out, 0, sizeof(*out));
    return in->ops->ca_generations_get(in, out);
}

/* A backend without a notice of its own is durable at each commit, or makes flush() wait. */
static void ck_when_durable(store *base, store_durable_fn done, void *arg)
{
    store *in = pass(base);
    if (in->ops->when_durable != NULL) {
        in->ops->when_durable(in, done, arg);
        return;
    }
    store_status st = in->ops->flush(in);
    done(arg, st, st == STORE_OK ? "" : in->ops->last_error(in));
}

/* The operations the contract says nothing more about than the backend does. */
#define PASSED_ON(name, params, args)                                                              \
    static store_status ck_##name params                                                           \
    {                                                                                              \
        store *in = pass(base);                                                                    \
        return in->ops->name args;                                                                 \
    }

PASSED_ON(request_get, (store * base, const char *tid, store_request *out), (in, tid, out))
PASSED_ON(request_get_by_id, (store * base, int64_t id, store_request *out), (in, id, out))
PASSED_ON(request_get_by_cert, (store * base, const char *serial, store_request *out),
          (in, serial, out))
PASSED_ON(request_list, (store * base, int only_pending, store_request_fn fn, void *arg),
          (in, only_pending, fn, arg))
PASSED_ON(cert_get, (store * base, const char *serial, store_cert *out), (in, serial, out))
PASSED_ON(cert_list, (store * base, const cert_filter *filter, store_cert_fn fn, void *arg),
          (in, filter, fn, arg))
PASSED_ON(cert_find_valid_by_subject,
          (store * base, const char *subject, int64_t now, store_cert *out),
          (in, subject, now, out))
PASSED_ON(crl_latest, (store * base, const char *issuer_key, store_crl *out), (in, issuer_key, out))
PASSED_ON(failure_list, (store * base, int64_t now, store_failure_fn fn, void *arg),
          (in, now, fn, arg))
PASSED_ON(failure_clear, (store * base, const char *key, int *cleared), (in, key, cleared))
PASSED_ON(flush, (store * base), (in))
PASSED_ON(ca_generations_counter, (store * base, int64_t *counter), (in, counter))

/* Optional in a backend: without it every process may issue (SQLite's writers queue). */
static store_status ck_crl_claim(store *base)
{
    store *in = pass(base);
    return in->ops->crl_claim != NULL ? in->ops->crl_claim(in) : STORE_OK;
}

static void ck_crl_release(store *base)
{
    store *in = pass(base);
    if (in->ops->crl_release != NULL)
        in->ops->crl_release(in);
}

static const char *ck_last_error(store *base)
{
    checked *c = impl(base);
    return c->own_error ? c->err : c->inner->ops->last_error(c->inner);
}

static void ck_destroy(store *base)
{
    store_close(impl(base)->inner);
    free(impl(base));
}

static const store_ops checked_ops = {
    .request_put = ck_request_put,
    .request_get = ck_request_get,
    .request_get_by_id = ck_request_get_by_id,
    .request_get_by_cert = ck_request_get_by_cert,
    .request_transition = ck_request_transition,
    .request_list = ck_request_list,
    .request_page = ck_request_page,
    .cert_issue = ck_cert_issue,
    .request_issue = ck_request_issue,
    .cert_get = ck_cert_get,
    .cert_list = ck_cert_list,
    .cert_find_valid_by_subject = ck_cert_find_valid_by_subject,
    .cert_set_state = ck_cert_set_state,
    .crl_add = ck_crl_add,
    .crl_latest = ck_crl_latest,
    .crl_claim = ck_crl_claim,
    .crl_release = ck_crl_release,
    .challenge_add = ck_challenge_add,
    .challenge_get = ck_challenge_get,
    .challenge_consume = ck_challenge_consume,
    .challenge_list = ck_challenge_list,
    .challenge_revoke = ck_challenge_revoke,
    .token_add = ck_token_add,
    .token_list = ck_token_list,
    .token_remove = ck_token_remove,
    .token_find = ck_token_find,
    .audit_add = ck_audit_add,
    .audit_list = ck_audit_list,
    .failure_get = ck_failure_get,
    .failure_get_pair = ck_failure_get_pair,
    .failure_add = ck_failure_add,
    .failure_list = ck_failure_list,
    .failure_clear = ck_failure_clear,
    .ca_generations_put = ck_ca_generations_put,
    .ca_generations_get = ck_ca_generations_get,
    .ca_generations_counter = ck_ca_generations_counter,
    .event_add = ck_event_add,
    .flush = ck_flush,
    .when_durable = ck_when_durable,
    .last_error = ck_last_error,
    .destroy = ck_destroy,
};

store *store_contract_wrap(store *inner)
{
    if (inner == NULL)
        return NULL;
    checked *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        store_close(inner);
        return NULL;
    }
    c->base.ops = &checked_ops;
    c->inner = inner;
    return &c->base;
}
