#include "policy/profile_policy.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/x509v3.h>

/* Curves a rule "ec" (any curve) allows: those of config_rules.c. */
static int known_curve(int nid)
{
    return nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 || nid == NID_secp521r1;
}

static int key_matches(const key_rule *k, EVP_PKEY *key)
{
    if (k->type == KEY_RULE_RSA)
        return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= k->min_bits &&
               EVP_PKEY_get_bits(key) <= k->max_bits;
    char group[64];
    if (!EVP_PKEY_is_a(key, "EC") ||
        !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        NULL))
        return 0;
    int nid = OBJ_txt2nid(group);
    return k->curve_nid != 0 ? nid == k->curve_nid : known_curve(nid);
}

static const char *key_refused(const profile *p, EVP_PKEY *key, char *why, size_t len)
{
    for (size_t i = 0; i < p->n_keys; i++)
        if (key_matches(&p->keys[i], key))
            return NULL;
    const char *type = EVP_PKEY_get0_type_name(key);
    snprintf(why, len, "the request's %.16s key of %d bits is not allowed (allowed_keys = %.100s)",
             type ? type : "unknown", EVP_PKEY_get_bits(key), p->cfg->allowed_keys);
    return why;
}

static const char *subject_refused(const profile *p, const X509_NAME *name, char *why, size_t len)
{
    char item[CONFIG_LIST_ITEM], text[1024];
    const char *list = p->cfg->subject_require;
    while (config_list_next(&list, item, sizeof(item)) == 1)
        if (X509_NAME_get_index_by_NID(name, OBJ_txt2nid(item), -1) < 0) {
            snprintf(why, len, "the subject has no %.32s (subject_require = %.100s)", item,
                     p->cfg->subject_require);
            return why;
        }
    if (!p->has_subject_re)
        return NULL;
    /* Matched whole: a cut text could match where the subject does not. */
    if (scep_name_text(name, text, sizeof(text)) != SCEP_OK) {
        snprintf(why, len, "the subject is too long or malformed for subject_match");
        return why;
    }
    if (regexec(&p->subject_re, text, 0, NULL, 0) != 0) {
        snprintf(why, len, "the subject %.64s does not match subject_match", text);
        return why;
    }
    return NULL;
}

/* "example.com": that name; ".example.com": a name below it. A name of other characters than
 * letters, digits, '.', '-' and '_' (a wildcard, say) is in no domain. */
static int domain_allowed(const char *name, const char *list)
{
    char item[CONFIG_LIST_ITEM];
    size_t n = strlen(name);
    if (n == 0 ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != n)
        return 0;
    while (config_list_next(&list, item, sizeof(item)) == 1) {
        size_t m = strlen(item);
        if (item[0] != '.' ? strcasecmp(name, item) == 0
                           : n > m && strcasecmp(name + n - m, item) == 0)
            return 1;
    }
    return 0;
}

static int ip_allowed(const profile *p, const ASN1_OCTET_STRING *ip)
{
    int n = ASN1_STRING_length(ip);
    const unsigned char *a = ASN1_STRING_get0_data(ip);
    for (size_t i = 0; i < p->n_ips; i++) {
        const ip_range *r = &p->ips[i];
        if (n != (r->family == AF_INET ? 4 : 16))
            continue;
        int whole = r->prefix / 8, rest = r->prefix % 8;
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        if (memcmp(a, r->addr, (size_t)whole) == 0 &&
            (rest == 0 || ((a[whole] ^ r->addr[whole]) & mask) == 0))
            return 1;
    }
    return 0;
}

/* A name as text for the rules: NULL when it holds a NUL (it would pass for a shorter one). */
static const char *ia5_text(const ASN1_IA5STRING *s)
{
    const char *t = (const char *)ASN1_STRING_get0_data(s);
    return t != NULL && strlen(t) == (size_t)ASN1_STRING_length(s) ? t : NULL;
}

/* The rule a SAN breaks (its key), or NULL. */
static const char *san_rule_broken(const profile *p, const GENERAL_NAME *g, const char **text)
{
    const config *c = p->cfg;
    const char *t = g->type == GEN_DNS || g->type == GEN_EMAIL || g->type == GEN_URI
                        ? ia5_text(g->d.ia5)
                        : NULL;
    const char *at = t != NULL ? strrchr(t, '@') : NULL;
    *text = t != NULL ? t : "";
    switch (g->type) {
    case GEN_DNS:
        return c->san_dns_domains[0] && (t == NULL || !domain_allowed(t, c->san_dns_domains))
                   ? "san_dns_domains"
                   : NULL;
    case GEN_EMAIL:
        return c->san_email_domains[0] &&
                       (at == NULL || !domain_allowed(at + 1, c->san_email_domains))
                   ? "san_email_domains"
                   : NULL;
    case GEN_URI:
        return p->has_uri_re && (t == NULL || regexec(&p->uri_re, t, 0, NULL, 0) != 0)
                   ? "san_uri_match"
                   : NULL;
    case GEN_IPADD:
        return p->n_ips > 0 && !ip_allowed(p, g->d.ip) ? "san_ip_ranges" : NULL;
    default:
        return NULL;
    }
}

static void san_text(const GENERAL_NAME *g, const char *text, char *out, size_t len)
{
    static const char *const types[] = {
        [GEN_DNS] = "DNS", [GEN_EMAIL] = "email", [GEN_URI] = "URI", [GEN_IPADD] = "IP"};
    char ip[INET6_ADDRSTRLEN] = "";
    if (g->type == GEN_IPADD) {
        int n = ASN1_STRING_length(g->d.ip);
        if (n == 4 || n == 16)
            inet_ntop(n == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(g->d.ip), ip, sizeof(ip));
        text = ip;
    }
    snprintf(out, len, "%s:%.64s", types[g->type], text);
    for (char *s = out; *s; s++)
        if ((unsigned char)*s < ' ' || (unsigned char)*s > '~')
            *s = '?'; /* the failInfoText and the log show no control bytes */
}

static const char *sans_refused(const profile *p, X509_REQ *csr, char *why, size_t len)
{
    const config *c = p->cfg;
    int rules = c->san_dns_domains[0] || c->san_email_domains[0] || p->has_uri_re || p->n_ips;
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    int crit = -1;
    GENERAL_NAMES *names = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    if (rules && names == NULL && crit != -1) {
        /* Two of them, or one that does not decode: its names would be copied unchecked. */
        snprintf(why, len,
                 "the request's subjectAltName cannot be checked against the SAN rules "
                 "(malformed or repeated)");
        return why;
    }
    const char *refused = NULL;
    for (int i = 0; refused == NULL && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        const char *text = NULL, *rule = san_rule_broken(p, g, &text);
        if (rule == NULL)
            continue;
        char name[96];
        san_text(g, text, name, sizeof(name));
        snprintf(why, len, "the SAN %s is outside %s", name, rule);
        refused = why;
    }
    GENERAL_NAMES_free(names);
    return refused;
}

const char *policy_profile(const profile *p, X509_REQ *csr, EVP_PKEY *key, scep_err *err, char *why,
                           size_t len)
{
    *err = SCEP_E_BAD_ALG;
    if (p->n_keys > 0 && key_refused(p, key, why, len) != NULL)
        return why;
    *err = SCEP_E_BAD_CSR;
    if (subject_refused(p, X509_REQ_get_subject_name(csr), why, len) != NULL ||
        sans_refused(p, csr, why, len) != NULL)
        return why;
    *err = SCEP_OK;
    return NULL;
}
