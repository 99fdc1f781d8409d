/* Durable files (server/os/file_atomic.c): the mode asked for, no overwrite unless asked, and a
 * write that fails half way leaves the old file as it was and no temporary file behind. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os/file_atomic.h"
#include "testutil.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_file_atomic.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ca.key", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    struct dirent *e;
    char name[512];
    while (d != NULL && (e = readdir(d)) != NULL) {
        snprintf(name, sizeof(name), "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.')
            unlink(name);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
    return 0;
}

static void assert_content(const char *want)
{
    char buf[256] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

/* How many names the directory holds besides . and .. */
static int entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return n;
}

static void test_mode_whatever_the_umask(void **state)
{
    (void)state;
    char err[256];
    mode_t old = umask(0);
    assert_int_equal(file_write_atomic(path, "key\n", 4, 0600, FILE_KEEP, err, sizeof(err)), 0);
    umask(old);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_content("key\n");
    assert_int_equal(entries(), 1);
}

static void test_keep_refuses_an_existing_file(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(file_write_atomic(path, "old\n", 4, 0600, FILE_KEEP, err, sizeof(err)), 0);
    assert_int_equal(file_write_atomic(path, "new\n", 4, 0600, FILE_KEEP, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "File exists"));
    assert_content("old\n");
    assert_int_equal(entries(), 1);
    assert_int_equal(file_write_atomic(path, "new\n", 4, 0600, FILE_REPLACE, err, sizeof(err)), 0);
    assert_content("new\n");
    assert_int_equal(entries(), 1);
}

/* A file size limit makes the write stop part way (EFBIG), as a full disk would. */
static void test_failed_write_keeps_the_old_file(void **state)
{
    (void)state;
    char err[256], big[4096];
    memset(big, 'x', sizeof(big));
    assert_int_equal(file_write_atomic(path, "old\n", 4, 0600, FILE_KEEP, err, sizeof(err)), 0);
    struct rlimit saved, small = {.rlim_cur = 1024};
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small.rlim_max = saved.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    int rc = file_write_atomic(path, big, sizeof(big), 0600, FILE_REPLACE, err, sizeof(err));
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "File too large"));
    assert_content("old\n");
    assert_int_equal(entries(), 1); /* no temporary file left */
}

static void test_missing_directory(void **state)
{
    (void)state;
    char err[256], where[160];
    snprintf(where, sizeof(where), "%s/none/ca.pem", dir);
    assert_int_equal(file_write_atomic(where, "x", 1, 0644, FILE_KEEP, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file or directory"));
    assert_int_equal(file_sync_dir(where), -1);
    assert_int_equal(file_sync_dir(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mode_whatever_the_umask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_refuses_an_existing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_keeps_the_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
