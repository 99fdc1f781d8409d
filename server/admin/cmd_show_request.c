/* scepd show-request: one request in full, for the operator who decides on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "admin/cli.h"
#include "admin/request_info.h"

static const char show_request_usage[] =
    "usage: scepd show-request --dir DIR [--pem] ID\n\n"
    "Prints one request (ID as scepd pending lists it): the transaction (state, kind, times,\n"
    "client address, challenge kind, key, subjectAltName, subject), then the CSR as text with\n"
    "every requested extension, like openssl req -text (attribute values are not shown: the\n"
    "challenge password is one).\n"
    "  --pem   print only the CSR, PEM, as the client sent it (challenge password included)\n";

/* The names of the CSR's attributes; their values stay hidden (challengePassword). */
static void print_attributes(const X509_REQ *csr)
{
    int n = X509_REQ_get_attr_count(csr);
    printf("attributes:     ");
    for (int i = 0; i < n; i++) {
        X509_ATTRIBUTE *a = X509_REQ_get_attr(csr, i);
        char name[80];
        OBJ_obj2txt(name, sizeof(name), X509_ATTRIBUTE_get0_object(a), 0);
        printf("%s%s", i > 0 ? ", " : "", name);
    }
    printf("%s\n", n == 0 ? "-" : "");
}

static void print_facts(const store_request *r, X509_REQ *csr)
{
    char created[32], updated[32], key[64], san[4096];
    cli_time_text(r->created_at, created, sizeof(created));
    cli_time_text(r->updated_at, updated, sizeof(updated));
    request_info_key(csr, key, sizeof(key));
    request_info_san(csr, san, sizeof(san));
    printf("request:        %lld\n", (long long)r->id);
    printf("transactionID:  %s\n", r->transaction_id);
    printf("state:          %s\n", request_state_name(r->state));
    printf("kind:           %s\n", r->message_type == 17 ? "renewal" : "new");
    printf("created:        %s\n", created);
    printf("updated:        %s\n", updated);
    printf("client:         %s\n", r->client_addr[0] ? r->client_addr : "-");
    printf("challenge:      %s\n", r->challenge_kind[0] ? r->challenge_kind : "-");
    printf("key:            %s\n", key);
    printf("subjectAltName: %s\n", san);
    printf("subject:        %s\n", r->subject);
    if (r->state == REQUEST_ISSUED)
        printf("certificate:    %s\n", r->cert_serial);
    if (r->state == REQUEST_REJECTED)
        printf("reason:         %s\n", r->reason[0] ? r->reason : "rejected by the operator");
    if (csr != NULL)
        print_attributes(csr);
}

static int print_request(const store_request *r, int pem)
{
    X509_REQ *csr = request_info_csr(r);
    if (csr == NULL && r->csr_len > 0)
        return cli_fail("show-request", "request %lld: the stored CSR is unreadable",
                        (long long)r->id);
    if (pem) {
        int ok = csr != NULL && PEM_write_X509_REQ(stdout, csr) == 1;
        X509_REQ_free(csr);
        return ok ? 0 : cli_fail("show-request", "request %lld has no CSR", (long long)r->id);
    }
    print_facts(r, csr);
    fflush(stdout);
    BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);
    if (csr != NULL && out != NULL)
        X509_REQ_print_ex(out, csr, XN_FLAG_RFC2253, X509_FLAG_NO_ATTRIBUTES);
    BIO_free(out);
    X509_REQ_free(csr);
    return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
}

static int parse_id(const char *text, int64_t *id)
{
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || v <= 0)
        return cli_fail("show-request", "'%s' is not a request ID", text);
    *id = v;
    return 0;
}

static int run_show_request(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'}, {"pem", no_argument, NULL, 'p'}, {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    int pem = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 'p')
            pem = 1;
        else
            return cli_usage(&cmd_show_request);
    }
    if (optind != argc - 1)
        return cli_usage(&cmd_show_request);
    int64_t id = 0;
    config cfg;
    if (parse_id(argv[optind], &id) != 0 || cli_load_config("show-request", dir, &cfg) != 0)
        return EXIT_FAIL;
    store *st = cli_open_store("show-request", &cfg);
    if (st == NULL)
        return EXIT_FAIL;
    store_request r = {0};
    store_status s = st->ops->request_get_by_id(st, id, &r);
    int rc = s == STORE_OK          ? print_request(&r, pem)
             : s == STORE_NOT_FOUND ? cli_fail("show-request", "no request %lld", (long long)id)
                                    : cli_fail("show-request", "%s", st->ops->last_error(st));
    store_request_clear(&r);
    store_close(st);
    return rc;
}

const command cmd_show_request = {"show-request", "show one request in full (CSR, client)",
                                  show_request_usage, run_show_request};
