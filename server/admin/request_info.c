#include "admin/request_info.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

X509_REQ *request_info_csr(const store_request *r)
{
    if (r->csr_der == NULL || r->csr_len == 0 || r->csr_len > LONG_MAX)
        return NULL;
    const unsigned char *p = r->csr_der;
    X509_REQ *csr = d2i_X509_REQ(NULL, &p, (long)r->csr_len);
    if (csr != NULL && p != r->csr_der + r->csr_len) {
        X509_REQ_free(csr);
        return NULL;
    }
    return csr;
}

void request_info_key(X509_REQ *csr, char *buf, size_t len)
{
    EVP_PKEY *key = csr ? X509_REQ_get0_pubkey(csr) : NULL;
    snprintf(buf, len, "?");
    if (key == NULL)
        return;
    char group[64] = "";
    if (EVP_PKEY_is_a(key, "EC") &&
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL) == 1) {
        const char *nist = EC_curve_nid2nist(OBJ_txt2nid(group));
        snprintf(buf, len, "EC-%s", nist ? nist : group);
        return;
    }
    const char *type = EVP_PKEY_get0_type_name(key);
    snprintf(buf, len, "%s-%d", type ? type : "?", EVP_PKEY_get_bits(key));
}

/* Text bounded by its buffer, with room kept for the "..." of a cut. */
typedef struct out_text {
    char *buf;
    size_t room; /* usable bytes, NUL excluded */
    size_t used;
    int cut;
} out_text;

static void put(out_text *o, const void *bytes, size_t n, int escape)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n && !o->cut; i++) {
        char one[8] = {(char)p[i], '\0'};
        if (escape && (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == ',' || p[i] == '\\'))
            snprintf(one, sizeof(one), "\\x%02X", p[i]);
        size_t k = strlen(one);
        if (k > o->room - o->used) {
            o->cut = 1;
            break;
        }
        memcpy(o->buf + o->used, one, k);
        o->used += k;
    }
    o->buf[o->used] = '\0';
}

/* OpenSSL's name of a kind of name, shortened where it holds a space. */
static const char *kind_label(const char *name)
{
    if (strcmp(name, "IP Address") == 0)
        return "IP";
    if (strcmp(name, "Registered ID") == 0)
        return "RID";
    return name;
}

static void put_name(out_text *o, GENERAL_NAME *gn)
{
    int type = 0;
    const ASN1_STRING *s = GENERAL_NAME_get0_value(gn, &type);
    const char *label = type == GEN_DNS     ? "DNS:"
                        : type == GEN_EMAIL ? "email:"
                        : type == GEN_URI   ? "URI:"
                                            : NULL;
    if (label != NULL) {
        /* The bytes as they are: an embedded NUL must not hide what follows it. */
        put(o, label, strlen(label), 0);
        put(o, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), 1);
        return;
    }
    STACK_OF(CONF_VALUE) *vals = i2v_GENERAL_NAME(NULL, gn, NULL);
    for (int i = 0; i < sk_CONF_VALUE_num(vals); i++) {
        const CONF_VALUE *v = sk_CONF_VALUE_value(vals, i);
        const char *name = kind_label(v->name ? v->name : "?");
        put(o, name, strlen(name), 1);
        put(o, ":", 1, 0);
        if (v->value != NULL)
            put(o, v->value, strlen(v->value), 1);
    }
    if (vals == NULL)
        put(o, "?", 1, 0);
    sk_CONF_VALUE_pop_free(vals, X509V3_conf_free);
}

void request_info_san(X509_REQ *csr, char *buf, size_t len)
{
    snprintf(buf, len, "-");
    STACK_OF(X509_EXTENSION) *exts = csr ? X509_REQ_get_extensions(csr) : NULL;
    if (len < 5 || exts == NULL) {
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        return;
    }
    out_text o = {.buf = buf, .room = len - 4};
    /* Every subjectAltName extension, should a request hold more than one. */
    for (int e = -1; (e = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, e)) >= 0;) {
        GENERAL_NAMES *names = X509V3_EXT_d2i(X509v3_get_ext(exts, e));
        if (names == NULL) {
            put(&o, ",", o.used > 0 ? 1 : 0, 0);
            put(&o, "(unreadable)", 12, 0);
            continue;
        }
        for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
            if (o.used > 0)
                put(&o, ",", 1, 0);
            put_name(&o, sk_GENERAL_NAME_value(names, i));
        }
        GENERAL_NAMES_free(names);
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    if (o.cut)
        memcpy(buf + o.used, "...", 4);
    else if (o.used == 0)
        snprintf(buf, len, "-");
}
