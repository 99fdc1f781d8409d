#include "profile/profile.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

/* What cannot be judged line by line (a profile asking no challenge must have an operator
 * approve), and the rules in their compiled form (checked already when they were set). NULL,
 * or what is wrong. */
static const char *compile_problem(profile *p)
{
    const config *c = p->cfg;
    if (c->challenge_none && c->approve != APPROVE_MANUAL && c->validate.url[0] == '\0')
        return "challenge = none needs approve = manual or a validate_url";
    if (c->allowed_keys[0] != '\0' && config_parse_keys(c->allowed_keys, p->keys, &p->n_keys) != 0)
        return "bad allowed_keys";
    if (c->san_ip_ranges[0] != '\0' &&
        config_parse_ip_ranges(c->san_ip_ranges, p->ips, &p->n_ips) != 0)
        return "bad san_ip_ranges";
    p->has_subject_re = c->subject_match[0] != '\0' &&
                        regcomp(&p->subject_re, c->subject_match, REG_EXTENDED | REG_NOSUB) == 0;
    p->has_uri_re = c->san_uri_match[0] != '\0' &&
                    regcomp(&p->uri_re, c->san_uri_match, REG_EXTENDED | REG_NOSUB) == 0;
    if ((c->subject_match[0] != '\0' && !p->has_subject_re) ||
        (c->san_uri_match[0] != '\0' && !p->has_uri_re))
        return "a regular expression does not compile";
    return NULL;
}

static int compile(profile *p, char *err, size_t errlen)
{
    const char *why = compile_problem(p);
    if (why != NULL)
        snprintf(err, errlen, "%s", why);
    return why != NULL ? -1 : 0;
}

void profile_clear(profile *p)
{
    if (p->has_subject_re)
        regfree(&p->subject_re);
    if (p->has_uri_re)
        regfree(&p->uri_re);
    if (p->own != NULL)
        OPENSSL_cleanse(p->own, sizeof(*p->own));
    free(p->own);
    memset(p, 0, sizeof(*p));
}

int profile_init_default(profile *p, const config *c, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->cfg = c;
    if (compile(p, err, errlen) != 0) {
        profile_clear(p);
        return -1;
    }
    return 0;
}

/* A section's challenge and webhook secret files are secrets like the top level's
 * (config_check_secret_files). */
static int secret_file_exposed(const config *c, const char *name, const char *key, char *err,
                               size_t errlen)
{
    char path[CONFIG_PATH + 32];
    struct stat sb;
    if (name[0] == '\0')
        return 0;
    config_path(c, name, path, sizeof(path));
    if (lstat(path, &sb) != 0 || (!S_ISLNK(sb.st_mode) && (sb.st_mode & 077) == 0))
        return 0; /* a missing file is the reader's to report */
    snprintf(err, errlen,
             "%.900s (%s) is a symbolic link or readable by group or "
             "others: name the file itself, chmod 600 it",
             path, key);
    return -1;
}

static int add_profile(void *arg, const char *name, int line, config *c, char *err, size_t errlen)
{
    profile_set *ps = arg;
    profile *grown = realloc(ps->items, (ps->n + 1) * sizeof(*grown));
    if (grown != NULL)
        ps->items = grown;
    profile *p = grown != NULL ? &ps->items[ps->n] : NULL;
    if (p != NULL) {
        memset(p, 0, sizeof(*p));
        p->own = malloc(sizeof(*p->own));
    }
    if (p == NULL || p->own == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->line = line;
    *p->own = *c;
    p->cfg = p->own;
    if (secret_file_exposed(p->own, p->own->challenge_file, "challenge_file", err, errlen) != 0 ||
        secret_file_exposed(p->own, p->own->validate.secret_file, "validate_secret_file", err,
                            errlen) != 0 ||
        config_read_challenge_file(p->own, err, errlen) != 0 ||
        config_read_validate_secret(p->own, err, errlen) != 0 || compile(p, err, errlen) != 0) {
        profile_clear(p);
        return -1;
    }
    ps->n++;
    return 0;
}

int profile_set_load(profile_set *ps, const config *top, const char *path, char *err, size_t errlen)
{
    memset(ps, 0, sizeof(*ps));
    ps->items = malloc(sizeof(*ps->items));
    if (ps->items == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = profile_init_default(&ps->items[0], top, err, errlen);
    ps->n = rc == 0 ? 1 : 0;
    if (rc == 0 && path != NULL)
        rc = config_load_sections(top, path, add_profile, ps, err, errlen);
    if (rc != 0)
        profile_set_free(ps);
    return rc;
}

int profile_set_load_dir(profile_set *ps, const config *top, char *err, size_t errlen)
{
    char path[CONFIG_PATH + 16];
    if (top->dir[0] == '\0')
        return profile_set_load(ps, top, NULL, err, errlen);
    snprintf(path, sizeof(path), "%.*s/scepd.conf", CONFIG_PATH - 1, top->dir);
    return profile_set_load(ps, top, path, err, errlen);
}

int profile_exists(const config *top, const char *name, char *err, size_t errlen)
{
    profile_set ps;
    if (profile_set_load_dir(&ps, top, err, errlen) != 0)
        return -1;
    int found = profile_find(&ps, name) != NULL;
    profile_set_free(&ps);
    return found;
}

void profile_set_free(profile_set *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        profile_clear(&ps->items[i]);
    free(ps->items);
    memset(ps, 0, sizeof(*ps));
}

int profile_sections_differ(const profile_set *a, const profile_set *b)
{
    if (a->n != b->n)
        return 1;
    for (size_t i = 1; i < a->n; i++)
        if (strcmp(a->items[i].name, b->items[i].name) != 0 ||
            memcmp(a->items[i].own, b->items[i].own, sizeof(config)) != 0)
            return 1;
    return 0;
}

const profile *profile_find(const profile_set *ps, const char *name)
{
    if (name == NULL || name[0] == '\0')
        return ps->n > 0 ? &ps->items[0] : NULL;
    for (size_t i = 1; i < ps->n; i++)
        if (strcmp(ps->items[i].name, name) == 0)
            return &ps->items[i];
    return NULL;
}

void profile_of_key(const char *key, char name[CONFIG_PROFILE_NAME])
{
    const char *mark = strstr(key, PROFILE_KEY_MARK);
    const char *at = mark ? mark + strlen(PROFILE_KEY_MARK) : "";
    snprintf(name, CONFIG_PROFILE_NAME, "%.32s", at);
}

const char *profile_label(const profile *p)
{
    return p->name[0] != '\0' ? p->name : "default";
}
