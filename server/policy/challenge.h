/* Challenge passwords: the static one from the configuration, and one-time challenges minted
 * by `scepd challenge` (kept hashed in the store, valid once, within a time, optionally only
 * for subjects matching a pattern). */
#ifndef SCEPD_CHALLENGE_H
#define SCEPD_CHALLENGE_H

#include "config/config.h"
#include "store/store.h"

/* Hex SHA-256 of a challenge, as the store keeps it. */
void challenge_hash(const char *challenge, char out[STORE_KEY_ID]);
/* The hash a one-time challenge of profile ("" or NULL: the default, challenge_hash's) is kept
 * under: the profile is bound into it, so no other profile's request matches it. */
void challenge_hash_for(const char *profile, const char *challenge, char out[STORE_KEY_ID]);

/* Mints a one-time challenge of the default profile valid for ttl seconds (subject_match may
 * be NULL). The text goes to out (NUL-terminated, 32 characters). Returns 0 or -1 with a
 * reason. */
int challenge_mint(store *st, long ttl, const char *subject_match, char *out, size_t outlen,
                   char *err, size_t errlen);
/* The same for profile ("" or NULL: the default); no other profile accepts it. */
int challenge_mint_for(store *st, const char *profile, long ttl, const char *subject_match,
                       char *out, size_t outlen, char *err, size_t errlen);

typedef enum challenge_result {
    CHALLENGE_NOT_NEEDED = 0, /* no challenge configured and manual approval */
    CHALLENGE_STATIC = 1,     /* the configured challenge */
    CHALLENGE_ONE_TIME = 2,   /* a one-time challenge, now consumed */
    CHALLENGE_WRONG = -1,
    CHALLENGE_USED = -2,    /* a one-time challenge already used or expired */
    CHALLENGE_SUBJECT = -3, /* a one-time challenge for other subjects */
    CHALLENGE_STORE = -4,   /* the store could not answer */
} challenge_result;

/* Checks password (may be empty) for a request with this subject (RFC 4514 text); consumes a
 * one-time challenge when it is the one that matches. */
challenge_result challenge_check(const config *c, store *st, const char *password,
                                 const char *subject);
/* The same for a request to profile ("": the default), whose settings c are. */
challenge_result challenge_check_for(const config *c, const char *profile, store *st,
                                     const char *password, const char *subject);

/* How an accepted challenge vouched for a request, as the store keeps it: "none" (manual
 * approval without one), "static" or "one-time". */
const char *challenge_kind(challenge_result r);

/* The failInfoText for a refused challenge. */
const char *challenge_problem(challenge_result r);

#endif
