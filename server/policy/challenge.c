#include "policy/challenge.h"
#include "store/csr_at_rest.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

void challenge_hash(const char *challenge, char out[STORE_KEY_ID])
{
    store_sha256_hex(challenge, strlen(challenge), out);
}

/* The store has no column for the profile: it is bound into the hash, so that a challenge
 * minted for one profile matches no record when sent to another. The default profile's is
 * the plain hash, as before profiles. */
void challenge_hash_for(const char *profile, const char *challenge, char out[STORE_KEY_ID])
{
    char bound[CONFIG_PROFILE_NAME + CONFIG_SECRET + 16];
    if (profile == NULL || profile[0] == '\0') {
        challenge_hash(challenge, out);
        return;
    }
    int n = snprintf(bound, sizeof(bound), "profile %s\n%s", profile, challenge);
    store_sha256_hex(bound, n > 0 && (size_t)n < sizeof(bound) ? (size_t)n : 0, out);
    OPENSSL_cleanse(bound, sizeof(bound));
}

int challenge_mint(store *st, long ttl, const char *subject_match, char *out, size_t outlen,
                   char *err, size_t errlen)
{
    return challenge_mint_for(st, "", ttl, subject_match, out, outlen, err, errlen);
}

int challenge_mint_for(store *st, const char *profile, long ttl, const char *subject_match,
                       char *out, size_t outlen, char *err, size_t errlen)
{
    unsigned char random[24];
    if (outlen < 33 || RAND_bytes(random, sizeof(random)) != 1) {
        snprintf(err, errlen, "no randomness for a challenge");
        return -1;
    }
    /* 192 bits as base64url, without padding: safe in URLs, configs and shells. */
    EVP_EncodeBlock((unsigned char *)out, random, sizeof(random));
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    OPENSSL_cleanse(random, sizeof(random));
    store_challenge c = {.created_at = (int64_t)time(NULL)};
    c.expires_at = c.created_at + ttl;
    challenge_hash_for(profile, out, c.hash);
    if (subject_match != NULL)
        snprintf(c.subject_match, sizeof(c.subject_match), "%s", subject_match);
    if (st->ops->challenge_add(st, &c) != STORE_OK) {
        snprintf(err, errlen, "cannot store the challenge: %s", st->ops->last_error(st));
        OPENSSL_cleanse(out, outlen);
        return -1;
    }
    return 0;
}

static int static_matches(const char *want, const char *password)
{
    size_t n = strlen(want);
    return n > 0 && strlen(password) == n && CRYPTO_memcmp(password, want, n) == 0;
}

static int subject_allowed(const char *pattern, const char *subject)
{
    if (pattern[0] == '\0')
        return 1;
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int ok = regexec(&re, subject, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static challenge_result one_time(store *st, const char *profile, const char *password,
                                 const char *subject)
{
    char hash[STORE_KEY_ID];
    challenge_hash_for(profile, password, hash);
    store_challenge c;
    store_status s = st->ops->challenge_get(st, hash, &c);
    if (s == STORE_NOT_FOUND)
        return CHALLENGE_WRONG;
    if (s != STORE_OK)
        return CHALLENGE_STORE;
    if (!subject_allowed(c.subject_match, subject))
        return CHALLENGE_SUBJECT;
    s = st->ops->challenge_consume(st, hash, (int64_t)time(NULL));
    if (s == STORE_OK)
        return CHALLENGE_ONE_TIME;
    return s == STORE_CONFLICT ? CHALLENGE_USED : CHALLENGE_STORE;
}

challenge_result challenge_check(const config *c, store *st, const char *password,
                                 const char *subject)
{
    return challenge_check_for(c, "", st, password, subject);
}

challenge_result challenge_check_for(const config *c, const char *profile, store *st,
                                     const char *password, const char *subject)
{
    if (c->challenge_none)
        return CHALLENGE_NOT_NEEDED; /* the profile asks none: an operator approves */
    if (static_matches(c->challenge, password))
        return CHALLENGE_STATIC;
    if (password[0] != '\0') {
        challenge_result r = one_time(st, profile, password, subject);
        if (r != CHALLENGE_WRONG)
            return r;
    }
    if (c->challenge[0] == '\0' && c->approve == APPROVE_MANUAL && password[0] == '\0')
        return CHALLENGE_NOT_NEEDED;
    /* The validation webhook gets the password to check itself (as Intune's does): without a
     * static challenge, its allow is the authorisation. */
    if (c->challenge[0] == '\0' && c->validate.url[0] != '\0')
        return CHALLENGE_NOT_NEEDED;
    return CHALLENGE_WRONG;
}

const char *challenge_kind(challenge_result r)
{
    return r == CHALLENGE_STATIC ? "static" : r == CHALLENGE_ONE_TIME ? "one-time" : "none";
}

const char *challenge_problem(challenge_result r)
{
    switch (r) {
    case CHALLENGE_USED:
        return "the one-time challenge was already used or has expired";
    case CHALLENGE_SUBJECT:
        return "the one-time challenge is not valid for this subject";
    case CHALLENGE_STORE:
        return "the challenge could not be checked";
    default:
        return "wrong or missing challenge password";
    }
}
