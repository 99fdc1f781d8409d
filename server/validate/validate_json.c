/* The webhook's two JSON documents: the request scepd sends and the answer it reads. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>

#include "validate/validate.h"

/* Names as the document writes them and the answer gives them. */
static const struct {
    const char *prefix;
    int type;
} name_types[] = {{"DNS:", GEN_DNS}, {"IP:", GEN_IPADD}, {"email:", GEN_EMAIL}, {"URI:", GEN_URI}};

#define N_NAME_TYPES (sizeof(name_types) / sizeof(name_types[0]))

/* Bytes a peer chose, as printable ASCII ('?' for any other byte): JSON and log safe. */
static void printable(const unsigned char *in, size_t len, char *out, size_t outlen)
{
    size_t n = len < outlen - 1 ? len : outlen - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] >= 0x20 && in[i] < 0x7f ? (char)in[i] : '?';
    out[n] = '\0';
}

/* One name as "TYPE:value", or 0 for a type the document leaves out (the CA refuses it). */
static int name_text(const GENERAL_NAME *gn, char *out, size_t outlen)
{
    char value[VALIDATE_MAX_NAME + 1];
    int type = 0;
    const ASN1_STRING *s = GENERAL_NAME_get0_value(gn, &type);
    if (type == GEN_IPADD) {
        int len = ASN1_STRING_length(s);
        if ((len != 4 && len != 16) ||
            inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), value,
                      sizeof(value)) == NULL)
            return 0;
    } else if (type == GEN_DNS || type == GEN_EMAIL || type == GEN_URI) {
        printable(ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), value, sizeof(value));
    } else {
        return 0;
    }
    for (size_t i = 0; i < N_NAME_TYPES; i++)
        if (name_types[i].type == type)
            snprintf(out, outlen, "%s%s", name_types[i].prefix, value);
    return 1;
}

static json_object *csr_sans(X509_REQ *csr)
{
    json_object *list = json_object_new_array();
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    int at = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
    GENERAL_NAMES *names = at >= 0 ? X509V3_EXT_d2i(X509v3_get_ext(exts, at)) : NULL;
    char text[VALIDATE_MAX_NAME + 16];
    for (int i = 0; list != NULL && i < sk_GENERAL_NAME_num(names); i++)
        if (name_text(sk_GENERAL_NAME_value(names, i), text, sizeof(text)))
            json_object_array_add(list, json_object_new_string(text));
    GENERAL_NAMES_free(names);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return list;
}

/* {"type": "RSA"|"EC"|..., "bits": N, "curve": "P-256"|null} */
static json_object *key_info(EVP_PKEY *key)
{
    json_object *o = json_object_new_object();
    const char *type = key ? EVP_PKEY_get0_type_name(key) : NULL;
    char group[64] = "";
    size_t len = 0;
    if (key != NULL && EVP_PKEY_is_a(key, "EC"))
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len);
    const char *nist = group[0] ? EC_curve_nid2nist(OBJ_txt2nid(group)) : NULL;
    json_object_object_add(o, "type", type ? json_object_new_string(type) : NULL);
    json_object_object_add(o, "bits", json_object_new_int(key ? EVP_PKEY_get_bits(key) : 0));
    json_object_object_add(o, "curve",
                           group[0] ? json_object_new_string(nist ? nist : group) : NULL);
    return o;
}

/* PEM of a CSR or a certificate, or NULL. */
static json_object *pem_of(X509_REQ *csr, X509 *cert)
{
    BIO *mem = BIO_new(BIO_s_mem());
    json_object *o = NULL;
    int ok =
        mem != NULL && (csr ? PEM_write_bio_X509_REQ(mem, csr) : PEM_write_bio_X509(mem, cert));
    char *text = NULL;
    long n = ok ? BIO_get_mem_data(mem, &text) : 0;
    if (n > 0)
        o = json_object_new_string_len(text, (int)n);
    BIO_free(mem);
    return o;
}

static json_object *text_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

char *validate_document(const validate_input *in, const char *id, long long now)
{
    char when[32];
    time_t t = (time_t)now;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return NULL;
    json_object *doc = json_object_new_object();
    if (doc == NULL)
        return NULL;
    json_object_object_add(doc, "version", json_object_new_int(1));
    json_object_object_add(doc, "id", json_object_new_string(id));
    json_object_object_add(doc, "time", json_object_new_string(when));
    json_object_object_add(doc, "profile", text_or_null(in->profile));
    json_object_object_add(doc, "message_type", text_or_null(in->message_type));
    json_object_object_add(doc, "transaction_id", text_or_null(in->transaction_id));
    json_object_object_add(doc, "csr", pem_of(in->csr, NULL));
    json_object_object_add(doc, "subject", text_or_null(in->subject));
    json_object_object_add(doc, "sans", csr_sans(in->csr));
    json_object_object_add(doc, "key", key_info(in->key));
    json_object_object_add(doc, "challenge", text_or_null(in->challenge));
    json_object_object_add(doc, "client", text_or_null(in->client));
    json_object_object_add(doc, "signer", in->signer ? pem_of(NULL, in->signer) : NULL);
    const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
    char *copy = text ? strdup(text) : NULL;
    json_object_put(doc);
    return copy;
}

void validate_verdict_clear(validate_verdict *v)
{
    GENERAL_NAMES_free(v->sans);
    memset(v, 0, sizeof(*v));
}

