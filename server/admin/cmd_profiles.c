/* scepd profiles: the profiles of scepd.conf as a server would serve them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "admin/cli.h"
#include "ca/ca.h"
#include "profile/profile.h"

static const char usage_text[] =
    "usage: scepd profiles --dir DIR\n\n"
    "Lists the profiles of DIR/scepd.conf: the default one (the top-level settings) and each\n"
    "[profile NAME] section, with its paths, CA, challenge source, approval, validity, key,\n"
    "subject and SAN rules and the extensions of the certificates it issues. A configuration\n"
    "that does not load is reported with its file, line and profile (exit 1).\n";

/* The subject of c's CA. */
static int ca_subject(const config *c, char *out, size_t len)
{
    char path[CONFIG_PATH * 2], err[512];
    config_path(c, c->ca_cert, path, sizeof(path));
    X509 *cert = ca_load_cert(path, err, sizeof(err));
    if (cert == NULL)
        return cli_fail("profiles", "%s", err);
    ca_name_text(X509_get_subject_name(cert), out, len);
    X509_free(cert);
    return 0;
}

/* A profile with its CA: the server's (subject), or its ca_dir's. */
static int print_one(const profile *p, const config *top, const char *subject)
{
    char err[1024], own[512];
    if (p->cfg->ca_dir[0] == '\0') {
        profile_print(stdout, p, subject);
        return 0;
    }
    config *c = calloc(1, sizeof(*c));
    int rc = c == NULL ? cli_fail("profiles", "out of memory") : 0;
    if (rc == 0 && profile_ca_config(p, top, c, err, sizeof(err)) != 0)
        rc = cli_fail("profiles", "%s", err);
    if (rc == 0 && (rc = ca_subject(c, own, sizeof(own))) == 0)
        profile_print(stdout, p, own);
    free(c);
    return rc;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (c == 'd')
            dir = optarg;
        else
            return cli_usage(&cmd_profiles);
    if (optind != argc)
        return cli_misuse("profiles", "unexpected argument '%s'", argv[optind]);
    config *cfg = calloc(1, sizeof(*cfg));
    profile_set ps = {0};
    char err[1024], subject[512];
    if (cfg == NULL)
        return cli_fail("profiles", "out of memory");
    int rc = cli_load_config("profiles", dir, cfg) != 0 ? EXIT_FAIL : 0;
    if (rc == 0 && (config_read_challenge_file(cfg, err, sizeof(err)) != 0 ||
                    profile_set_load_dir(&ps, cfg, err, sizeof(err)) != 0))
        rc = cli_fail("profiles", "%s", err);
    if (rc == 0 && ca_subject(cfg, subject, sizeof(subject)) != 0)
        rc = EXIT_FAIL;
    for (size_t i = 0; rc == 0 && i < ps.n; i++)
        rc = print_one(&ps.items[i], cfg, subject);
    profile_set_free(&ps);
    free(cfg);
    return rc;
}

const command cmd_profiles = {"profiles", "list the profiles of scepd.conf", usage_text, run};
