/* The public key of a PKCSReq's or RenewalReq's CSR, decoded at most once per message. */
#include <string.h>

#include <openssl/err.h>

#include "internal.h"

/* Same algorithm and same key bits: the same key, without decoding either. */
static int same_spki(const X509_PUBKEY *a, const X509_PUBKEY *b)
{
    const unsigned char *bits_a = NULL, *bits_b = NULL;
    int len_a = 0, len_b = 0;
    X509_ALGOR *alg_a = NULL, *alg_b = NULL;
    if (a == NULL || b == NULL || !X509_PUBKEY_get0_param(NULL, &bits_a, &len_a, &alg_a, a) ||
        !X509_PUBKEY_get0_param(NULL, &bits_b, &len_b, &alg_b, b))
        return 0;
    return len_a > 0 && len_a == len_b && memcmp(bits_a, bits_b, (size_t)len_a) == 0 &&
           X509_ALGOR_cmp(alg_a, alg_b) == 0;
}

static EVP_PKEY *decode_spki(const scep_ctx *ctx, const X509_PUBKEY *spki)
{
    unsigned char *der = NULL;
    int len = i2d_X509_PUBKEY(spki, &der);
    const unsigned char *p = der;
    EVP_PKEY *key = len > 0 ? d2i_PUBKEY_ex(NULL, &p, len, scep_ctx_libctx(ctx), NULL) : NULL;
    OPENSSL_free(der);
    return key;
}

EVP_PKEY *scepi_request_key(const scep_ctx *ctx, X509_REQ *csr, const X509 *signer)
{
    const X509_PUBKEY *spki = X509_REQ_get_X509_PUBKEY(csr);
    EVP_PKEY *signer_key = signer ? X509_get0_pubkey(signer) : NULL;
    if (signer_key != NULL && same_spki(spki, X509_get_X509_PUBKEY(signer)))
        return EVP_PKEY_up_ref(signer_key) ? signer_key : NULL;
    ERR_set_mark();
    EVP_PKEY *key = decode_spki(ctx, spki);
    ERR_pop_to_mark();
    return key;
}
