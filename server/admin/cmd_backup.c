/* scepd backup: one archive with a consistent copy of the store, the configuration and the CA
 * certificates (and, when asked, the keys), taken while the server runs. */
#define _DEFAULT_SOURCE /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/cli.h"
#include "ca/ca.h"
#include "os/tar.h"
#include "profile/profile.h"

static const char usage_text[] =
    "usage: scepd backup --dir DIR --out FILE [--with-keys]\n\n"
    "Writes one archive (a gzip-compressed tar, mode 0600) with a consistent copy of the\n"
    "store, taken while servers use it, scepd.conf and the CA and RA certificates of every\n"
    "generation. A store without a copy of its own (PostgreSQL) is left out: back it up with\n"
    "pg_dump. Each profile's own CA directory (ca_dir) goes in as ca_dirs/NAME/ (its\n"
    "scepd.conf, certificates and, with --with-keys, keys). `scepd restore` puts the archive\n"
    "back into a new directory.\n\n"
    "  --dir DIR      the CA directory\n"
    "  --out FILE     the archive to write (an older one there is replaced, whole)\n"
    "  --with-keys    also the private keys and secret files (CA, RA, challenge, admin token)\n";

/* The certificates beside the configured ones, and the keys: plain names in DIR. */
static const char *const rollover_certs[] = {CA_NEXT_CERT, CA_NEXT_RA_CERT, CA_PREV_CERT,
                                             CA_PREV_RA_CERT, CA_CHAIN_FILE};
static const char *const rollover_keys[] = {CA_NEXT_KEY, CA_NEXT_RA_KEY, CA_PREV_KEY,
                                            CA_PREV_RA_KEY};

typedef struct members {
    tar_member m[TAR_MAX_MEMBERS];
    char paths[TAR_MAX_MEMBERS][CONFIG_PATH * 2];
    char names[TAR_MAX_MEMBERS][CONFIG_PROFILE_NAME + 300];
    size_t n;
    const config *c;                       /* the directory whose files are added */
    char prefix[CONFIG_PROFILE_NAME + 16]; /* its place in the archive: "" or ca_dirs/NAME/ */
} members;

/* Adds DIR/name once; a name that is not a plain file of DIR is said and left out. */
static void add(members *l, const char *name, int must_exist)
{
    if (name[0] == '\0')
        return;
    if (strchr(name, '/') != NULL || strchr(name, ':') != NULL || strlen(name) > 255) {
        fprintf(stderr, "scepd backup: not in the archive (not a file in %s): %s\n", l->c->dir,
                name);
        return;
    }
    char in_archive[sizeof(l->names[0])];
    snprintf(in_archive, sizeof(in_archive), "%s%s", l->prefix, name);
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->m[i].name, in_archive) == 0)
            return;
    char path[sizeof(l->paths[0])];
    snprintf(path, sizeof(path), "%.1500s/%.500s", l->c->dir, name);
    if (!must_exist && access(path, F_OK) != 0)
        return;
    if (l->n == TAR_MAX_MEMBERS) {
        fprintf(stderr, "scepd backup: not in the archive (more than %d files): %s\n",
                TAR_MAX_MEMBERS, path);
        return;
    }
    memcpy(l->paths[l->n], path, sizeof(path));
    memcpy(l->names[l->n], in_archive, sizeof(in_archive));
    l->m[l->n] = (tar_member){l->names[l->n], l->paths[l->n]};
    l->n++;
}

static void add_files(members *l, int with_keys)
{
    const config *c = l->c;
    add(l, "scepd.conf", 1);
    add(l, c->ca_cert, 1);
    add(l, c->ra_cert, 1);
    add(l, c->ra_sign_cert, 1);
    add(l, c->ca_chain, 1);
    for (size_t i = 0; i < sizeof(rollover_certs) / sizeof(rollover_certs[0]); i++)
        add(l, rollover_certs[i], 0);
    if (!with_keys)
        return;
    const char *secrets[] = {c->ca_key,           c->ra_key,         c->ra_sign_key,
                             c->ca_key_pass_file, c->challenge_file, c->admin_token_file};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        add(l, secrets[i], 1);
    for (size_t i = 0; i < sizeof(rollover_keys) / sizeof(rollover_keys[0]); i++)
        add(l, rollover_keys[i], 0);
}

/* 1 when dir is the server's own or a ca_dir of items[0..n-1] before it (added already). */
static int seen(const config *top, const profile *items, size_t n, const char *dir)
{
    char own[PATH_MAX], err[1024];
    if (realpath(top->dir, own) != NULL && strcmp(own, dir) == 0)
        return 1;
    config *c = calloc(1, sizeof(*c));
    int found = c == NULL;
    for (size_t i = 0; !found && i < n; i++)
        found = items[i].cfg->ca_dir[0] != '\0' &&
                profile_ca_config(&items[i], top, c, err, sizeof(err)) == 0 &&
                strcmp(c->dir, dir) == 0;
    free(c);
    return found;
}

/* Each profile's own CA directory (ca_dir), once, as ca_dirs/NAME/ (NAME: the first profile
 * that names it). One that does not load is said and left out. */
