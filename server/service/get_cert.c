/* GetCert: a stored certificate by the issuer and serial number the message names. */
#include "service/exchange.h"
#include "service/generations.h"

void get_cert_request(exchange *x)
{
    ca_gen gens[3];
    int n = generations(x->ca, gens);
    char serial[STORE_HEX_SERIAL];
    ca_serial_key(x->req->serial, serial, sizeof(serial));
    X509 *cert = NULL;
    if (serial[0] != '\0' && generation_named(gens, n, x->req->issuer) != NULL)
        cert = exchange_cert_from_store(x, serial);
    if (cert != NULL && !ca_issued(x->ca, cert)) { /* another CA's (a profile's ca_dir) */
        X509_free(cert);
        cert = NULL;
    }
    if (cert == NULL)
        exchange_fail(x, SCEP_E_BAD_CERT_ID, "no certificate with that issuer and serial number");
    else
        exchange_answer(x, SCEP_STATUS_SUCCESS, 0, NULL, cert);
    X509_free(cert);
}
