#include "ca/ca_san_template.h"

#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "config/config_rules.h"

/* The subject's common name when it can stand in a DNS name, an email address or a URI: 1 to
 * 63 of letters, digits, '.', '_' and '-'. */
static int common_name(X509_REQ *csr, char *out, size_t len, char *err, size_t errlen)
{
    const X509_NAME *name = X509_REQ_get_subject_name(csr);
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    int n =
        i < 0 ? -1
              : ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    int ok = n > 0 && n < 64 && (size_t)n < len &&
             strspn((const char *)utf8, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789._-") == (size_t)n;
    if (ok)
        memcpy(out, utf8, (size_t)n + 1);
    OPENSSL_free(utf8);
    if (!ok)
        snprintf(err, errlen,
                 "san_template needs a common name of 1 to 63 letters, digits, "
                 "'.', '_' or '-'");
    return ok ? 0 : -1;
}

/* item with each {cn} replaced by cn. */
static int expand(const char *item, const char *cn, char *out, size_t len)
{
    size_t used = 0;
    for (const char *p = item; *p; p++) {
        int cn_here = strncmp(p, "{cn}", 4) == 0;
        size_t n = cn_here ? strlen(cn) : 1;
        if (used + n >= len)
            return -1;
        memcpy(out + used, cn_here ? cn : p, n);
        used += n;
        p += cn_here ? 3 : 0;
    }
    out[used] = '\0';
    return 0;
}

static GENERAL_NAME *template_name(const char *item, const char *cn)
{
    char value[CONFIG_LIST_ITEM + 64];
    const char *colon = strchr(item, ':');
    int type = !strncmp(item, "DNS:", 4)     ? GEN_DNS
               : !strncmp(item, "email:", 6) ? GEN_EMAIL
                                             : GEN_URI;
    if (colon == NULL || expand(colon + 1, cn, value, sizeof(value)) != 0)
        return NULL;
    return a2i_GENERAL_NAME(NULL, NULL, NULL, type, value, 0);
}

static GENERAL_NAMES *requested_names(X509_REQ *csr, const config *c)
{
    STACK_OF(X509_EXTENSION) *exts = c->copy_san ? X509_REQ_get_extensions(csr) : NULL;
    GENERAL_NAMES *names = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return names != NULL ? names : sk_GENERAL_NAME_new_null();
}

int ca_san_template(X509 *cert, X509_REQ *csr, const config *c, char *err, size_t errlen)
{
    char cn[64], item[CONFIG_LIST_ITEM];
    if (c->san_template[0] == '\0')
        return 0;
    if (common_name(csr, cn, sizeof(cn), err, errlen) != 0)
        return -1;
    GENERAL_NAMES *names = requested_names(csr, c);
    const char *list = c->san_template;
    int ok = names != NULL;
    while (ok && config_list_next(&list, item, sizeof(item)) == 1) {
        GENERAL_NAME *g = template_name(item, cn);
        ok = g != NULL && sk_GENERAL_NAME_push(names, g) > 0;
        if (!ok)
            GENERAL_NAME_free(g);
    }
    ok = ok && X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(names);
    if (!ok)
        snprintf(err, errlen, "cannot build the subjectAltName of san_template");
    return ok ? 0 : -1;
}
