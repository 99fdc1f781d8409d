#include "renewal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

/* The old certificate's subjectAltName in the form scep_csr_build takes. */
static void san_text(X509 *cert, char *buf, size_t buflen)
{
    buf[0] = '\0';
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    size_t used = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        char value[256] = "";
        const char *kind = NULL;
        if (gn->type == GEN_DNS || gn->type == GEN_EMAIL || gn->type == GEN_URI) {
            kind = gn->type == GEN_DNS ? "dns" : gn->type == GEN_EMAIL ? "email" : "uri";
            snprintf(value, sizeof(value), "%.*s", ASN1_STRING_length(gn->d.ia5),
                     (const char *)ASN1_STRING_get0_data(gn->d.ia5));
        } else if (gn->type == GEN_IPADD) {
            int n = ASN1_STRING_length(gn->d.ip);
            kind = "ip";
            if (n != 4 && n != 16)
                continue;
            inet_ntop(n == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(gn->d.ip), value,
                      sizeof(value));
        }
        if (kind == NULL || strchr(value, ',') != NULL)
            continue;
        int w = snprintf(buf + used, buflen - used, "%s%s:%s", used ? "," : "", kind, value);
        if (w < 0 || (size_t)w >= buflen - used)
            break;
        used += (size_t)w;
    }
    GENERAL_NAMES_free(names);
}

int renewal_prepare(session *s, enrollment *e, X509 *old, EVP_PKEY *old_key, const char *challenge)
{
    char san[2048];
    san_text(old, san, sizeof(san));
    scep_csr_params cp = {.subject = X509_get_subject_name(old),
                          .san = san[0] ? san : NULL,
                          .challenge_password = challenge,
                          .digest = s->neg.digest};
    if (scep_csr_build(s->ctx, e->key, &cp, &e->csr) != SCEP_OK ||
        scep_transaction_id(s->ctx, e->key, SCEP_DIGEST_SHA256, e->transaction_id,
                            sizeof(e->transaction_id)) != SCEP_OK) {
        snprintf(s->err, sizeof(s->err), "cannot build the renewal request");
        return EXIT_ERROR;
    }
    e->type =
        (s->caps & (SCEP_CAP_RENEWAL | SCEP_CAP_UPDATE)) ? SCEP_MSG_RENEWAL_REQ : SCEP_MSG_PKCS_REQ;
    e->signer = old;
    e->signer_key = old_key;
    if (s->verbose)
        fprintf(stderr, "scep: renewing with a %s\n", scep_msg_type_name(e->type));
    return EXIT_OK;
}
