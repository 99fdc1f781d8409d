/* A key over an EVP_PKEY: signing and decryption through OpenSSL's EVP interface, which a
 * provider (a token) may carry out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rsa.h>

#include "keys/keys.h"

typedef struct pkey_key {
    private_key base;
    EVP_PKEY *pkey;
} pkey_key;

static EVP_PKEY *of(private_key *k)
{
    return ((pkey_key *)k)->pkey;
}

/* Fills *out with what fill writes, sized by a first call without a buffer. */
static int two_calls(EVP_PKEY_CTX *ctx,
                     int (*fill)(EVP_PKEY_CTX *, unsigned char *, size_t *, const unsigned char *,
                                 size_t),
                     const unsigned char *in, size_t inlen, unsigned char **out, size_t *outlen)
{
    *out = NULL;
    size_t n = 0;
    if (fill(ctx, NULL, &n, in, inlen) != 1 || (*out = OPENSSL_malloc(n)) == NULL)
        return -1;
    if (fill(ctx, *out, &n, in, inlen) == 1) {
        *outlen = n;
        return 0;
    }
    OPENSSL_clear_free(*out, n);
    *out = NULL;
    return -1;
}

static int sign(private_key *k, const char *digest, const unsigned char *data, size_t len,
                unsigned char **sig, size_t *siglen)
{
    *sig = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n = 0;
    int rc = -1;
    if (md != NULL && EVP_DigestSignInit_ex(md, NULL, digest, NULL, NULL, of(k), NULL) == 1 &&
        EVP_DigestSign(md, NULL, &n, data, len) == 1 && (*sig = OPENSSL_malloc(n)) != NULL &&
        EVP_DigestSign(md, *sig, &n, data, len) == 1) {
        *siglen = n;
        rc = 0;
    }
    if (rc != 0) {
        OPENSSL_free(*sig);
        *sig = NULL;
    }
    EVP_MD_CTX_free(md);
    return rc;
}

static int sign_digest(private_key *k, const char *digest, const unsigned char *md, size_t mdlen,
                       unsigned char **sig, size_t *siglen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, of(k), NULL);
    int ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_signature_md(ctx, EVP_get_digestbyname(digest)) == 1;
    int rc = ok ? two_calls(ctx, EVP_PKEY_sign, md, mdlen, sig, siglen) : -1;
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static int decrypt(private_key *k, const unsigned char *in, size_t inlen, unsigned char **out,
                   size_t *outlen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, of(k), NULL);
    int ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
    int rc = ok ? two_calls(ctx, EVP_PKEY_decrypt, in, inlen, out, outlen) : -1;
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static void caps(private_key *k, key_caps *out)
{
    keys_pkey_caps(of(k), out);
}

static void destroy(private_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(of(k));
    OPENSSL_free(k);
}

static const private_key_ops pkey_ops = {sign, sign_digest, decrypt, of, caps, destroy};

private_key *keys_pkey_key(EVP_PKEY *pkey)
{
    pkey_key *k = OPENSSL_zalloc(sizeof(*k));
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    k->base.ops = &pkey_ops;
    k->pkey = pkey;
    return &k->base;
}

void keys_pkey_caps(const EVP_PKEY *pkey, key_caps *out)
{
    memset(out, 0, sizeof(*out));
    const char *type = EVP_PKEY_get0_type_name(pkey);
    snprintf(out->type, sizeof(out->type), "%s", type ? type : "");
    out->bits = EVP_PKEY_get_bits(pkey);
    out->sign = EVP_PKEY_can_sign(pkey);
    out->rsa_decrypt = EVP_PKEY_is_a(pkey, "RSA");
}

EVP_PKEY *keys_new_pkey(const char *spec)
{
    if (strcmp(spec, "rsa:2048") == 0 || strcmp(spec, "rsa:3072") == 0 ||
        strcmp(spec, "rsa:4096") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)strtoul(spec + 4, NULL, 10));
    if (strcmp(spec, "ec:P-256") == 0 || strcmp(spec, "ec:P-384") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", spec + 3);
    return NULL;
}

void keys_spec_like(const key_caps *caps, char *spec, size_t len)
{
    if (strcmp(caps->type, "RSA") == 0)
        snprintf(spec, len, "rsa:%d", caps->bits >= 4096 ? 4096 : caps->bits >= 3072 ? 3072 : 2048);
    else
        snprintf(spec, len, "ec:%s", caps->bits > 256 ? "P-384" : "P-256");
}