static void add_ca_dirs(members *l, int with_keys)
{
    const config *top = l->c;
    profile_set ps = {0};
    config *c = calloc(1, sizeof(*c));
    char err[1024];
    if (c == NULL || profile_set_load_dir(&ps, top, err, sizeof(err)) != 0)
        fprintf(stderr, "scepd backup: the profiles' CA directories are not in the archive: %s\n",
                c == NULL ? "out of memory" : err);
    for (size_t i = 0; c != NULL && i < ps.n; i++) {
        const profile *p = &ps.items[i];
        if (p->cfg->ca_dir[0] == '\0')
            continue;
        if (profile_ca_config(p, top, c, err, sizeof(err)) != 0) {
            fprintf(stderr, "scepd backup: not in the archive: %s\n", err);
            continue;
        }
        if (seen(top, ps.items, i, c->dir))
            continue;
        snprintf(l->prefix, sizeof(l->prefix), "%s/%s/", TAR_CA_DIRS, p->name);
        l->c = c;
        add_files(l, with_keys);
        printf("backup: profile %s's CA directory %s as %s\n", p->name, c->dir, l->prefix);
    }
    l->c = top;
    l->prefix[0] = '\0';
    profile_set_free(&ps);
    free(c);
}

/* The store's name in the archive: its file name when it is a file of DIR. */
static const char *store_name(const config *c)
{
    const char *name = strncmp(c->store, "sqlite:", 7) == 0 ? c->store + 7 : c->store;
    size_t n = strlen(c->dir);
    if (strncmp(name, c->dir, n) == 0 && name[n] == '/')
        name += n + 1;
    return strchr(name, '/') == NULL && strchr(name, ':') == NULL ? name : NULL;
}

/* The store's copy into tmpdir, added as its name; 1 when the backend has none of its own. */
static int copy_store(members *l, const char *tmpdir, char *err, size_t errlen)
{
    char uri[CONFIG_PATH * 2];
    config_store_uri(l->c, uri, sizeof(uri));
    const char *name = store_name(l->c);
    snprintf(l->paths[l->n], sizeof(l->paths[0]), "%.1500s/%.500s", tmpdir, name ? name : "store");
    int rc = store_backup(uri, l->paths[l->n], err, errlen);
    if (rc == 0 && name == NULL) {
        unlink(l->paths[l->n]);
        snprintf(err, errlen, "the store %.512s is not a file in DIR, where restore would put it",
                 uri);
        rc = -1;
    }
    if (rc == 0) {
        l->m[l->n] = (tar_member){name, l->paths[l->n]};
        l->n++;
    }
    return rc;
}

/* A private directory beside out for the store's copy, on the same file system. */
static int make_tmpdir(const char *out, char *tmpdir, size_t len)
{
    const char *slash = strrchr(out, '/');
    int n = slash ? (int)(slash - out) : 1;
    snprintf(tmpdir, len, "%.*s/.scepd-backup.XXXXXX", n > 1500 ? 1500 : n, slash ? out : ".");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int backup(const config *c, const char *out, int with_keys)
{
    members *l = calloc(1, sizeof(*l));
    char tmpdir[CONFIG_PATH * 2], err[1024];
    if (l == NULL)
        return cli_fail("backup", "out of memory");
    l->c = c;
    if (make_tmpdir(out, tmpdir, sizeof(tmpdir)) != 0) {
        free(l);
        return cli_fail("backup", "cannot make a directory beside %s: %s", out, strerror(errno));
    }
    int rc = copy_store(l, tmpdir, err, sizeof(err));
    const char *store_copy = rc == 0 ? l->paths[0] : NULL;
    if (rc == 1)
        fprintf(stderr, "scepd backup: the store is not in the archive: %s\n", err);
    if (rc >= 0) {
        add_files(l, with_keys);
        add_ca_dirs(l, with_keys);
        rc = tar_write(out, l->m, l->n, err, sizeof(err));
    }
    if (store_copy != NULL)
        unlink(store_copy);
    rmdir(tmpdir);
    if (rc == 0)
        printf("backup: %zu files in %s (%s)\n", l->n, out,
               with_keys ? "with the private keys: keep it safe" : "without private keys");
    free(l);
    return rc == 0 ? 0 : cli_fail("backup", "%s", err);
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"with-keys", no_argument, NULL, 'k'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL, *out = NULL;
    int flag, with_keys = 0;
    optind = 1;
    while ((flag = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (flag == 'd')
            dir = optarg;
        else if (flag == 'o')
            out = optarg;
        else if (flag == 'k')
            with_keys = 1;
        else
            return cli_usage(&cmd_backup);
    if (optind != argc)
        return cli_misuse("backup", "unexpected argument '%s'", argv[optind]);
    if (out == NULL || out[0] == '\0')
        return cli_misuse("backup", "--out FILE is required");
    config c;
    if (cli_load_config("backup", dir, &c) != 0)
        return EXIT_FAIL;
    return backup(&c, out, with_keys);
}

const command cmd_backup = {"backup", "archive the store, configuration and certificates",
                            usage_text, run};
