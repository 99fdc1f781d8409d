#include "admin/profile_ca.h"

#include <stdio.h>
#include <string.h>

int admin_profile_ca(const profile *prof, const config *top, authority *ca, config *cfg, char *err,
                     size_t errlen)
{
    char why[768];
    memset(ca, 0, sizeof(*ca));
    if (profile_ca_config(prof, top, cfg, err, errlen) != 0)
        return -1;
    if (ca_load_current(ca, cfg, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "[profile %s]: ca_dir %s: %s", profile_label(prof), cfg->dir, why);
        return -1;
    }
    return 0;
}

int admin_issuing_profile_ca(const profile_set *ps, X509 *cert, authority *ca, config *cfg,
                             char *err, size_t errlen)
{
    for (size_t i = 1; i < ps->n; i++) {
        const profile *p = &ps->items[i];
        if (p->cfg->ca_dir[0] == '\0')
            continue;
        if (admin_profile_ca(p, ps->items[0].cfg, ca, cfg, err, errlen) != 0)
            return -1;
        if (ca_issued(ca, cert))
            return 1;
        ca_free(ca);
    }
    return 0;
}
