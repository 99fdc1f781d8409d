/* The CA generations of an era, and which of them an issuerAndSerialNumber names (GetCert,
 * GetCRL). */
#ifndef SCEPD_GENERATIONS_H
#define SCEPD_GENERATIONS_H

#include <stddef.h>

#include "ca/ca.h"

/* The CA generations of this era, current first; returns how many. */
int generations(const authority *ca, ca_gen gens[3]);
/* Whether cert (may be NULL) has name as its subject. */
int generation_is_subject_of(const X509 *cert, const X509_NAME *name);
/* The first generation whose CA or RA has name as its subject; NULL when none. */
const ca_gen *generation_named(const ca_gen *gens, int n, const X509_NAME *name);

#endif
