/* /api/v1/challenges: one-time challenges minted (the secret shown once), listed by id (the
 * first 16 hex digits of the stored hash, never the secret) and revoked. */
#include "admin/api.h"

#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "policy/challenge.h"
#include "profile/profile.h"

#define TTL_DEFAULT 3600
#define TTL_MAX (3650L * 86400)

static json_object *item(const char *hash, int64_t expires, const char *match)
{
    char id[17];
    snprintf(id, sizeof(id), "%.16s", hash);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "expires", api_time(expires));
    json_object_object_add(o, "subject_match", api_text(match));
    return o;
}

/* The body's ttl and subject_match; a message in why (and -1) when bad. */
static int mint_args(json_object *body, long *ttl, const char **match, char *why, size_t len)
{
    json_object *v = NULL;
    *ttl = TTL_DEFAULT;
    if (json_object_object_get_ex(body, "ttl", &v) && v != NULL) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) <= 0 ||
            json_object_get_int64(v) > TTL_MAX)
            return snprintf(why, len, "ttl must be a number of seconds from 1 to %ld", TTL_MAX), -1;
        *ttl = (long)json_object_get_int64(v);
    }
    if (api_member_text(body, "subject_match", match) != 0)
        return snprintf(why, len, "subject_match must be a string"), -1;
    regex_t re;
    if (*match != NULL &&
        (strlen(*match) >= STORE_TEXT || regcomp(&re, *match, REG_EXTENDED | REG_NOSUB) != 0))
        return snprintf(why, len, "subject_match is not a valid regular expression"), -1;
    if (*match != NULL)
        regfree(&re);
    return 0;
}

/* The body's profile: absent (the default profile's challenge) or one the server has. 0, or
 * the HTTP status with a message in why. */
static unsigned mint_profile(const api_call *c, json_object *body, const char **name, char *why,
                             size_t len)
{
    if (api_member_text(body, "profile", name) != 0)
        return snprintf(why, len, "profile must be a string"), 400;
    if (*name == NULL)
        return 0;
    if (!config_profile_name_ok(*name))
        return snprintf(why, len, "profile must be a profile name: 1 to 32 of a-z, 0-9, _ and -"),
               400;
    char err[256];
    int found = profile_exists(c->cfg, *name, err, sizeof(err));
    if (found == 1)
        return 0;
    if (found == 0)
        return snprintf(why, len, "no profile '%s' on this server", *name), 404;
    return snprintf(why, len, "cannot read the profiles now: %s", err), 503;
}

static enum MHD_Result mint(api_call *c)
{
    char why[300], secret[64], hash[STORE_KEY_ID];
    json_object *body = api_body(c, why, sizeof(why));
    long ttl = 0;
    const char *match = NULL, *prof = NULL;
    unsigned status = 400;
    if (body == NULL || mint_args(body, &ttl, &match, why, sizeof(why)) != 0 ||
        (status = mint_profile(c, body, &prof, why, sizeof(why))) != 0) {
        json_object_put(body);
        return api_error(c->conn, status, "%s", why);
    }
    if (challenge_mint_for(c->st, prof, ttl, match, secret, sizeof(secret), why, sizeof(why)) !=
        0) {
        json_object_put(body);
        return api_error(c->conn, 503, "cannot mint a challenge now: %s", why);
    }
    challenge_hash_for(prof, secret, hash);
    json_object *o = item(hash, (int64_t)time(NULL) + ttl, match);
    json_object_object_add(o, "challenge", json_object_new_string(secret));
    OPENSSL_cleanse(secret, sizeof(secret));
    api_audit(c, "challenge.mint", NULL, NULL, NULL, match);
    json_object_put(body);
    return api_json(c, 200, o);
}

static int add_item(void *arg, const store_challenge *ch)
{
    json_object_array_add(arg, item(ch->hash, ch->expires_at, ch->subject_match));
    return 0;
}

static enum MHD_Result list(api_call *c)
{
    json_object *items = json_object_new_array();
    if (c->st->ops->challenge_list(c->st, (int64_t)time(NULL), add_item, items) != STORE_OK) {
        json_object_put(items);
        return api_store_error(c);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "items", items);
    return api_json(c, 200, o);
}

static enum MHD_Result revoke(api_call *c, const char *given)
{
    char id[17];
    snprintf(id, sizeof(id), "%s", given); /* longer is no id: the store refuses it */
    for (char *p = id; *p != '\0'; p++)
        *p = (char)toupper((unsigned char)*p);
    store_status s = strlen(given) == 16
                         ? c->st->ops->challenge_revoke(c->st, id, (int64_t)time(NULL))
                         : STORE_NOT_FOUND;
    if (s == STORE_NOT_FOUND)
        return api_error(c->conn, 404, "no unused challenge with id '%.20s'", given);
    if (s != STORE_OK)
        return api_store_error(c);
    api_audit(c, "challenge.revoke", NULL, NULL, NULL, id);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "revoked", json_object_new_boolean(1));
    return api_json(c, 200, o);
}

enum MHD_Result api_challenges(api_call *c, const char *rest)
{
    if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
        if (strcmp(c->method, "POST") == 0)
            return mint(c);
        return strcmp(c->method, "GET") == 0 ? list(c) : api_error(c->conn, 405, "use GET or POST");
    }
    if (strcmp(c->method, "DELETE") != 0)
        return api_error(c->conn, 405, "use DELETE");
    return revoke(c, rest + 1);
}
