/* scepd pending / approve / reject: the operator's side of manual approval. They work on the
 * store and the CA files directly, so they work while the server runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "ca/ca_health.h"
#include "admin/audit.h"
#include "admin/cli.h"
#include "admin/decisions.h"
#include "admin/profile_ca.h"
#include "admin/request_info.h"
#include "profile/profile.h"

static const char pending_usage[] =
    "usage: scepd pending --dir DIR\n\n"
    "Lists the requests waiting for an operator, one per line: ID, transactionID, kind (new or\n"
    "renewal), age, challenge (none, static, one-time), client address, key (RSA-2048,\n"
    "EC-P-256), subjectAltName (DNS:a,IP:b; '-' for none), and the subject (RFC 4514) to the end\n"
    "of the line. No column but the subject holds spaces. scepd show-request ID shows one in\n"
    "full.\n";
static const char approve_usage[] =
    "usage: scepd approve --dir DIR ID...|--all\n\n"
    "Approves pending requests and issues their certificates now; each client receives its\n"
    "certificate at its next poll.\n";
static const char reject_usage[] =
    "usage: scepd reject --dir DIR ID... [--reason TEXT]\n\n"
    "Rejects pending requests; each client receives FAILURE (badRequest) with the reason.\n";

typedef struct admin_opts {
    const char *dir;
    const char *reason;
    int all;
    int first_id; /* index in argv of the first ID */
} admin_opts;

static int parse(int argc, char **argv, admin_opts *o)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"reason", required_argument, NULL, 'r'},
                                             {"all", no_argument, NULL, 'a'},
                                             {NULL, 0, NULL, 0}};
    *o = (admin_opts){0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'd')
            o->dir = optarg;
        else if (c == 'r')
            o->reason = optarg;
        else if (c == 'a')
            o->all = 1;
        else
            return -1;
    }
    o->first_id = optind;
    return o->dir ? 0 : -1;
}

static int print_pending(void *arg, const store_request *r)
{
    (void)arg;
    long age = (long)(time(NULL) - r->created_at);
    X509_REQ *csr = request_info_csr(r);
    char key[64], san[1024];
    request_info_key(csr, key, sizeof(key));
    request_info_san(csr, san, sizeof(san));
    X509_REQ_free(csr);
    /* The whole transactionID (64 hex digits from most clients): an operator matches it
     * against the device's log. A longer one shifts the row rather than losing its end. */
    printf("%-6lld %-64s %-8s %5ldm  %-9s %-15s %-9s %-24s %s\n", (long long)r->id,
           r->transaction_id, r->message_type == 17 ? "renewal" : "new", age / 60,
           r->challenge_kind[0] ? r->challenge_kind : "-", r->client_addr[0] ? r->client_addr : "-",
           key, san, r->subject);
    return 0;
}

static int run_pending(int argc, char **argv)
{
    admin_opts o;
    config c;
    if (parse(argc, argv, &o) != 0 || o.first_id != argc)
        return cli_usage(&cmd_pending);
    if (cli_load_config("pending", o.dir, &c) != 0)
        return EXIT_FAIL;
    store *st = cli_open_store("pending", &c);
    if (st == NULL)
        return EXIT_FAIL;
    printf("%-6s %-64s %-8s %6s  %-9s %-15s %-9s %-24s %s\n", "ID", "TRANSACTION", "KIND", "AGE",
           "CHALLENGE", "CLIENT", "KEY", "SAN", "SUBJECT");
    store_status s = st->ops->request_list(st, 1, print_pending, NULL);
    int rc = s == STORE_OK ? 0 : cli_fail("pending", "%s", st->ops->last_error(st));
    store_close(st);
    return rc;
}

typedef struct id_list {
    int64_t ids[4096];
    size_t n;
} id_list;

static int collect_pending(void *arg, const store_request *r)
{
    id_list *l = arg;
    if (l->n < sizeof(l->ids) / sizeof(l->ids[0]))
        l->ids[l->n++] = r->id;
    return 0;
}

