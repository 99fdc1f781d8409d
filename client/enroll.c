#include "enroll.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "files.h"

/* The state file: the transactionID on the first line, then the signer certificate in PEM. */
static void save_state(const enrollment *e)
{
    if (e->state_path == NULL)
        return;
    BIO *bio = BIO_new(BIO_s_mem());
    char err[256];
    char *data = NULL;
    if (bio && BIO_printf(bio, "%s\n", e->transaction_id) > 0 &&
        PEM_write_bio_X509(bio, e->signer) == 1) {
        long n = BIO_get_mem_data(bio, &data);
        if (files_write_atomic(e->state_path, data, (size_t)n, 0600, err, sizeof(err)) != 0)
            fprintf(stderr, "scep: warning: %s\n", err);
    }
    BIO_free(bio);
}

static void drop_state(const enrollment *e)
{
    if (e->state_path != NULL)
        unlink(e->state_path);
}

int enrollment_resume(enrollment *e)
{
    if (e->state_path == NULL || !files_exists(e->state_path))
        return 0;
    BIO *bio = BIO_new_file(e->state_path, "r");
    char line[SCEP_MAX_TRANSACTION_ID + 2] = "";
    X509 *signer = NULL;
    if (bio && BIO_gets(bio, line, sizeof(line)) > 0)
        signer = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    line[strcspn(line, "\r\n")] = '\0';
    /* Only a transaction of this very key resumes; anything else starts afresh. */
    if (signer == NULL || line[0] == '\0' || EVP_PKEY_eq(X509_get0_pubkey(signer), e->key) != 1) {
        X509_free(signer);
        return 0;
    }
    X509_free(e->signer);
    e->signer = signer;
    e->signer_key = e->key;
    size_t n = strnlen(line, sizeof(e->transaction_id) - 1);
    memcpy(e->transaction_id, line, n);
    e->transaction_id[n] = '\0';
    e->resumed = 1;
    return 1;
}

static int request(session *s, enrollment *e, int poll, exchange *x)
{
    memset(x, 0, sizeof(*x));
    x->req.type = poll ? SCEP_MSG_CERT_POLL : e->type;
    x->req.transaction_id = e->transaction_id;
    x->req.csr = e->csr;
    x->req.issuer = X509_get_subject_name(s->ca);
    x->req.subject = e->csr ? X509_REQ_get_subject_name(e->csr) : X509_get_subject_name(e->signer);
    x->req.signer_cert = e->signer;
    x->req.signer_key = e->signer_key;
    x->password = e->password;
    return session_exchange(s, x);
}

static int take_certificate(session *s, enrollment *e, const scep_msg *reply, X509 **issued)
{
    X509 *leaf = scep_certs_find_leaf(reply->certs, e->key);
    if (leaf == NULL) {
        snprintf(s->err, sizeof(s->err), "the reply holds no certificate for our key");
        return EXIT_BAD_REPLY;
    }
    X509_up_ref(leaf);
    *issued = leaf;
    return EXIT_OK;
}

static void sleep_seconds(int seconds)
{
    struct timespec ts = {seconds, 0};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int enrollment_run(session *s, enrollment *e, X509 **issued)
{
    *issued = NULL;
    time_t start = time(NULL);
    int poll = e->resumed;
    for (int round = 0;; round++) {
        exchange x;
        int rc = request(s, e, poll, &x);
        if (rc != EXIT_OK)
            return rc;
        scep_pki_status status = x.reply->status;
        if (status == SCEP_STATUS_SUCCESS)
            rc = take_certificate(s, e, x.reply, issued);
        else if (status == SCEP_STATUS_FAILURE)
            rc = session_report_failure(s, x.reply);
        scep_msg_free(x.reply);
        if (status != SCEP_STATUS_PENDING) {
            drop_state(e);
            return rc;
        }
        save_state(e);
        long waited = (long)(time(NULL) - start);
        if (e->max_poll_time > 0 && waited + e->poll_interval > e->max_poll_time) {
            snprintf(s->err, sizeof(s->err),
                     "still PENDING after %lds (transaction %s saved; run again to resume)", waited,
                     e->transaction_id);
            return EXIT_PENDING;
        }
        fprintf(stderr, "scep: PENDING (poll %d, %lds so far); next poll in %ds\n", round + 1,
                waited, e->poll_interval);
        sleep_seconds(e->poll_interval);
        poll = 1;
    }
}
