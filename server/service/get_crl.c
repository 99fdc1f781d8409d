/* GetCRL: the CRL of the CA generation the message's issuer and serial number name. */
#include <openssl/err.h>

#include "ca/crl.h"
#include "service/exchange.h"
#include "service/generations.h"

static int is_named(const X509 *cert, const X509_NAME *issuer, const ASN1_INTEGER *serial)
{
    return generation_is_subject_of(cert, issuer) &&
           ASN1_INTEGER_cmp(X509_get0_serialNumber(cert), serial) == 0;
}

static int signed_by(X509 *issuer, X509 *cert)
{
    ERR_set_mark();
    int ok = cert != NULL && X509_verify(cert, X509_get0_pubkey(issuer)) == 1;
    ERR_pop_to_mark();
    return ok;
}

/*
 * Whose CRL GetCRL asks for: the generation of the CA or RA certificate it names by its own
 * subject and serial (sscep: the -c certificate), else the generation that signed the stored
 * certificate with that serial, else the first generation the issuer names.
 */
static const ca_gen *crl_generation(exchange *x, const ca_gen *gens, int n)
{
    const X509_NAME *issuer = x->req->issuer;
    for (int i = 0; i < n; i++)
        if (is_named(gens[i].cert, issuer, x->req->serial) ||
            is_named(gens[i].ra_cert, issuer, x->req->serial))
            return &gens[i];
    const ca_gen *named = generation_named(gens, n, issuer);
    char serial[STORE_HEX_SERIAL];
    ca_serial_key(x->req->serial, serial, sizeof(serial));
    X509 *cert = named && serial[0] ? exchange_cert_from_store(x, serial) : NULL;
    for (int i = 0; cert != NULL && i < n; i++)
        if (signed_by(gens[i].cert, cert)) {
            named = &gens[i];
            break;
        }
    X509_free(cert);
    return named;
}

void get_crl_request(exchange *x)
{
    ca_gen gens[3];
    const ca_gen *g = crl_generation(x, gens, generations(x->ca, gens));
    if (g == NULL) {
        exchange_fail(x, SCEP_E_BAD_CERT_ID, "no CRL for that issuer");
        return;
    }
    store_crl rec = {0};
    char err[256];
    if (crl_for_generation(x->ca, g->cert, g->key, &x->srv->cfg, x->st, 0, &rec, err,
                           sizeof(err)) != 0) {
        reply_text(x->out, 503, err);
        return;
    }
    const unsigned char *p = rec.der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)rec.der_len);
    if (crl == NULL)
        reply_text(x->out, 503, "the stored CRL is unreadable");
    else
        exchange_answer_with(x, SCEP_STATUS_SUCCESS, 0, NULL, NULL, crl);
    X509_CRL_free(crl);
    store_crl_clear(&rec);
}
