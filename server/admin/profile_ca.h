/* The admin commands' view of the profiles' own CAs (ca_dir, docs/profiles.md). */
#ifndef SCEPD_ADMIN_PROFILE_CA_H
#define SCEPD_ADMIN_PROFILE_CA_H

#include "ca/ca.h"
#include "profile/profile.h"

/* Loads into ca (as now in force) and cfg the CA of prof's ca_dir. 0, or -1 with a message
 * naming the profile. Only for a profile that has a ca_dir. */
int admin_profile_ca(const profile *prof, const config *top, authority *ca, config *cfg, char *err,
                     size_t errlen);

/* The profile CA (of some profile's ca_dir) that issued cert, loaded into ca and cfg: 1; 0 when
 * none did; -1 with a message when one does not load. */
int admin_issuing_profile_ca(const profile_set *ps, X509 *cert, authority *ca, config *cfg,
                             char *err, size_t errlen);

#endif
