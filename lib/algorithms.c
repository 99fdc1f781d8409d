/* The ciphers and digests SCEP may use, their names and OIDs, and the legacy policy. */
#include <string.h>
#include <strings.h>

#include <openssl/objects.h>

#include "internal.h"

typedef struct cipher_row {
    scep_cipher cipher;
    int nid;
    const char *name;    /* as logs and users see it */
    const char *ossl;    /* OpenSSL fetch name */
    const char *aliases; /* space-separated, lower case */
} cipher_row;

static const cipher_row cipher_table[SCEPI_N_CIPHERS] = {
    {SCEP_CIPHER_AES128_CBC, NID_aes_128_cbc, "AES-128-CBC", "AES-128-CBC",
     " aes aes128 aes-128 aes-128-cbc aes128-cbc "},
    {SCEP_CIPHER_AES192_CBC, NID_aes_192_cbc, "AES-192-CBC", "AES-192-CBC",
     " aes192 aes-192 aes-192-cbc aes192-cbc "},
    {SCEP_CIPHER_AES256_CBC, NID_aes_256_cbc, "AES-256-CBC", "AES-256-CBC",
     " aes256 aes-256 aes-256-cbc aes256-cbc "},
    {SCEP_CIPHER_DES3_CBC, NID_des_ede3_cbc, "DES3-CBC", "DES-EDE3-CBC",
     " des3 3des des-ede3 des-ede3-cbc des3-cbc "},
    {SCEP_CIPHER_DES_CBC, NID_des_cbc, "DES-CBC", "DES-CBC", " des des-cbc "},
};

typedef struct digest_row {
    scep_digest digest;
    int nid;
    const char *name;
    const char *ossl;
    const char *aliases;
} digest_row;

static const digest_row digest_table[SCEPI_N_DIGESTS] = {
    {SCEP_DIGEST_SHA1, NID_sha1, "SHA-1", "SHA1", " sha1 sha-1 "},
    {SCEP_DIGEST_SHA224, NID_sha224, "SHA-224", "SHA2-224", " sha224 sha-224 "},
    {SCEP_DIGEST_SHA256, NID_sha256, "SHA-256", "SHA2-256", " sha256 sha-256 "},
    {SCEP_DIGEST_SHA384, NID_sha384, "SHA-384", "SHA2-384", " sha384 sha-384 "},
    {SCEP_DIGEST_SHA512, NID_sha512, "SHA-512", "SHA2-512", " sha512 sha-512 "},
    {SCEP_DIGEST_MD5, NID_md5, "MD5", "MD5", " md5 "},
};

#define TABLE_LEN(t) (sizeof(t) / sizeof((t)[0]))

static const cipher_row *cipher_row_of(scep_cipher cipher)
{
    for (size_t i = 0; i < TABLE_LEN(cipher_table); i++)
        if (cipher_table[i].cipher == cipher)
            return &cipher_table[i];
    return NULL;
}

static const digest_row *digest_row_of(scep_digest digest)
{
    for (size_t i = 0; i < TABLE_LEN(digest_table); i++)
        if (digest_table[i].digest == digest)
            return &digest_table[i];
    return NULL;
}

int scep_cipher_allowed(const scep_ctx *ctx, scep_cipher cipher)
{
    if (cipher_row_of(cipher) == NULL)
        return 0;
    return cipher != SCEP_CIPHER_DES_CBC || scep_ctx_allows_legacy(ctx);
}

int scep_digest_allowed(const scep_ctx *ctx, scep_digest digest)
{
    if (digest_row_of(digest) == NULL)
        return 0;
    return digest != SCEP_DIGEST_MD5 || scep_ctx_allows_legacy(ctx);
}

const char *scep_cipher_name(scep_cipher cipher)
{
    const cipher_row *row = cipher_row_of(cipher);
    return row ? row->name : "none";
}

const char *scep_digest_name(scep_digest digest)
{
    const digest_row *row = digest_row_of(digest);
    return row ? row->name : "none";
}

/* Matches name against a space-separated alias list, case-insensitively. */
static int alias_matches(const char *aliases, const char *name)
{
    char key[40];
    size_t n = strlen(name);
    if (n == 0 || n + 3 > sizeof(key))
        return 0;
    key[0] = ' ';
    for (size_t i = 0; i < n; i++)
        key[i + 1] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    key[n + 1] = ' ';
    key[n + 2] = '\0';
    return strstr(aliases, key) != NULL;
}

