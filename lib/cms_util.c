/* Small bridges between byte buffers and OpenSSL's CMS objects, with ceilings. */
#include <limits.h>
#include <string.h>

#include "internal.h"

scep_err scepi_cms_d2i(const scep_ctx *ctx, const unsigned char *der, size_t len, size_t max,
                       CMS_ContentInfo **out, scep_diag *diag)
{
    *out = NULL;
    if (der == NULL && len > 0)
        return SCEP_E_INVALID_ARG;
    if (len > max || len > LONG_MAX)
        return scepi_diag(diag, SCEP_E_TOO_LARGE, "%zu bytes is above the %zu-byte limit", len,
                          max);
    if (len == 0)
        return scepi_diag(diag, SCEP_E_BAD_ENCODING, "empty message");
    /* Decoding into an object made in ctx's library context keeps algorithm fetches there. */
    CMS_ContentInfo *cms = CMS_ContentInfo_new_ex(scep_ctx_libctx(ctx), NULL);
    if (cms == NULL)
        return SCEP_E_NOMEM;
    const unsigned char *p = der;
    if (d2i_CMS_ContentInfo(&cms, &p, (long)len) == NULL) {
        CMS_ContentInfo_free(cms);
        return scepi_diag(diag, SCEP_E_BAD_ENCODING, "not a DER or BER CMS ContentInfo");
    }
    if ((size_t)(p - der) != len) {
        CMS_ContentInfo_free(cms);
        return scepi_diag(diag, SCEP_E_BAD_ENCODING, "%zu trailing bytes after the message",
                          len - (size_t)(p - der));
    }
    *out = cms;
    return SCEP_OK;
}

scep_err scepi_cms_i2d(CMS_ContentInfo *cms, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    unsigned char *der = NULL;
    int n = i2d_CMS_ContentInfo(cms, &der);
    if (n <= 0)
        return SCEP_E_INTERNAL;
    *out = der;
    *out_len = (size_t)n;
    return SCEP_OK;
}

/* CMS_final() over a buffer without its copy loop: the content goes into the CMS's BIO chain
 * (digest or cipher) in one write, and CMS_dataFinal() takes it from there. */
int scepi_cms_final(CMS_ContentInfo *cms, const unsigned char *data, size_t len)
{
    if (len > INT_MAX)
        return 0;
    BIO *chain = CMS_dataInit(cms, NULL);
    int ok = chain != NULL && (len == 0 || BIO_write(chain, data, (int)len) == (int)len);
    /* The flush finishes a cipher BIO's last block; as in CMS_final(), CMS_dataFinal() is
     * what reports a failure. */
    if (ok)
        (void)BIO_flush(chain);
    ok = ok && CMS_dataFinal(cms, chain) == 1;
    BIO_free_all(chain);
    return ok;
}

scep_err scepi_bio_take(BIO *bio, size_t max, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n < 0)
        return SCEP_E_INTERNAL;
    if ((size_t)n > max)
        return SCEP_E_TOO_LARGE;
    /* One spare byte so that an empty result is still a valid allocation. */
    unsigned char *copy = OPENSSL_malloc((size_t)n + 1);
    if (copy == NULL)
        return SCEP_E_NOMEM;
    if (n > 0)
        memcpy(copy, data, (size_t)n);
    *out = copy;
    *out_len = (size_t)n;
    return SCEP_OK;
}
