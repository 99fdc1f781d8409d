/* scepd restore: a `scepd backup` archive into a new CA directory, checked by opening it. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/cli.h"
#include "os/tar.h"
#include "profile/profile.h"

static const char usage_text[] =
    "usage: scepd restore --dir NEWDIR --in FILE\n\n"
    "Extracts an archive made by `scepd backup` into NEWDIR, which must be new or empty, then\n"
    "opens its configuration and store to check them. Paths in scepd.conf are relative to the\n"
    "directory, so NEWDIR serves as the old one did; a backup made without keys needs the\n"
    "private keys copied in before `scepd serve`. Profiles' CA directories (ca_dir) come back\n"
    "under NEWDIR/ca_dirs/NAME: move each where its ca_dir names, or point ca_dir there.\n\n"
    "  --in FILE      the archive\n"
    "  --dir NEWDIR   where to put it (made, mode 0700, when missing)\n";

/* 0 when dir is missing (then made) or empty; otherwise why not, in err. */
static int fresh_dir(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) == 0)
        return 0;
    DIR *d = errno == EEXIST ? opendir(dir) : NULL;
    if (d == NULL) {
        snprintf(err, errlen, "cannot use %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    if (!empty)
        snprintf(err, errlen, "%s is not empty: restore only into a new or empty directory", dir);
    return empty ? 0 : -1;
}

/* The profiles' CA directories the archive held (ca_dirs/NAME): restore cannot know where they
 * belong on this machine, so it says where each is and where the configuration looks. */
static void say_ca_dirs(const config *c)
{
    char path[CONFIG_PATH * 2], err[1024];
    snprintf(path, sizeof(path), "%s/%s", c->dir, TAR_CA_DIRS);
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    profile_set ps = {0};
    int loaded = profile_set_load_dir(&ps, c, err, sizeof(err)) == 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        const profile *p = loaded ? profile_find(&ps, e->d_name) : NULL;
        if (p != NULL && p->cfg->ca_dir[0] != '\0')
            printf("restore: profile %s's CA directory is in %s/%s: move it to its ca_dir (%s) "
                   "or set ca_dir = %s/%s in [profile %s] before serving\n",
                   e->d_name, path, e->d_name, p->cfg->ca_dir, TAR_CA_DIRS, e->d_name, e->d_name);
        else
            printf("restore: %s/%s holds the CA directory of a profile scepd.conf does not name "
                   "with a ca_dir now (%s)\n",
                   path, e->d_name, loaded ? "kept as it was" : err);
    }
    closedir(d);
    profile_set_free(&ps);
}

/* What the restored directory holds: the configuration and store open, the keys are there. */
static int check(const char *dir)
{
    config c;
    if (cli_load_config("restore", dir, &c) != 0)
        return EXIT_FAIL;
    store *st = cli_open_store("restore", &c);
    if (st == NULL)
        return EXIT_FAIL;
    store_close(st);
    char key[CONFIG_PATH * 2];
    config_path(&c, c.ca_key, key, sizeof(key));
    if (strchr(c.ca_key, ':') == NULL && access(key, F_OK) != 0)
        printf("restore: no CA key in the archive (a backup without --with-keys): put %s in "
               "place before serving\n",
               key);
    say_ca_dirs(&c);
    return 0;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"in", required_argument, NULL, 'i'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL, *in = NULL;
    int flag;
    optind = 1;
    while ((flag = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (flag == 'd')
            dir = optarg;
        else if (flag == 'i')
            in = optarg;
        else
            return cli_usage(&cmd_restore);
    if (optind != argc)
        return cli_misuse("restore", "unexpected argument '%s'", argv[optind]);
    if (in == NULL || in[0] == '\0')
        return cli_misuse("restore", "--in FILE is required");
    char err[1024];
    int count = 0;
    if (fresh_dir(dir, err, sizeof(err)) != 0 ||
        tar_extract(in, dir, &count, err, sizeof(err)) != 0)
        return cli_fail("restore", "%s", err);
    printf("restore: %d files from %s into %s\n", count, in, dir);
    return check(dir);
}

const command cmd_restore = {"restore", "put a backup archive into a new CA directory", usage_text,
                             run};
