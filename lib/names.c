/*
 * Distinguished names as people read and write them. The comma form is RFC 4514's: the most
 * specific RDN first, so "CN=device,O=Example" is the name whose DER holds O, then CN, and
 * it prints back the same way (as `openssl x509 -nameopt RFC2253` does). The slash form
 * ("/O=Example/CN=device", openssl's -subj) lists the RDNs in DER order.
 */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "internal.h"

#define NAME_PART_BYTES 512 /* one TYPE=value, unescaped */

/*
 * Reads one TYPE=value up to an unescaped separator (sep, '+' or the end) into part, undoing
 * RFC 4514 escapes: a backslash before a character, or before two hex digits (a byte, as
 * "\C3\A9" for UTF-8). Spaces after a separator are skipped ("CN=a, O=b"). Returns where it
 * stopped, or NULL when the part is too long or holds a NUL byte.
 */
static const char *read_part(const char *p, char sep, char *part, size_t size)
{
    size_t n = 0;
    for (; *p != '\0' && *p != sep && *p != '+'; p++) {
        char c = *p;
        int hi = c == '\\' ? OPENSSL_hexchar2int((unsigned char)p[1]) : -1;
        int lo = hi >= 0 ? OPENSSL_hexchar2int((unsigned char)p[2]) : -1;
        if (lo >= 0) {
            c = (char)(hi << 4 | lo);
            p += 2;
            if (c == '\0')
                return NULL;
        } else if (c == '\\' && p[1] != '\0') {
            c = *++p;
        } else if (c == ' ' && n == 0) {
            continue;
        }
        if (n + 1 >= size)
            return NULL;
        part[n++] = c;
    }
    part[n] = '\0';
    return p;
}

/* Adds each TYPE=value of text to name in the order written; '+' joins an attribute to the
 * RDN before it (a multi-valued RDN). An empty part between two separators is skipped. */
static int add_components(X509_NAME *name, const char *text, char sep)
{
    char part[NAME_PART_BYTES];
    int joined = 0;
    for (const char *p = text;; p++) {
        p = read_part(p, sep, part, sizeof(part));
        if (p == NULL || (joined && part[0] == '\0'))
            return -1;
        char *eq = strchr(part, '=');
        if (part[0] != '\0' && (eq == NULL || eq == part || eq[1] == '\0'))
            return -1;
        if (part[0] != '\0') {
            *eq = '\0';
            if (!X509_NAME_add_entry_by_txt(name, part, MBSTRING_UTF8, (unsigned char *)(eq + 1),
                                            -1, -1, joined ? -1 : 0))
                return -1;
        }
        if (*p == '\0')
            return 0;
        joined = *p == '+';
        if (joined && part[0] == '\0')
            return -1;
    }
}

/* The same name with its attributes in the opposite order, each RDN's kept together: what
 * openssl prints with XN_FLAG_DN_REV, so that text and name go both ways. */
static X509_NAME *reversed(const X509_NAME *in)
{
    X509_NAME *out = X509_NAME_new();
    int previous_set = -1;
    for (int i = X509_NAME_entry_count(in) - 1; out != NULL && i >= 0; i--) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(in, i);
        int joined = X509_NAME_ENTRY_set(e) == previous_set;
        previous_set = X509_NAME_ENTRY_set(e);
        if (!X509_NAME_add_entry(out, e, -1, joined ? -1 : 0)) {
            X509_NAME_free(out);
            return NULL;
        }
    }
    return out;
}

scep_err scep_name_parse(const char *text, X509_NAME **out)
{
    if (text == NULL || out == NULL)
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    X509_NAME *written = X509_NAME_new();
    if (written == NULL)
        return SCEP_E_NOMEM;
    int slash = text[0] == '/';
    int rc = add_components(written, slash ? text + 1 : text, slash ? '/' : ',');
    if (rc != 0 || X509_NAME_entry_count(written) == 0) {
        X509_NAME_free(written);
        return SCEP_E_INVALID_ARG;
    }
    if (slash) {
        *out = written;
        return SCEP_OK;
    }
    *out = reversed(written);
    X509_NAME_free(written);
    return *out != NULL ? SCEP_OK : SCEP_E_NOMEM;
}

scep_err scep_name_text(const X509_NAME *name, char *buf, size_t buflen)
{
    if (name == NULL || buf == NULL || buflen == 0 || buflen > INT_MAX)
        return SCEP_E_INVALID_ARG;
    buf[0] = '\0';
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return SCEP_E_NOMEM;
    scep_err e = SCEP_E_INTERNAL;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        int n = BIO_read(bio, buf, (int)buflen - 1);
        buf[n > 0 ? n : 0] = '\0';
        e = BIO_pending(bio) > 0 ? SCEP_E_TOO_LARGE : SCEP_OK;
    }
    BIO_free(bio);
    return e;
}
