/* PKIOperation: every SCEP message type, from the decoded pkiMessage to the signed CertRep. */
#ifndef SCEPD_ENROLL_H
#define SCEPD_ENROLL_H

#include <stddef.h>

#include "service/reply.h"
#include "service/server.h"

/* PKIOperation to out->profile: decode, check, act, answer with a signed CertRep. */
void enroll_handle(const server *srv, const era *now, store *st, const unsigned char *der,
                   size_t len, reply *out);

#endif
