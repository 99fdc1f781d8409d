/* GetCACaps (RFC 8894 section 3.5.2): keyword text to a capability mask and back, and the
 * algorithm choice a client makes from it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

typedef struct cap_keyword {
    scep_cap cap;
    const char *word; /* RFC spelling */
} cap_keyword;

static const cap_keyword cap_keywords[] = {
    {SCEP_CAP_AES, "AES"},
    {SCEP_CAP_DES3, "DES3"},
    {SCEP_CAP_GET_NEXT_CA_CERT, "GetNextCACert"},
    {SCEP_CAP_POST_PKI_OPERATION, "POSTPKIOperation"},
    {SCEP_CAP_RENEWAL, "Renewal"},
    {SCEP_CAP_SHA1, "SHA-1"},
    {SCEP_CAP_SHA224, "SHA-224"},
    {SCEP_CAP_SHA256, "SHA-256"},
    {SCEP_CAP_SHA384, "SHA-384"},
    {SCEP_CAP_SHA512, "SHA-512"},
    {SCEP_CAP_SCEP_STANDARD, "SCEPStandard"},
    {SCEP_CAP_UPDATE, "Update"},
};

#define N_KEYWORDS (sizeof(cap_keywords) / sizeof(cap_keywords[0]))

/* RFC 8894 section 3.5.2: SCEPStandard promises these, whether listed or not. */
#define SCEP_STANDARD_IMPLIES (SCEP_CAP_AES | SCEP_CAP_POST_PKI_OPERATION | SCEP_CAP_SHA256)

static scep_caps with_implied(scep_caps caps)
{
    if (caps & SCEP_CAP_SCEP_STANDARD)
        caps |= SCEP_STANDARD_IMPLIES;
    return caps;
}

scep_err scep_caps_format(scep_caps caps, char **out, size_t *out_len)
{
    if (out == NULL || out_len == NULL)
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    *out_len = 0;
    caps = with_implied(caps);
    size_t cap = 1; /* the NUL */
    for (size_t i = 0; i < N_KEYWORDS; i++)
        cap += strlen(cap_keywords[i].word) + 1;
    char *text = malloc(cap);
    if (text == NULL)
        return SCEP_E_NOMEM;
    size_t len = 0;
    for (size_t i = 0; i < N_KEYWORDS; i++) {
        if (!(caps & cap_keywords[i].cap))
            continue;
        size_t n = strlen(cap_keywords[i].word);
        memcpy(text + len, cap_keywords[i].word, n);
        text[len + n] = '\n';
        len += n + 1;
    }
    text[len] = '\0';
    *out = text;
    *out_len = len;
    return SCEP_OK;
}

static int is_separator(char c)
{
    return c == '\n' || c == '\r' || c == ' ' || c == '\t';
}

static scep_caps cap_of_word(const char *word, size_t len)
{
    for (size_t i = 0; i < N_KEYWORDS; i++)
        if (strlen(cap_keywords[i].word) == len &&
            strncasecmp(cap_keywords[i].word, word, len) == 0)
            return cap_keywords[i].cap;
    return 0; /* unknown keywords are for other clients */
}

scep_err scep_caps_parse(const char *text, size_t len, scep_caps *out)
{
    if (out == NULL || text == NULL)
        return SCEP_E_INVALID_ARG;
    *out = 0;
    if (len > SCEP_MAX_CAPS_BYTES)
        return SCEP_E_TOO_LARGE;
    if (memchr(text, '\0', len) != NULL)
        return SCEP_E_BAD_ENCODING;
    scep_caps caps = 0;
    size_t pos = 0;
    while (pos < len) {
        while (pos < len && is_separator(text[pos]))
            pos++;
        size_t start = pos;
        while (pos < len && !is_separator(text[pos]))
            pos++;
        if (pos > start)
            caps |= cap_of_word(text + start, pos - start);
    }
    *out = with_implied(caps);
    return SCEP_OK;
}

/* RFC 8894 section 3.5.2 order of preference; the last row is what a caps-less server has. */
typedef struct cipher_choice {
    scep_caps needs; /* 0: no capability needed */
    scep_cipher cipher;
} cipher_choice;

static const cipher_choice cipher_choices[] = {
    {SCEP_CAP_AES, SCEP_CIPHER_AES128_CBC},
    {SCEP_CAP_DES3, SCEP_CIPHER_DES3_CBC},
    {0, SCEP_CIPHER_DES_CBC},
};

typedef struct digest_choice {
    scep_caps needs;
    scep_digest digest;
} digest_choice;

static const digest_choice digest_choices[] = {
    {SCEP_CAP_SHA256, SCEP_DIGEST_SHA256}, {SCEP_CAP_SHA512, SCEP_DIGEST_SHA512},
    {SCEP_CAP_SHA384, SCEP_DIGEST_SHA384}, {SCEP_CAP_SHA224, SCEP_DIGEST_SHA224},
    {SCEP_CAP_SHA1, SCEP_DIGEST_SHA1},     {0, SCEP_DIGEST_MD5},
};

static scep_cipher pick_cipher(const scep_ctx *ctx, scep_caps caps)
{
    for (size_t i = 0; i < sizeof(cipher_choices) / sizeof(cipher_choices[0]); i++) {
        const cipher_choice *c = &cipher_choices[i];
        if ((caps & c->needs) == c->needs && scep_cipher_allowed(ctx, c->cipher))
            return c->cipher;
    }
    return SCEP_CIPHER_NONE;
}

static scep_digest pick_digest(const scep_ctx *ctx, scep_caps caps)
{
    for (size_t i = 0; i < sizeof(digest_choices) / sizeof(digest_choices[0]); i++) {
        const digest_choice *d = &digest_choices[i];
        if ((caps & d->needs) == d->needs && scep_digest_allowed(ctx, d->digest))
            return d->digest;
    }
    return SCEP_DIGEST_NONE;
}

scep_err scep_caps_negotiate(const scep_ctx *ctx, scep_caps caps, scep_negotiated *out)
{
    if (out == NULL)
        return SCEP_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    if (ctx == NULL)
        return SCEP_E_INVALID_ARG;
    caps = with_implied(caps);
    scep_cipher cipher = pick_cipher(ctx, caps);
    scep_digest digest = pick_digest(ctx, caps);
    if (cipher == SCEP_CIPHER_NONE || digest == SCEP_DIGEST_NONE)
        return SCEP_E_NEGOTIATION;
    out->cipher = cipher;
    out->digest = digest;
    out->use_post = (caps & SCEP_CAP_POST_PKI_OPERATION) != 0;
    return SCEP_OK;
}
