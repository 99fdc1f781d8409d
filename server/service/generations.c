/* The CA generations of an era, and which of them a GetCert or GetCRL names. */
#include "service/generations.h"

int generations(const authority *ca, ca_gen gens[3])
{
    int n = 0;
    gens[n++] =
        (ca_gen){.cert = ca->cert, .key = ca->key, .ra_cert = ca->ra_cert, .ra_key = ca->ra_key};
    if (ca->prev.cert != NULL)
        gens[n++] = ca->prev;
    if (ca->next.cert != NULL)
        gens[n++] = ca->next;
    return n;
}

int generation_is_subject_of(const X509 *cert, const X509_NAME *name)
{
    return cert != NULL && X509_NAME_cmp(name, X509_get_subject_name(cert)) == 0;
}

/* The RA's counts: sscep names the certificate it was given (-c) as the issuer, and in RA mode
 * that is the RA. */
const ca_gen *generation_named(const ca_gen *gens, int n, const X509_NAME *name)
{
    for (int i = 0; i < n; i++)
        if (generation_is_subject_of(gens[i].cert, name) ||
            generation_is_subject_of(gens[i].ra_cert, name))
            return &gens[i];
    return NULL;
}
