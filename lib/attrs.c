/* SCEP's signed attributes (RFC 8894 section 3.2.1): OIDs, reading and writing. */
#include <string.h>

#include <openssl/objects.h>

#include "internal.h"

typedef struct attr_row {
    const char *oid;
    const char *name;
} attr_row;

static const attr_row attr_table[SCEPI_ATTR_COUNT] = {
    [SCEPI_ATTR_MESSAGE_TYPE] = {"2.16.840.1.113733.1.9.2", "messageType"},
    [SCEPI_ATTR_PKI_STATUS] = {"2.16.840.1.113733.1.9.3", "pkiStatus"},
    [SCEPI_ATTR_FAIL_INFO] = {"2.16.840.1.113733.1.9.4", "failInfo"},
    [SCEPI_ATTR_SENDER_NONCE] = {"2.16.840.1.113733.1.9.5", "senderNonce"},
    [SCEPI_ATTR_RECIPIENT_NONCE] = {"2.16.840.1.113733.1.9.6", "recipientNonce"},
    [SCEPI_ATTR_TRANSACTION_ID] = {"2.16.840.1.113733.1.9.7", "transactionID"},
    [SCEPI_ATTR_FAIL_INFO_TEXT] = {"1.3.6.1.5.5.7.24.1", "failInfoText"},
};

int scepi_attr_objs_new(scep_ctx *ctx)
{
    for (int i = 0; i < SCEPI_ATTR_COUNT; i++) {
        /* no_name = 1: a numeric OID, never added to OpenSSL's global object table. */
        ctx->attr_objs[i] = OBJ_txt2obj(attr_table[i].oid, 1);
        if (ctx->attr_objs[i] == NULL)
            return -1;
    }
    return 0;
}

void scepi_attr_objs_free(scep_ctx *ctx)
{
    for (int i = 0; i < SCEPI_ATTR_COUNT; i++) {
        ASN1_OBJECT_free(ctx->attr_objs[i]);
        ctx->attr_objs[i] = NULL;
    }
}

const ASN1_OBJECT *scepi_attr_obj(const scep_ctx *ctx, scepi_attr attr)
{
    if (ctx == NULL || (unsigned)attr >= SCEPI_ATTR_COUNT)
        return NULL;
    return ctx->attr_objs[attr];
}

const char *scepi_attr_name(scepi_attr attr)
{
    return (unsigned)attr < SCEPI_ATTR_COUNT ? attr_table[attr].name : "unknown";
}

/* Finds the one value of attribute attr. Two attributes with the same OID, or one with other
 * than one value, are malformed: a peer must not get to choose which one we read. */
static scep_err find_value(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr,
                           ASN1_TYPE **value, scep_diag *diag)
{
    *value = NULL;
    const ASN1_OBJECT *obj = scepi_attr_obj(ctx, attr);
    if (obj == NULL)
        return SCEP_E_INVALID_ARG;
    int idx = CMS_signed_get_attr_by_OBJ(si, obj, -1);
    int again = idx >= 0 ? CMS_signed_get_attr_by_OBJ(si, obj, idx) : -1;
    if (idx < 0)
        return scepi_diag(diag, SCEP_E_MISSING_ATTR, "%s attribute is missing",
                          scepi_attr_name(attr));
    if (again >= 0)
        return scepi_diag(diag, SCEP_E_BAD_ATTR, "%s attribute appears twice",
                          scepi_attr_name(attr));
    X509_ATTRIBUTE *xa = CMS_signed_get_attr(si, idx);
    if (xa == NULL || X509_ATTRIBUTE_count(xa) != 1)
        return scepi_diag(diag, SCEP_E_BAD_ATTR, "%s attribute must have one value",
                          scepi_attr_name(attr));
    *value = X509_ATTRIBUTE_get0_type(xa, 0);
    return *value ? SCEP_OK : SCEP_E_BAD_ATTR;
}

int scepi_attr_present(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr)
{
    const ASN1_OBJECT *obj = scepi_attr_obj(ctx, attr);
    return obj != NULL && CMS_signed_get_attr_by_OBJ(si, obj, -1) >= 0;
}

