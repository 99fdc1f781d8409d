#include "store/csr_at_rest.h"

#include <limits.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

void store_sha256_hex(const void *data, size_t len, char out[STORE_KEY_ID])
{
    static const char digits[] = "0123456789ABCDEF";
    unsigned char md[32];
    unsigned int n = 0;
    out[0] = '\0';
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return;
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[64] = '\0';
    OPENSSL_cleanse(md, sizeof(md));
}

int store_csr_drop_challenge(X509_REQ *csr)
{
    int removed = 0, at;
    while ((at = X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, -1)) >= 0) {
        X509_ATTRIBUTE_free(X509_REQ_delete_attr(csr, at));
        removed++;
    }
    return removed;
}

int store_csr_strip_der(const unsigned char *der, size_t len, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    const unsigned char *p = der;
    X509_REQ *csr = len <= LONG_MAX ? d2i_X509_REQ(NULL, &p, (long)len) : NULL;
    if (csr == NULL || store_csr_drop_challenge(csr) == 0) {
        X509_REQ_free(csr);
        return 0;
    }
    int n = i2d_X509_REQ(csr, out);
    X509_REQ_free(csr);
    if (n <= 0)
        return -1;
    *out_len = (size_t)n;
    return 1;
}