static int collect_ids(store *st, int argc, char **argv, const admin_opts *o, id_list *l)
{
    l->n = 0;
    if (o->all)
        return st->ops->request_list(st, 1, collect_pending, l) == STORE_OK ? 0 : EXIT_FAIL;
    for (int i = o->first_id; i < argc && l->n < 4096; i++) {
        char *end = NULL;
        long long id = strtoll(argv[i], &end, 10);
        if (end == argv[i] || *end != '\0' || id <= 0)
            return cli_misuse(argv[0], "'%s' is not a request ID", argv[i]);
        l->ids[l->n++] = id;
    }
    return l->n > 0 ? 0 : EXIT_FAIL;
}

static void audit_approval(const config *c, store *st, const store_request *r, X509 *cert,
                           const store_cert *rec)
{
    char sans[STORE_TEXT];
    ca_sans_text(X509_get0_extensions(cert), sans, sizeof(sans));
    log_audit_event e = {.event = "approve",
                         .subject = rec->subject,
                         .serial = rec->serial,
                         .sans = sans,
                         .peer = r->client_addr,
                         .transaction_id = r->transaction_id};
    admin_audit(c, st, &e);
}

/* Moves request id from PENDING to REJECTED, with its audit line. */
static int reject_one(store *st, const config *c, int64_t id, const char *why)
{
    store_request r = {0};
    store_status s = decision_request(st, id, REQUEST_REJECTED, why, &r);
    if (s == STORE_OK) {
        printf("rejected %lld\n", (long long)id);
        log_audit_event e = {.event = "reject",
                             .subject = r.subject,
                             .peer = r.client_addr,
                             .transaction_id = r.transaction_id,
                             .detail = why};
        admin_audit(c, st, &e);
    }
    store_request_clear(&r);
    if (s != STORE_OK)
        return cli_fail("reject", "request %lld: %s", (long long)id,
                        s == STORE_CONFLICT ? "not pending" : "not found");
    return 0;
}

/* The CA prof issues from: ca, or the one of its ca_dir, loaded into own; NULL after saying
 * why not (it cannot issue now, say). */
static const authority *issuer_of(const profile *prof, const profile_set *ps, const authority *ca,
                                  authority *own)
{
    if (prof->cfg->ca_dir[0] == '\0')
        return ca;
    char err[1024] = "out of memory";
    config *cfg = calloc(1, sizeof(*cfg));
    int rc = cfg ? admin_profile_ca(prof, ps->items[0].cfg, own, cfg, err, sizeof(err)) : -1;
    if (rc == 0 && (rc = ca_cannot_issue(own, (int64_t)time(NULL), err, sizeof(err))) != 0)
        ca_free(own);
    free(cfg);
    if (rc != 0)
        cli_fail("approve", "%s", err);
    return rc == 0 ? own : NULL;
}

