/* scepd pending / approve / reject: the operator's side of manual approval. They work on the
 * store and the CA files directly, so they work while the server runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca.h"
#include "cli.h"

static const char pending_usage[] =
    "usage: scepd pending --dir DIR\n\n"
    "Lists the requests waiting for an operator: ID, transactionID, subject, age.\n";
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
    /* The whole transactionID (64 hex digits from most clients): an operator matches it
     * against the device's log. A longer one shifts the row rather than losing its end. */
    printf("%-6lld %-64s %-8s %5ldm  %s\n", (long long)r->id, r->transaction_id,
           r->message_type == 17 ? "renewal" : "new", age / 60, r->subject);
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
    printf("%-6s %-64s %-8s %6s  %s\n", "ID", "TRANSACTION", "KIND", "AGE", "SUBJECT");
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
        return st->ops->request_list(st, 1, collect_pending, l) == STORE_OK ? 0 : -1;
    for (int i = o->first_id; i < argc && l->n < 4096; i++) {
        char *end = NULL;
        long long id = strtoll(argv[i], &end, 10);
        if (end == argv[i] || *end != '\0' || id <= 0)
            return cli_fail("approve", "'%s' is not a request ID", argv[i]);
        l->ids[l->n++] = id;
    }
    return l->n > 0 ? 0 : -1;
}

/* Issues request id's certificate and moves it from PENDING to ISSUED in one step. */
static int approve_one(store *st, const authority *ca, const config *c, int64_t id)
{
    store_request r = {0};
    if (st->ops->request_get_by_id(st, id, &r) != STORE_OK)
        return cli_fail("approve", "no request %lld", (long long)id);
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
        } else
            rc = cli_fail("approve", "request %lld: %s", (long long)id,
                          s == STORE_CONFLICT ? "no longer pending" : st->ops->last_error(st));
    }
    X509_free(cert);
    X509_REQ_free(csr);
    store_request_clear(&r);
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
    id_list *ids = malloc(sizeof(*ids));
    int rc = ids && collect_ids(st, argc, argv, &o, ids) == 0 ? 0 : EXIT_FAIL;
    for (size_t i = 0; rc == 0 && ids && i < ids->n; i++) {
        if (approve) {
            rc |= approve_one(st, &ca, &c, ids->ids[i]);
            continue;
        }
        const char *why = o.reason ? o.reason : "rejected by the operator";
        store_status s =
            st->ops->request_transition(st, ids->ids[i], REQUEST_PENDING, REQUEST_REJECTED, why);
        if (s == STORE_OK)
            printf("rejected %lld\n", (long long)ids->ids[i]);
        else
            rc = cli_fail("reject", "request %lld: %s", (long long)ids->ids[i],
                          s == STORE_CONFLICT ? "not pending" : "not found");
    }
    if (ids && ids->n == 0 && o.all)
        printf("nothing is pending\n");
    free(ids);
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
