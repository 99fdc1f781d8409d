/* The table of profile CAs (ca_dir): one per distinct directory, shared by the profiles that
 * name it, each with its eras as the server's own CA has them. */
#define _DEFAULT_SOURCE /* realpath */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/server.h"

/* The index in srv->pcas of dir, or -1. */
static int find_dir(const server *srv, const char *dir)
{
    for (size_t i = 0; i < srv->n_pcas; i++)
        if (strcmp(srv->pcas[i].dir, dir) == 0)
            return (int)i;
    return -1;
}

/* Loads c's CA as one more entry of srv->pcas (the table has room for every profile). */
static int add_ca(server *srv, const profile *p, config *c, char *err, size_t errlen)
{
    profile_ca *pc = &srv->pcas[srv->n_pcas++];
    pc->cfg = c;
    snprintf(pc->dir, sizeof(pc->dir), "%s", c->dir);
    snprintf(pc->profile, sizeof(pc->profile), "%s", p->name);
    char why[768];
    if (eras_load(srv, c, pc->eras, &pc->n_eras, &pc->switch_at, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "[profile %s]: ca_dir %s: %s", profile_label(p), c->dir, why);
        return -1;
    }
    return 0;
}

/* Which CA p issues from: -1 (the server's), or its entry, loaded when new. */
static int ca_of(server *srv, const profile *p, char *err, size_t errlen)
{
    char own[PATH_MAX];
    config *c = calloc(1, sizeof(*c));
    if (c == NULL)
        snprintf(err, errlen, "out of memory");
    if (c == NULL || profile_ca_config(p, &srv->cfg, c, err, errlen) != 0) {
        free(c);
        return -2;
    }
    int at = find_dir(srv, c->dir);
    /* The server's own directory named as a ca_dir is the server's CA. */
    if (at >= 0 || (realpath(srv->cfg.dir, own) != NULL && strcmp(own, c->dir) == 0)) {
        free(c);
        return at;
    }
    return add_ca(srv, p, c, err, errlen) == 0 ? (int)srv->n_pcas - 1 : -2;
}

int profile_cas_load(server *srv, char *err, size_t errlen)
{
    size_t n = srv->profiles.n;
    if (srv->cfg.ca_dir[0] != '\0') {
        snprintf(err, errlen,
                 "ca_dir is for [profile NAME] sections: the server's own CA is ca_cert and "
                 "ca_key");
        return -1;
    }
    if (n == 0)
        return 0;
    srv->pcas = calloc(n, sizeof(*srv->pcas));
    srv->ca_of_profile = calloc(n, sizeof(*srv->ca_of_profile));
    if (srv->pcas == NULL || srv->ca_of_profile == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const profile *p = &srv->profiles.items[i];
        srv->ca_of_profile[i] = p->cfg->ca_dir[0] != '\0' ? ca_of(srv, p, err, errlen) : -1;
        if (srv->ca_of_profile[i] < -1)
            return -1;
    }
    return 0;
}

void profile_cas_free(server *srv)
{
    for (size_t i = 0; i < srv->n_pcas; i++) {
        eras_free(srv->pcas[i].eras);
        free(srv->pcas[i].cfg);
    }
    free(srv->pcas);
    free(srv->ca_of_profile);
    srv->pcas = NULL;
    srv->ca_of_profile = NULL;
    srv->n_pcas = 0;
}

const era *server_era_for(const server *srv, const profile *p, time_t now)
{
    const profile *items = srv->profiles.items;
    int at = -1;
    if (p != NULL && srv->ca_of_profile != NULL && p >= items && p < items + srv->profiles.n)
        at = srv->ca_of_profile[p - items];
    if (at < 0)
        return server_era(srv, now);
    const profile_ca *pc = &srv->pcas[at];
    return eras_in_force(pc->eras, pc->n_eras, pc->switch_at, now);
}