static int is_printable_text(const unsigned char *s, int len)
{
    for (int i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    return 1;
}

/* The one value of a string attribute. RFC 8894 says PrintableString; some peers use
 * IA5String or UTF8String for the same text. Any other type is malformed. */
static scep_err find_string(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr,
                            const ASN1_STRING **out, scep_diag *diag)
{
    ASN1_TYPE *value = NULL;
    scep_err err = find_value(ctx, si, attr, &value, diag);
    if (err != SCEP_OK)
        return err;
    int type = ASN1_TYPE_get(value);
    if (type != V_ASN1_PRINTABLESTRING && type != V_ASN1_IA5STRING && type != V_ASN1_UTF8STRING)
        return scepi_diag(diag, SCEP_E_BAD_ATTR, "%s is not a string", scepi_attr_name(attr));
    *out = value->value.asn1_string;
    return SCEP_OK;
}

scep_err scepi_attr_get_text(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr, char *buf,
                             size_t buflen, scep_diag *diag)
{
    buf[0] = '\0';
    const ASN1_STRING *s = NULL;
    scep_err err = find_string(ctx, si, attr, &s, diag);
    if (err != SCEP_OK)
        return err;
    int len = ASN1_STRING_length(s);
    const unsigned char *data = ASN1_STRING_get0_data(s);
    if (len <= 0 || (size_t)len >= buflen || !is_printable_text(data, len))
        return scepi_diag(diag, SCEP_E_BAD_ATTR, "%s is empty, too long or not printable",
                          scepi_attr_name(attr));
    memcpy(buf, data, (size_t)len);
    buf[len] = '\0';
    return SCEP_OK;
}

scep_err scepi_attr_get_utf8(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr, char *buf,
                             size_t buflen, scep_diag *diag)
{
    buf[0] = '\0';
    const ASN1_STRING *s = NULL;
    scep_err err = find_string(ctx, si, attr, &s, diag);
    if (err != SCEP_OK)
        return err;
    int len = ASN1_STRING_length(s);
    /* Free text for humans: keep what fits, drop control bytes, never fail on length. */
    size_t n = 0;
    const unsigned char *data = ASN1_STRING_get0_data(s);
    for (int i = 0; i < len && n + 1 < buflen; i++)
        if (data[i] >= 0x20 && data[i] != 0x7f)
            buf[n++] = (char)data[i];
    buf[n] = '\0';
    return SCEP_OK;
}

scep_err scepi_attr_get_octets(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr,
                               unsigned char *buf, size_t *len, scep_diag *diag)
{
    *len = 0;
    ASN1_TYPE *value = NULL;
    scep_err err = find_value(ctx, si, attr, &value, diag);
    if (err != SCEP_OK)
        return err;
    if (ASN1_TYPE_get(value) != V_ASN1_OCTET_STRING)
        return scepi_diag(diag, SCEP_E_BAD_ATTR, "%s is not an OCTET STRING",
                          scepi_attr_name(attr));
    const ASN1_STRING *s = value->value.octet_string;
    int n = ASN1_STRING_length(s);
    if (n < (int)SCEP_MIN_NONCE_BYTES || n > (int)SCEP_MAX_NONCE_BYTES)
        return scepi_diag(diag, SCEP_E_BAD_NONCE, "%s has %d bytes (allowed %u to %u)",
                          scepi_attr_name(attr), n, SCEP_MIN_NONCE_BYTES, SCEP_MAX_NONCE_BYTES);
    memcpy(buf, ASN1_STRING_get0_data(s), (size_t)n);
    *len = (size_t)n;
    return SCEP_OK;
}

scep_err scepi_attr_add(const scep_ctx *ctx, CMS_SignerInfo *si, scepi_attr attr, int asn1_type,
                        const void *data, size_t len)
{
    if (len > INT32_MAX)
        return SCEP_E_INVALID_ARG;
    const ASN1_OBJECT *obj = scepi_attr_obj(ctx, attr);
    if (obj == NULL)
        return SCEP_E_INVALID_ARG;
    /* OpenSSL adds a copy of the attribute it is given (an i2d and a d2i of it): given one with
     * no value yet, it copies just the OID, and the value goes into its copy. */
    if (!CMS_signed_add1_attr_by_OBJ(si, obj, 0, NULL, -1))
        return SCEP_E_INTERNAL;
    X509_ATTRIBUTE *added = CMS_signed_get_attr(si, CMS_signed_get_attr_count(si) - 1);
    return added != NULL && X509_ATTRIBUTE_set1_data(added, asn1_type, data, (int)len) == 1
               ? SCEP_OK
               : SCEP_E_INTERNAL;
}
