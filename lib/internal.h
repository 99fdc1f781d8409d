/* Declarations shared between the library's files (scepi_ prefix); not installed. */
#ifndef SCEP_LIB_INTERNAL_H
#define SCEP_LIB_INTERNAL_H

#include <stdarg.h>

#include <openssl/cms.h>

#include "scep/scep.h"

/* Rows of the algorithm tables (lib/algorithms.c) and SCEP attributes (lib/attrs.c). */
#define SCEPI_N_CIPHERS 5
#define SCEPI_N_DIGESTS 6

/* SCEP attributes (RFC 8894 section 3.2.1). */
typedef enum scepi_attr {
    SCEPI_ATTR_MESSAGE_TYPE,
    SCEPI_ATTR_PKI_STATUS,
    SCEPI_ATTR_FAIL_INFO,
    SCEPI_ATTR_SENDER_NONCE,
    SCEPI_ATTR_RECIPIENT_NONCE,
    SCEPI_ATTR_TRANSACTION_ID,
    SCEPI_ATTR_FAIL_INFO_TEXT,
    SCEPI_ATTR_COUNT
} scepi_attr;

struct scep_ctx {
    OSSL_LIB_CTX *libctx; /* NULL: OpenSSL's default context */
    OSSL_PROVIDER *default_provider;
    OSSL_PROVIDER *legacy_provider;
    /* A context with only the null provider: parsing in it skips OpenSSL's opportunistic
     * public-key decode (see scep_decrypt_options.csr_key_from_signer). */
    OSSL_LIB_CTX *keyless_libctx;
    OSSL_PROVIDER *null_provider;
    /* Fetched once in scep_ctx_new() (OpenSSL 3's advice: a fetch per use costs a method-store
     * lookup under a lock); NULL where the context's providers lack one or policy forbids it. */
    EVP_CIPHER *ciphers[SCEPI_N_CIPHERS];
    EVP_MD *digests[SCEPI_N_DIGESTS];
    /* The SCEP attribute OIDs, parsed once instead of at every read and write. */
    ASN1_OBJECT *attr_objs[SCEPI_ATTR_COUNT];
    int allow_legacy;
    scep_log_fn log;
    void *log_arg;
};

/* Writes a formatted reason into diag when it is not NULL; returns err for tail calls. */
scep_err scepi_diag(scep_diag *diag, scep_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void scepi_log(const scep_ctx *ctx, scep_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fetches every allowed cipher and digest into ctx (scep_ctx_new); 0, or -1 when one that
 * must be there (any but single DES and MD5) is missing; scepi_algorithms_free() releases. */
int scepi_algorithms_fetch(scep_ctx *ctx);
void scepi_algorithms_free(scep_ctx *ctx);
/* The same for the attribute OIDs (lib/attrs.c). */
int scepi_attr_objs_new(scep_ctx *ctx);
void scepi_attr_objs_free(scep_ctx *ctx);

/* Algorithm mapping. The EVP objects come from ctx's library context, fetched once there (a
 * new reference each call); caller frees. */
EVP_CIPHER *scepi_cipher_fetch(const scep_ctx *ctx, scep_cipher cipher);
EVP_MD *scepi_md_fetch(const scep_ctx *ctx, scep_digest digest);
scep_cipher scepi_cipher_from_obj(const ASN1_OBJECT *obj);
scep_digest scepi_digest_from_obj(const ASN1_OBJECT *obj);
const char *scepi_digest_ossl_name(scep_digest digest);

/* Decodes a CMS ContentInfo in ctx's library context, requiring all len bytes be used. */
scep_err scepi_cms_d2i(const scep_ctx *ctx, const unsigned char *der, size_t len, size_t max,
                       CMS_ContentInfo **out, scep_diag *diag);
/* The same for a SignedData, with its certificates' RSA keys attached without OpenSSL 3.0's
 * decoder chain when that leaves them byte-identical (lib/signed_certs.c). */
scep_err scepi_signed_d2i(const scep_ctx *ctx, const unsigned char *der, size_t len, size_t max,
                          CMS_ContentInfo **out, scep_diag *diag);
/* DER of a CMS ContentInfo into a fresh OPENSSL_malloc'd buffer. */
scep_err scepi_cms_i2d(CMS_ContentInfo *cms, unsigned char **out, size_t *out_len);
/* Puts len bytes of content into a CMS made with CMS_PARTIAL and finishes it (1, or 0). */
int scepi_cms_final(CMS_ContentInfo *cms, const unsigned char *data, size_t len);
/* The content of a verified or decrypted CMS, read from a memory BIO. */
scep_err scepi_bio_take(BIO *bio, size_t max, unsigned char **out, size_t *out_len);

/* The attribute's OID, borrowed from ctx (NULL for an unknown attr). */
const ASN1_OBJECT *scepi_attr_obj(const scep_ctx *ctx, scepi_attr attr);
const char *scepi_attr_name(scepi_attr attr);

/* The attribute functions take the ctx whose OIDs they use; ctx must come from scep_ctx_new. */
int scepi_attr_present(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr);
/* Printable ASCII text (PrintableString; IA5String and UTF8String tolerated). */
scep_err scepi_attr_get_text(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr, char *buf,
                             size_t buflen, scep_diag *diag);
/* Free text, truncated to buflen, control bytes dropped. */
scep_err scepi_attr_get_utf8(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr, char *buf,
                             size_t buflen, scep_diag *diag);
/* A nonce: OCTET STRING of SCEP_MIN_NONCE_BYTES..SCEP_MAX_NONCE_BYTES into buf. */
scep_err scepi_attr_get_octets(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr,
                               unsigned char *buf, size_t *len, scep_diag *diag);
scep_err scepi_attr_add(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr, int asn1_type,
                        const void *data, size_t len);

/* An opened envelope. data is OPENSSL_malloc'd; free with OPENSSL_clear_free. */
typedef struct scepi_opened {
    unsigned char *data;
    size_t len;
    scep_cipher cipher;
    int used_password;
} scepi_opened;

/* Decrypts a pkcsPKIEnvelope with the first matching recipient or the password. */
scep_err scepi_envelope_open(const scep_ctx *ctx, const unsigned char *der, size_t len,
                             const scep_decrypt_options *opts, scepi_opened *out, scep_diag *diag);
/* Encrypts data to recipient (or, when NULL, to password) with cipher, as DER. */
scep_err scepi_envelope_seal(const scep_ctx *ctx, const unsigned char *data, size_t len,
                             X509 *recipient, const char *password, scep_cipher cipher,
                             unsigned char **out, size_t *out_len);

/* The messageData for p->type, DER, OPENSSL_malloc'd. */
scep_err scepi_payload_encode(const scep_ctx *ctx, const scep_msg_params *p, unsigned char **out,
                              size_t *out_len);
/* Parses msg->payload into msg's payload fields by msg->type. */
/* The key of csr (parsed without one): signer's own key object when it is the same key,
 * otherwise decoded from the request's SubjectPublicKeyInfo. NULL when it cannot be decoded. */
EVP_PKEY *scepi_request_key(const scep_ctx *ctx, X509_REQ *csr, const X509 *signer);
scep_err scepi_payload_decode(const scep_ctx *ctx, scep_msg *msg, const scep_decrypt_options *opts,
                              scep_diag *diag);

/* Verifies a one-signer SignedData like a pkiMessage and returns its content (GetNextCACert). */
scep_err scepi_signed_content(const scep_ctx *ctx, const unsigned char *der, size_t len,
                              const scep_open_options *opts, unsigned char **content,
                              size_t *content_len, scep_diag *diag);

#endif
