/* Profiles (docs/profiles.md): the default one (the top-level settings) and each
 * `[profile NAME]` section of scepd.conf, resolved into a whole configuration with its rules
 * compiled once. */
#ifndef SCEPD_PROFILE_H
#define SCEPD_PROFILE_H

#include <regex.h>
#include <stdio.h>

#include "config/config.h"
#include "config/config_rules.h"

/*
 * A profile is a whole configuration, the top level overlaid with its section (the default
 * profile's is the top level itself): everything that reads settings takes a
 * `const config *`, so a profile's is passed where the server's was, and a setting made
 * per-profile later is one line in config.c's table.
 */
typedef struct profile {
    char name[CONFIG_PROFILE_NAME]; /* "" for the default profile */
    int line;                       /* of its `[profile NAME]` line; 0 for the default */
    const config *cfg;              /* own, or for the default the top level (borrowed) */
    config *own;
    key_rule keys[CONFIG_MAX_KEY_RULES];
    size_t n_keys; /* 0: cfg's min_rsa_bits and allow_ec */
    ip_range ips[CONFIG_MAX_IP_RANGES];
    size_t n_ips;
    regex_t subject_re, uri_re;
    int has_subject_re, has_uri_re;
} profile;

typedef struct profile_set {
    profile *items; /* items[0] is the default */
    size_t n;
} profile_set;

/* The default profile from top (borrowed: it must outlive ps) and one per section of path
 * (NULL: none). Returns 0, or -1 with a message naming the file, the line and the profile. */
int profile_set_load(profile_set *ps, const config *top, const char *path, char *err,
                     size_t errlen);
/* The same from top's directory: DIR/scepd.conf (none when top has no directory). */
int profile_set_load_dir(profile_set *ps, const config *top, char *err, size_t errlen);
void profile_set_free(profile_set *ps);

/* Whether top's directory has a profile called name ("": the default, always); -1 with a
 * message when the configuration does not load. */
int profile_exists(const config *top, const char *name, char *err, size_t errlen);

/* The default profile of c alone (borrowed), for a server not made by server_init. Returns 0,
 * or -1 with a message; profile_clear() it. */
int profile_init_default(profile *p, const config *c, char *err, size_t errlen);
void profile_clear(profile *p);

/* A profile's transactions are kept under "TID@profile:NAME" (or "TID~SERIAL@profile:NAME"):
 * a transaction is the profile's, and whoever issues it later (`scepd approve`) finds its
 * profile there. The default profile's keys are as before profiles; a transactionID holding
 * the mark is refused at every profile (it could pass for another profile's). */
#define PROFILE_KEY_MARK "@profile:"

/* The profile a transaction key names, in name ("" for the default). */
void profile_of_key(const char *key, char name[CONFIG_PROFILE_NAME]);

/* Whether a and b have other sections (names, order or settings), for a reload's log line. */
int profile_sections_differ(const profile_set *a, const profile_set *b);

/* The profile called name ("" or NULL: the default), or NULL. */
const profile *profile_find(const profile_set *ps, const char *name);

/* The name to show: "default" for the default profile. */
const char *profile_label(const profile *p);

/* How a request's challenge is checked, in words ("static", "one-time only", ...). */
const char *profile_challenge_source(const config *c);

/* The settings of p's ca_dir (p->cfg->ca_dir set): DIR/scepd.conf, with dir the resolved
 * directory and top's PKCS#11 module. Refuses (-1, a message naming the profile and the file) a
 * ca_dir that is missing, not a scepd directory, whose scepd.conf does not load, whose key
 * files group or others may read, or that names another PKCS#11 module than top. */
int profile_ca_config(const profile *p, const config *top, config *out, char *err, size_t errlen);

/* Writes a profile's settings as `scepd profiles` lists them. */
void profile_print(FILE *f, const profile *p, const char *ca_subject);

#endif