/* The value of one name: printable, no spaces, and of its type's shape. */
static int name_value_ok(int type, const char *value, size_t len)
{
    if (len == 0 || len > VALIDATE_MAX_NAME)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)value[i] <= ' ' || (unsigned char)value[i] >= 0x7f)
            return 0;
    if (type == GEN_DNS)
        return strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*") ==
               len;
    if (type == GEN_EMAIL)
        return strchr(value, '@') != NULL;
    if (type == GEN_URI)
        return strchr(value, ':') != NULL;
    return 1; /* an IP address: a2i_GENERAL_NAME parses it */
}

static GENERAL_NAME *name_from_text(const char *text, size_t len)
{
    for (size_t i = 0; i < N_NAME_TYPES; i++) {
        size_t p = strlen(name_types[i].prefix);
        if (len <= p || strncmp(text, name_types[i].prefix, p) != 0)
            continue;
        if (!name_value_ok(name_types[i].type, text + p, len - p))
            return NULL;
        return a2i_GENERAL_NAME(NULL, NULL, NULL, name_types[i].type, text + p, 0);
    }
    return NULL;
}

static int parse_sans(json_object *list, validate_verdict *v, char *err, size_t errlen)
{
    if (!json_object_is_type(list, json_type_array)) {
        snprintf(err, errlen, "\"sans\" is not an array");
        return -1;
    }
    size_t n = json_object_array_length(list);
    if (n > VALIDATE_MAX_SANS) {
        snprintf(err, errlen, "\"sans\" holds more than %d names", VALIDATE_MAX_SANS);
        return -1;
    }
    v->sans = GENERAL_NAMES_new();
    for (size_t i = 0; v->sans != NULL && i < n; i++) {
        json_object *item = json_object_array_get_idx(list, i);
        GENERAL_NAME *gn = json_object_is_type(item, json_type_string)
                               ? name_from_text(json_object_get_string(item),
                                                (size_t)json_object_get_string_len(item))
                               : NULL;
        if (gn == NULL || !sk_GENERAL_NAME_push(v->sans, gn)) {
            GENERAL_NAME_free(gn);
            snprintf(err, errlen,
                     "\"sans\"[%zu] is not DNS:, IP:, email: or URI: with a valid name", i);
            return -1;
        }
    }
    return v->sans != NULL ? 0 : -1;
}

/* The optional fields beside "allow": each of its type, or the answer is refused. */
static int parse_fields(json_object *o, validate_verdict *v, char *err, size_t errlen)
{
    json_object *f = NULL;
    if (json_object_object_get_ex(o, "reason", &f) && f != NULL) {
        if (!json_object_is_type(f, json_type_string)) {
            snprintf(err, errlen, "\"reason\" is not a string");
            return -1;
        }
        printable((const unsigned char *)json_object_get_string(f),
                  (size_t)json_object_get_string_len(f), v->reason, sizeof(v->reason));
    }
    if (json_object_object_get_ex(o, "validity_days", &f) && f != NULL) {
        int64_t days = json_object_get_int64(f);
        if (!json_object_is_type(f, json_type_int) || days < 1 || days > 36500) {
            snprintf(err, errlen, "\"validity_days\" is not a whole number from 1 to 36500");
            return -1;
        }
        v->validity_days = (int)days;
    }
    if (json_object_object_get_ex(o, "sans", &f) && f != NULL)
        return parse_sans(f, v, err, errlen);
    return 0;
}

static int only_space(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return 0;
    return 1;
}

/* The whole body is one JSON value (whitespace after it aside), no deeper than the limit. */
static json_object *parse_whole(const char *body, size_t len, char *err, size_t errlen)
{
    if (len > VALIDATE_MAX_ANSWER) {
        snprintf(err, errlen, "the answer is longer than %d bytes", VALIDATE_MAX_ANSWER);
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(VALIDATE_MAX_DEPTH);
    json_object *o = tok ? json_tokener_parse_ex(tok, body, (int)len) : NULL;
    size_t end = tok && o ? json_tokener_get_parse_end(tok) : 0;
    if (o != NULL && json_tokener_get_error(tok) == json_tokener_success &&
        only_space(body + end, len - end) && memchr(body, '\0', len) == NULL) {
        json_tokener_free(tok);
        return o;
    }
    snprintf(err, errlen, "the answer is not one JSON document (%s)",
             tok && json_tokener_get_error(tok) != json_tokener_success
                 ? json_tokener_error_desc(json_tokener_get_error(tok))
                 : "incomplete or followed by more");
    json_object_put(o);
    json_tokener_free(tok);
    return NULL;
}

int validate_parse_answer(const char *body, size_t len, validate_verdict *v, char *err,
                          size_t errlen)
{
    memset(v, 0, sizeof(*v));
    json_object *o = parse_whole(body, len, err, errlen), *allow = NULL;
    int rc = -1;
    if (o == NULL)
        return -1;
    if (!json_object_is_type(o, json_type_object))
        snprintf(err, errlen, "the answer is not a JSON object");
    else if (!json_object_object_get_ex(o, "allow", &allow) ||
             !json_object_is_type(allow, json_type_boolean))
        snprintf(err, errlen, "\"allow\" is missing or not true or false");
    else
        rc = parse_fields(o, v, err, errlen);
    if (rc == 0) {
        v->result = json_object_get_boolean(allow) ? VALIDATE_ALLOW : VALIDATE_DENY;
        if (v->result == VALIDATE_DENY && v->reason[0] == '\0')
            snprintf(v->reason, sizeof(v->reason), "denied by the validation service");
    } else {
        validate_verdict_clear(v);
    }
    json_object_put(o);
    return rc;
}