/* Issues request id's certificate and moves it from PENDING to ISSUED in one step. */
static int approve_one(store *st, const authority *server_ca, const profile_set *ps, int64_t id)
{
    store_request r = {0};
    if (st->ops->request_get_by_id(st, id, &r) != STORE_OK)
        return cli_fail("approve", "no request %lld", (long long)id);
    /* Issued as its profile issues: the one its transaction key names. */
    char name[CONFIG_PROFILE_NAME];
    profile_of_key(r.transaction_id, name);
    const profile *prof = profile_find(ps, name);
    if (prof == NULL) {
        store_request_clear(&r);
        return cli_fail("approve",
                        "request %lld is for profile '%s', which scepd.conf no longer has",
                        (long long)id, name);
    }
    const config *c = prof->cfg;
    authority own = {0};
    const authority *ca = issuer_of(prof, ps, server_ca, &own);
    if (ca == NULL) {
        store_request_clear(&r);
        return EXIT_FAIL;
    }
    int rc = 0;
    const unsigned char *p = r.csr_der;
    X509_REQ *csr = d2i_X509_REQ(NULL, &p, (long)r.csr_len);
    char err[256] = "the stored request is unreadable";
    X509 *cert = r.state == REQUEST_PENDING && csr ? ca_issue(ca, csr, c, err, sizeof(err)) : NULL;
    if (r.state != REQUEST_PENDING)
        rc = cli_fail("approve", "request %lld is %s, not pending", (long long)id,
                      request_state_name(r.state));
    else if (cert == NULL)
        rc = cli_fail("approve", "request %lld: %s", (long long)id, err);
    else {
        store_cert rec;
        ca_fill_record(cert, r.key_id, r.transaction_id, &rec);
        unsigned char *der = NULL;
        int n = i2d_X509(cert, &der);
        rec.der = der;
        rec.der_len = n > 0 ? (size_t)n : 0;
        store_status s = st->ops->cert_issue(st, &rec, id, REQUEST_PENDING);
        OPENSSL_free(der);
        if (s == STORE_OK) {
            printf("approved %lld: issued serial %s to %s\n", (long long)id, rec.serial,
                   rec.subject);
            st->ops->event_add(st, "approve", r.transaction_id, rec.serial);
            audit_approval(c, st, &r, cert, &rec);
        } else
            rc = cli_fail("approve", "request %lld: %s", (long long)id,
                          s == STORE_CONFLICT ? "no longer pending" : st->ops->last_error(st));
    }
    X509_free(cert);
    X509_REQ_free(csr);
    store_request_clear(&r);
    ca_free(&own);
    return rc;
}

static int run_decision(int argc, char **argv, int approve)
{
    const command *cmd = approve ? &cmd_approve : &cmd_reject;
    admin_opts o;
    config c;
    if (parse(argc, argv, &o) != 0 || (o.all && !approve) || (o.all == (o.first_id < argc)))
        return cli_usage(cmd);
    if (cli_load_config(cmd->name, o.dir, &c) != 0)
        return EXIT_FAIL;
    store *st = cli_open_store(cmd->name, &c);
    authority ca = {0};
    char err[512];
    if (st == NULL || (approve && ca_load_current(&ca, &c, err, sizeof(err)) != 0)) {
        if (st != NULL)
            cli_fail(cmd->name, "%s", err);
        store_close(st);
        return EXIT_FAIL;
    }
    /* What the server would refuse to issue (an expired RA, say), the operator cannot approve. */
    if (approve && ca_cannot_issue(&ca, (int64_t)time(NULL), err, sizeof(err)) != 0) {
        ca_free(&ca);
        store_close(st);
        return cli_fail("approve", "%s", err);
    }
    profile_set ps = {0};
    if (approve && profile_set_load_dir(&ps, &c, err, sizeof(err)) != 0) {
        ca_free(&ca);
        store_close(st);
        return cli_fail("approve", "%s", err);
    }
    id_list *ids = malloc(sizeof(*ids));
    int rc = ids ? collect_ids(st, argc, argv, &o, ids) : EXIT_FAIL;
    for (size_t i = 0; rc == 0 && ids && i < ids->n; i++) {
        if (approve) {
            rc |= approve_one(st, &ca, &ps, ids->ids[i]);
            continue;
        }
        rc = reject_one(st, &c, ids->ids[i], o.reason ? o.reason : "rejected by the operator");
    }
    if (ids && ids->n == 0 && o.all)
        printf("nothing is pending\n");
    free(ids);
    profile_set_free(&ps);
    ca_free(&ca);
    store_close(st);
    return rc;
}

static int run_approve(int argc, char **argv)
{
    return run_decision(argc, argv, 1);
}

static int run_reject(int argc, char **argv)
{
    return run_decision(argc, argv, 0);
}

const command cmd_pending = {"pending", "list requests waiting for approval", pending_usage,
                             run_pending};
const command cmd_approve = {"approve", "approve pending requests", approve_usage, run_approve};
const command cmd_reject = {"reject", "reject pending requests", reject_usage, run_reject};
