/* A profile's own CA (ca_dir): the scepd directory it names, and that directory's settings. */
#define _DEFAULT_SOURCE /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "profile/profile.h"

/* ca_dir resolved against the server's directory, as realpath names it. */
static int resolve(const profile *p, char out[CONFIG_PATH], char *err, size_t errlen)
{
    char path[CONFIG_PATH], real[PATH_MAX] = "";
    config_path(p->cfg, p->cfg->ca_dir, path, sizeof(path));
    struct stat sb;
    errno = 0;
    const char *why = NULL;
    if (path[0] == '\0' || realpath(path, real) == NULL || stat(real, &sb) != 0)
        why = errno != 0 ? strerror(errno) : "the path is too long";
    else if (!S_ISDIR(sb.st_mode))
        why = "not a directory";
    else if (strlen(real) >= CONFIG_PATH)
        why = "the path is too long";
    if (why != NULL) {
        snprintf(err, errlen, "[profile %s]: ca_dir %s: %s", profile_label(p), p->cfg->ca_dir, why);
        return -1;
    }
    memcpy(out, real, strlen(real) + 1); /* shorter than CONFIG_PATH: checked above */
    return 0;
}

/* The server has one PKCS#11 module (keys_pkcs11_settings): the CA directory uses it too. */
static int share_token(const profile *p, const config *top, config *c, char *err, size_t errlen)
{
    if (c->pkcs11_module[0] != '\0' && top->pkcs11_module[0] != '\0' &&
        strcmp(c->pkcs11_module, top->pkcs11_module) != 0) {
        snprintf(err, errlen,
                 "[profile %s]: ca_dir %s: pkcs11_module %s is not the server's (%s): one module "
                 "serves every CA",
                 profile_label(p), c->dir, c->pkcs11_module, top->pkcs11_module);
        return -1;
    }
    if (c->pkcs11_module[0] == '\0' && top->pkcs11_module[0] != '\0') {
        snprintf(c->pkcs11_module, sizeof(c->pkcs11_module), "%s", top->pkcs11_module);
        if (c->pkcs11_pin_file[0] == '\0' && top->pkcs11_pin_file[0] != '\0')
            config_path(top, top->pkcs11_pin_file, c->pkcs11_pin_file, sizeof(c->pkcs11_pin_file));
    }
    return 0;
}

int profile_ca_config(const profile *p, const config *top, config *out, char *err, size_t errlen)
{
    char dir[CONFIG_PATH], conf[CONFIG_PATH + 16], why[768];
    if (resolve(p, dir, err, errlen) != 0)
        return -1;
    snprintf(conf, sizeof(conf), "%s/scepd.conf", dir);
    struct stat sb;
    if (stat(conf, &sb) != 0) {
        snprintf(err, errlen,
                 "[profile %s]: ca_dir %s is not a scepd directory (no scepd.conf: make it with "
                 "scepd init --dir %s)",
                 profile_label(p), dir, dir);
        return -1;
    }
    config_defaults(out, dir);
    if (config_load(out, conf, why, sizeof(why)) != 0 ||
        config_check_secret_files(out, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "[profile %s]: ca_dir %s: %s", profile_label(p), dir, why);
        return -1;
    }
    return share_token(p, top, out, err, errlen);
}
