/* libFuzzer: GetCACert and GetNextCACert answers as a client reads them. Every input goes to
 * the certs-only decoder (then to role assignment and leaf search on what it returns) and to the
 * GetNextCACert decoder, which must find the payload signed by the fuzz CA (keys.c) (or by a
 * certificate it issued) before it parses the certificates inside. Seeds in corpus/cacerts were
 * made with the fuzz CA's key. */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/pem.h>

#include "scep/scep.h"

#include "keys.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static scep_ctx *client_ctx;
static X509 *current_ca;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    BIO *cert = BIO_new_mem_buf(fuzz_ca_cert_pem, -1);
    current_ca = PEM_read_bio_X509(cert, NULL, NULL, NULL);
    BIO_free(cert);
    if (current_ca == NULL || scep_ctx_new(NULL, &client_ctx) != SCEP_OK)
        abort();
    return 0;
}

static int member(STACK_OF(X509) * certs, const X509 *x)
{
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (sk_X509_value(certs, i) == x)
            return 1;
    return 0;
}

/* What a client does with a GetCACert answer: roles, then the leaf among them. Anything either
 * returns must be one of the decoded certificates. */
static void certs_only(const uint8_t *data, size_t size)
{
    STACK_OF(X509) *certs = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    if (scep_certs_only_decode(client_ctx, data, size, &certs, &crls) != SCEP_OK)
        return;
    if (certs == NULL || crls == NULL)
        abort();
    X509 *ca = NULL, *ra_enc = NULL, *ra_sign = NULL;
    scep_diag diag;
    if (scep_certs_roles_diag(certs, &ca, &ra_enc, &ra_sign, &diag) == SCEP_OK &&
        (!member(certs, ca) || !member(certs, ra_enc) || !member(certs, ra_sign)))
        abort();
    /* The chain walk of a pin: a fingerprint of no certificate here matches nothing. */
    if (ca != NULL && scep_certs_chain_fingerprint_matches(
                          certs, ca, "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33"))
        abort();
    X509 *leaf = scep_certs_find_leaf(certs, NULL);
    if (leaf != NULL && !member(certs, leaf))
        abort();
    sk_X509_pop_free(certs, X509_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
}

static void next_ca(const uint8_t *data, size_t size)
{
    STACK_OF(X509) *next = NULL;
    scep_diag diag;
    if (scep_next_ca_decode(client_ctx, data, size, current_ca, &next, &diag) != SCEP_OK)
        return;
    if (next == NULL || sk_X509_num(next) < 1)
        abort();
    sk_X509_pop_free(next, X509_free);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    certs_only(data, size);
    next_ca(data, size);
    return 0;
}
