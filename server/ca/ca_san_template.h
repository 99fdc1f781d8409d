/* san_template: subjectAltNames the profile adds to an issued certificate, made from the
 * request's common name ("DNS:{cn}.example.com"). */
#ifndef SCEPD_CA_SAN_TEMPLATE_H
#define SCEPD_CA_SAN_TEMPLATE_H

#include <openssl/x509.h>

#include "config/config.h"

/* With c->san_template set: adds one subjectAltName to cert holding the request's SANs (when
 * copy_san) and the template's. Returns 0 (nothing to do without a template), or -1 with a
 * reason (the common name does not fit a name). */
int ca_san_template(X509 *cert, X509_REQ *csr, const config *c, char *err, size_t errlen);

#endif
