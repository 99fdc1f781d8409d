/* RFC 7512 pkcs11: URIs: path attributes split by ';', query attributes after '?' split by
 * '&', values percent-encoded. */
#include "keys/pkcs11_uri.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define SCHEME "pkcs11:"

int p11_uri_is(const char *text)
{
    return strncmp(text, SCHEME, strlen(SCHEME)) == 0;
}

static int hex_digit(char c)
{
    return isdigit((unsigned char)c)    ? c - '0'
           : isxdigit((unsigned char)c) ? (c | 0x20) - 'a' + 10
                                        : -1;
}

/* Percent-decodes the n bytes at in into out (at most cap bytes); the length, or -1. */
static long unescape(const char *in, size_t n, unsigned char *out, size_t cap)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            int hi = i + 2 < n ? hex_digit(in[i + 1]) : -1;
            int lo = hi >= 0 ? hex_digit(in[i + 2]) : -1;
            if (lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (len >= cap)
            return -1;
        out[len++] = (unsigned char)c;
    }
    return (long)len;
}

/* A text value: decoded, without NUL bytes, NUL-terminated. */
static int text_value(const char *in, size_t n, char *out, size_t cap)
{
    long len = cap > 0 ? unescape(in, n, (unsigned char *)out, cap - 1) : -1;
    if (len < 0 || memchr(out, '\0', (size_t)len) != NULL)
        return -1;
    out[len] = '\0';
    return 0;
}

static int pin_source(const char *in, size_t n, p11_uri *u)
{
    if (text_value(in, n, u->pin_file, sizeof(u->pin_file)) != 0)
        return -1;
    if (strncmp(u->pin_file, "file:", 5) == 0)
        memmove(u->pin_file, u->pin_file + 5, strlen(u->pin_file + 5) + 1);
    return u->pin_file[0] == '/' ? 0 : -1; /* a URI's file does not depend on the cwd */
}

/* One "name=value" attribute. 0, or -1 with the reason in err. */
static int attribute(const char *a, size_t n, p11_uri *u, char *err, size_t errlen)
{
    const char *eq = memchr(a, '=', n);
    size_t nlen = eq ? (size_t)(eq - a) : n;
    const char *v = eq ? eq + 1 : a + n;
    size_t vlen = eq ? n - nlen - 1 : 0;
    int rc = 0;
#define IS(name) (nlen == strlen(name) && strncmp(a, name, nlen) == 0)
    if (IS("token"))
        rc = text_value(v, vlen, u->token, sizeof(u->token));
    else if (IS("serial"))
        rc = text_value(v, vlen, u->serial, sizeof(u->serial));
    else if (IS("object"))
        rc = text_value(v, vlen, u->object, sizeof(u->object));
    else if (IS("id")) {
        long len = unescape(v, vlen, u->id, sizeof(u->id));
        rc = len > 0 ? 0 : -1;
        u->id_len = len > 0 ? (size_t)len : 0;
    } else if (IS("type"))
        rc = vlen == 7 && strncmp(v, "private", 7) == 0 ? 0 : -1;
    else if (IS("module-path"))
        rc = text_value(v, vlen, u->module, sizeof(u->module));
    else if (IS("pin-source"))
        rc = pin_source(v, vlen, u);
    else if (IS("manufacturer") || IS("model") || IS("library-manufacturer") ||
             IS("library-description") || IS("library-version") || IS("slot-id"))
        rc = 0; /* narrows the search no further here */
    else if (IS("pin-value")) {
        snprintf(err, errlen, "a PIN in the URI is refused: name a file with pin-source=file:");
        return -1;
    } else {
        snprintf(err, errlen, "unknown attribute '%.*s'", (int)(nlen < 40 ? nlen : 40), a);
        return -1;
    }
#undef IS
    if (rc != 0)
        snprintf(err, errlen, "bad value for '%.*s'%s", (int)(nlen < 40 ? nlen : 40), a,
                 nlen == 10 && strncmp(a, "pin-source", 10) == 0 ? " (an absolute file:)" : "");
    return rc;
}

int p11_uri_parse(const char *text, p11_uri *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    if (!p11_uri_is(text) || strlen(text) > 4096) {
        snprintf(err, errlen, "not a pkcs11: URI");
        return -1;
    }
    const char *p = text + strlen(SCHEME);
    while (*p != '\0') {
        size_t n = strcspn(p, ";?&");
        if (n > 0 && attribute(p, n, u, err, errlen) != 0)
            return -1;
        p += n;
        if (*p != '\0')
            p++;
    }
    if (u->object[0] == '\0' && u->id_len == 0) {
        snprintf(err, errlen, "name the key with object= or id=");
        return -1;
    }
    return 0;
}

/* Appends value percent-encoded where RFC 7512 wants it (all but unreserved characters). */
static int put_escaped(char *out, size_t outlen, size_t *at, const unsigned char *v, size_t n,
                       int all)
{
    for (size_t i = 0; i < n; i++) {
        int plain = !all && v[i] != '\0' && (isalnum(v[i]) || strchr("-._~", v[i]) != NULL);
        int w = plain ? snprintf(out + *at, outlen - *at, "%c", v[i])
                      : snprintf(out + *at, outlen - *at, "%%%02X", v[i]);
        if (w < 0 || (size_t)w >= outlen - *at)
            return -1;
        *at += (size_t)w;
    }
    return 0;
}

static int put_attr(char *out, size_t outlen, size_t *at, const char *name, const unsigned char *v,
                    size_t n, int all)
{
    if (n == 0)
        return 0;
    int w = snprintf(out + *at, outlen - *at, "%s%s=", *at > strlen(SCHEME) ? ";" : "", name);
    if (w < 0 || (size_t)w >= outlen - *at)
        return -1;
    *at += (size_t)w;
    return put_escaped(out, outlen, at, v, n, all);
}

int p11_uri_format(const p11_uri *u, char *out, size_t outlen)
{
    size_t at = (size_t)snprintf(out, outlen, "%s", SCHEME);
    if (at >= outlen)
        return -1;
    const unsigned char *t = (const unsigned char *)u->token, *s = (const unsigned char *)u->serial,
                        *o = (const unsigned char *)u->object;
    return put_attr(out, outlen, &at, "token", t, strlen(u->token), 0) != 0 ||
                   put_attr(out, outlen, &at, "serial", s, strlen(u->serial), 0) != 0 ||
                   put_attr(out, outlen, &at, "object", o, strlen(u->object), 0) != 0 ||
                   put_attr(out, outlen, &at, "id", u->id, u->id_len, 1) != 0
               ? -1
               : 0;
}
