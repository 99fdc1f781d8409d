/* A certificate's fields as the store, the logs and the messages want them: serial, key id and
 * names as text, times as Unix seconds, and whether it is valid at a moment. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "scep/scep.h"

void ca_serial_key(const ASN1_INTEGER *serial, char *buf, size_t buflen)
{
    buf[0] = '\0';
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex != NULL && strlen(hex) < buflen)
        memcpy(buf, hex, strlen(hex) + 1);
    OPENSSL_free(hex);
    BN_free(bn);
}

void ca_serial_hex(const X509 *cert, char *buf, size_t buflen)
{
    ca_serial_key(X509_get0_serialNumber(cert), buf, buflen);
}

int ca_key_id(const X509_PUBKEY *key, char *buf, size_t buflen)
{
    /* The SubjectPublicKeyInfo as parsed: no trip through OpenSSL's key encoders. */
    unsigned char *spki = NULL;
    int n = key ? i2d_X509_PUBKEY(key, &spki) : -1;
    unsigned char md[32];
    static const char digits[] = "0123456789ABCDEF";
    if (n <= 0 || buflen < 65 || EVP_Digest(spki, (size_t)n, md, NULL, EVP_sha256(), NULL) != 1) {
        OPENSSL_free(spki);
        return -1;
    }
    for (int i = 0; i < 32; i++) {
        buf[2 * i] = digits[md[i] >> 4];
        buf[2 * i + 1] = digits[md[i] & 15];
    }
    buf[64] = '\0';
    OPENSSL_free(spki);
    return 0;
}

void ca_name_text(const X509_NAME *name, char *buf, size_t buflen)
{
    /* A name longer than the store's field is kept cut, as the store would cut it. */
    scep_name_text(name, buf, buflen);
}

int64_t ca_unix_time(const ASN1_TIME *t)
{
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    int days = 0, secs = 0;
    int ok = epoch && ASN1_TIME_diff(&days, &secs, epoch, t);
    ASN1_TIME_free(epoch);
    return ok ? (int64_t)days * 86400 + secs : 0;
}

void ca_time_text(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (len == 0 || gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "%lld", (long long)t);
}

int ca_cert_not_valid(const X509 *cert, const char *what, int64_t at, char *why, size_t len)
{
    int64_t from = ca_unix_time(X509_get0_notBefore(cert));
    int64_t until = ca_unix_time(X509_get0_notAfter(cert));
    char when[32];
    /* RFC 5280: valid from notBefore through notAfter, both included. */
    if (at > until) {
        ca_time_text(until, when, sizeof(when));
        snprintf(why, len, "the %s certificate expired at %s", what, when);
        return -1;
    }
    if (at < from) {
        ca_time_text(from, when, sizeof(when));
        snprintf(why, len, "the %s certificate is not valid before %s", what, when);
        return -1;
    }
    return 0;
}

void ca_sans_text(const STACK_OF(X509_EXTENSION) * exts, char *buf, size_t buflen)
{
    buf[0] = '\0';
    int at = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
    BIO *mem = at >= 0 ? BIO_new(BIO_s_mem()) : NULL;
    if (mem != NULL && X509V3_EXT_print(mem, X509v3_get_ext(exts, at), 0, 0) == 1) {
        char *text = NULL;
        long n = BIO_get_mem_data(mem, &text);
        snprintf(buf, buflen, "%.*s", (int)(n > 0 && (size_t)n < buflen ? n : (long)buflen - 1),
                 text);
    }
    BIO_free(mem);
}
