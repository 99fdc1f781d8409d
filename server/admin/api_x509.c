/* What the admin API shows of certificates and requests: their JSON objects, read from the
 * stored DER with OpenSSL. */
#include "admin/api.h"

#include <arpa/inet.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "admin/decisions.h"
#include "admin/request_info.h"

#define EXT_VALUE_MAX 1024

static void add(json_object *o, const char *key, json_object *v)
{
    json_object_object_add(o, key, v);
}

/* One GeneralName as the contract writes it: "DNS:a.example", "IP:10.0.0.1". */
static json_object *general_name(const GENERAL_NAME *g)
{
    char buf[STORE_TEXT];
    int type = 0;
    const ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);
    const char *kind = type == GEN_DNS     ? "DNS"
                       : type == GEN_EMAIL ? "email"
                       : type == GEN_URI   ? "URI"
                       : type == GEN_IPADD ? "IP"
                                           : NULL;
    if (kind == NULL) {
        BIO *b = BIO_new(BIO_s_mem());
        int n = b && GENERAL_NAME_print(b, (GENERAL_NAME *)(uintptr_t)g) > 0
                    ? BIO_read(b, buf, sizeof(buf) - 1)
                    : 0;
        BIO_free(b);
        buf[n > 0 ? n : 0] = '\0';
        return json_object_new_string(buf);
    }
    char text[INET6_ADDRSTRLEN] = "?";
    int len = ASN1_STRING_length(s);
    const unsigned char *d = ASN1_STRING_get0_data(s);
    if (type == GEN_IPADD && (len == 4 || len == 16))
        inet_ntop(len == 4 ? AF_INET : AF_INET6, d, text, sizeof(text));
    if (type == GEN_IPADD)
        snprintf(buf, sizeof(buf), "IP:%s", text);
    else
        snprintf(buf, sizeof(buf), "%s:%.*s", kind, len > 400 ? 400 : len, (const char *)d);
    return json_object_new_string(buf);
}

json_object *api_sans(const STACK_OF(X509_EXTENSION) * exts)
{
    json_object *arr = json_object_new_array();
    GENERAL_NAMES *names = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; arr && i < sk_GENERAL_NAME_num(names); i++)
        json_object_array_add(arr, general_name(sk_GENERAL_NAME_value(names, i)));
    GENERAL_NAMES_free(names);
    return arr;
}

static const char *shown_state(const store_cert *rec, int64_t now)
{
    if (rec->state == CERT_REVOKED)
        return "revoked";
    return rec->not_after <= now ? "expired" : "valid";
}

json_object *api_cert_json(const store_cert *rec, int64_t now, const char *transaction_id)
{
    json_object *o = json_object_new_object();
    const unsigned char *p = rec->der;
    X509 *cert = d2i_X509(NULL, &p, (long)rec->der_len);
    add(o, "serial", json_object_new_string(rec->serial));
    add(o, "subject", json_object_new_string(rec->subject));
    add(o, "sans", cert ? api_sans(X509_get0_extensions(cert)) : json_object_new_array());
    add(o, "not_before", api_time(rec->not_before));
    add(o, "not_after", api_time(rec->not_after));
    add(o, "state", json_object_new_string(shown_state(rec, now)));
    add(o, "revoked_at", rec->state == CERT_REVOKED ? api_time(rec->revoked_at) : NULL);
    add(o, "reason",
        rec->state == CERT_REVOKED ? api_text(decision_reason_name(rec->revocation_reason)) : NULL);
    add(o, "transaction_id", api_text(transaction_id));
    X509_free(cert);
    return o;
}

static json_object *key_json(X509_REQ *csr)
{
    json_object *o = json_object_new_object();
    EVP_PKEY *k = csr ? X509_REQ_get0_pubkey(csr) : NULL;
    char group[64] = "";
    size_t glen = 0;
    int id = k ? EVP_PKEY_get_base_id(k) : 0;
    const char *type = id == EVP_PKEY_RSA ? "RSA" : id == EVP_PKEY_EC ? "EC" : k ? "other" : "?";
    if (k && id == EVP_PKEY_EC)
        (void)EVP_PKEY_get_group_name(k, group, sizeof(group), &glen);
    add(o, "type", json_object_new_string(type));
    add(o, "bits", json_object_new_int(k ? EVP_PKEY_get_bits(k) : 0));
    add(o, "curve", api_text(group));
    return o;
}

static json_object *extension_json(X509_EXTENSION *ext)
{
    json_object *o = json_object_new_object();
    char name[80], value[EXT_VALUE_MAX] = "";
    ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
    int nid = OBJ_obj2nid(obj);
    if (nid != NID_undef)
        snprintf(name, sizeof(name), "%s", OBJ_nid2sn(nid));
    else
        OBJ_obj2txt(name, sizeof(name), obj, 1);
    BIO *b = BIO_new(BIO_s_mem());
    if (b != NULL && X509V3_EXT_print(b, ext, 0, 0) > 0) {
        int n = BIO_read(b, value, sizeof(value) - 1);
        value[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
    value[strcspn(value, "\n")] = '\0';
    add(o, "name", json_object_new_string(name));
    add(o, "value", json_object_new_string(value));
    return o;
}

static json_object *csr_pem(X509_REQ *csr)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n = b && csr && PEM_write_bio_X509_REQ(b, csr) ? BIO_get_mem_data(b, &data) : 0;
    json_object *s = n > 0 ? json_object_new_string_len(data, (int)n) : NULL;
    BIO_free(b);
    return s;
}

static void add_csr_facts(json_object *o, X509_REQ *csr)
{
    STACK_OF(X509_EXTENSION) *exts = csr ? X509_REQ_get_extensions(csr) : NULL;
    json_object *list = json_object_new_array();
    for (int i = 0; list && i < sk_X509_EXTENSION_num(exts); i++)
        json_object_array_add(list, extension_json(sk_X509_EXTENSION_value(exts, i)));
    add(o, "sans", api_sans(exts));
    add(o, "key", key_json(csr));
    add(o, "extensions", list);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}

json_object *api_request_json(const store_request *r)
{
    json_object *o = json_object_new_object();
    X509_REQ *csr = request_info_csr(r);
    add(o, "id", json_object_new_int64(r->id));
    add(o, "transaction_id", json_object_new_string(r->transaction_id));
    add(o, "state", json_object_new_string(request_state_name(r->state)));
    add(o, "subject", json_object_new_string(r->subject));
    add_csr_facts(o, csr);
    add(o, "challenge", json_object_new_string(r->challenge_kind[0] ? r->challenge_kind : "none"));
    add(o, "client", api_text(r->client_addr));
    add(o, "received", api_time(r->created_at));
    add(o, "reason", r->state == REQUEST_REJECTED ? api_text(r->reason) : NULL);
    add(o, "serial", api_text(r->cert_serial));
    add(o, "csr_pem", csr_pem(csr));
    X509_REQ_free(csr);
    return o;
}