scep_cipher scep_cipher_from_name(const char *name)
{
    if (name == NULL)
        return SCEP_CIPHER_NONE;
    for (size_t i = 0; i < TABLE_LEN(cipher_table); i++)
        if (alias_matches(cipher_table[i].aliases, name))
            return cipher_table[i].cipher;
    return SCEP_CIPHER_NONE;
}

scep_digest scep_digest_from_name(const char *name)
{
    if (name == NULL)
        return SCEP_DIGEST_NONE;
    for (size_t i = 0; i < TABLE_LEN(digest_table); i++)
        if (alias_matches(digest_table[i].aliases, name))
            return digest_table[i].digest;
    return SCEP_DIGEST_NONE;
}

int scepi_algorithms_fetch(scep_ctx *ctx)
{
    OSSL_LIB_CTX *libctx = scep_ctx_libctx(ctx);
    for (size_t i = 0; i < TABLE_LEN(cipher_table); i++) {
        const cipher_row *row = &cipher_table[i];
        if (scep_cipher_allowed(ctx, row->cipher))
            ctx->ciphers[i] = EVP_CIPHER_fetch(libctx, row->ossl, NULL);
        if (ctx->ciphers[i] == NULL && row->cipher != SCEP_CIPHER_DES_CBC)
            return -1;
    }
    for (size_t i = 0; i < TABLE_LEN(digest_table); i++) {
        const digest_row *row = &digest_table[i];
        if (scep_digest_allowed(ctx, row->digest))
            ctx->digests[i] = EVP_MD_fetch(libctx, row->ossl, NULL);
        if (ctx->digests[i] == NULL && row->digest != SCEP_DIGEST_MD5)
            return -1;
    }
    return 0;
}

void scepi_algorithms_free(scep_ctx *ctx)
{
    for (size_t i = 0; i < TABLE_LEN(cipher_table); i++) {
        EVP_CIPHER_free(ctx->ciphers[i]);
        ctx->ciphers[i] = NULL;
    }
    for (size_t i = 0; i < TABLE_LEN(digest_table); i++) {
        EVP_MD_free(ctx->digests[i]);
        ctx->digests[i] = NULL;
    }
}

EVP_CIPHER *scepi_cipher_fetch(const scep_ctx *ctx, scep_cipher cipher)
{
    const cipher_row *row = cipher_row_of(cipher);
    if (ctx == NULL || row == NULL || !scep_cipher_allowed(ctx, cipher))
        return NULL;
    EVP_CIPHER *evp = ctx->ciphers[row - cipher_table];
    return evp != NULL && EVP_CIPHER_up_ref(evp) ? evp : NULL;
}

EVP_MD *scepi_md_fetch(const scep_ctx *ctx, scep_digest digest)
{
    const digest_row *row = digest_row_of(digest);
    if (ctx == NULL || row == NULL || !scep_digest_allowed(ctx, digest))
        return NULL;
    EVP_MD *md = ctx->digests[row - digest_table];
    return md != NULL && EVP_MD_up_ref(md) ? md : NULL;
}

const char *scepi_digest_ossl_name(scep_digest digest)
{
    const digest_row *row = digest_row_of(digest);
    return row ? row->ossl : NULL;
}

scep_cipher scepi_cipher_from_obj(const ASN1_OBJECT *obj)
{
    int nid = OBJ_obj2nid(obj);
    for (size_t i = 0; i < TABLE_LEN(cipher_table); i++)
        if (cipher_table[i].nid == nid)
            return cipher_table[i].cipher;
    return SCEP_CIPHER_NONE;
}

scep_digest scepi_digest_from_obj(const ASN1_OBJECT *obj)
{
    int nid = OBJ_obj2nid(obj);
    /* Some peers put the signature algorithm's OID in the digest field. */
    switch (nid) {
    case NID_sha1WithRSAEncryption:
        nid = NID_sha1;
        break;
    case NID_sha256WithRSAEncryption:
        nid = NID_sha256;
        break;
    case NID_md5WithRSAEncryption:
        nid = NID_md5;
        break;
    default:
        break;
    }
    for (size_t i = 0; i < TABLE_LEN(digest_table); i++)
        if (digest_table[i].nid == nid)
            return digest_table[i].digest;
    return SCEP_DIGEST_NONE;
}
