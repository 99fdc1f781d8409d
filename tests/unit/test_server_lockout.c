/* Brute-force limits (server/policy/lockout.c): the counting and backoff policy, the keys of
 * addresses and subjects, and the checks on a store. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "policy/lockout.h"
#include "store/store.h"
#include "testutil.h"

static const lockout_policy policy = {.limit = 20, .window = 60, .first = 60, .max = 3600};

/* One failure at now on f; returns whether it started a lockout. */
static int fail_at(store_failure *f, int64_t now)
{
    lockout_step_arg arg = {.policy = policy};
    lockout_step(&arg, f, now);
    return arg.locked;
}

static void test_limit_within_window(void **state)
{
    (void)state;
    store_failure f = {0};
    for (int i = 0; i < 19; i++)
        assert_false(fail_at(&f, 1000 + i));
    assert_int_equal(f.count, 19);
    assert_int_equal(f.locked_until, 0);
    assert_true(fail_at(&f, 1030)); /* the 20th within a minute */
    assert_int_equal(f.locked_until, 1090);
    assert_int_equal(f.strikes, 1);
    assert_int_equal(f.total, 20);
    assert_int_equal(f.first_at, 1000);
    /* Remembered for max after the lockout ends. */
    assert_int_equal(f.expires_at, 1090 + 3600);
}

static void test_window_restarts(void **state)
{
    (void)state;
    store_failure f = {0};
    /* 19 a minute, for ten minutes: a fleet with some misconfigured devices, never locked. */
    for (int minute = 0; minute < 10; minute++)
        for (int i = 0; i < 19; i++)
            assert_false(fail_at(&f, 1000 + minute * 60 + i));
    assert_int_equal(f.total, 190);
    assert_int_equal(f.strikes, 0);
}

static void test_backoff_doubles_to_cap(void **state)
{
    (void)state;
    store_failure f = {0};
    for (int i = 0; i < 20; i++)
        fail_at(&f, 1000);
    int64_t now = f.locked_until;
    long want = 120;
    /* Each failure after a lockout locks again, twice as long, up to max. */
    for (int strike = 2; strike <= 8; strike++) {
        assert_true(fail_at(&f, now));
        assert_int_equal(f.strikes, strike);
        assert_int_equal(f.locked_until - now, want);
        now = f.locked_until;
        want = want * 2 > 3600 ? 3600 : want * 2;
    }
    assert_int_equal(lockout_length(&policy, 100), 3600);
    assert_int_equal(lockout_length(&policy, 0), 60);
}

static void test_failure_while_locked_only_counts(void **state)
{
    (void)state;
    store_failure f = {0};
    for (int i = 0; i < 20; i++)
        fail_at(&f, 1000);
    assert_false(fail_at(&f, 1010)); /* another node counted it just before the lockout */
    assert_int_equal(f.locked_until, 1060);
    assert_int_equal(f.strikes, 1);
    assert_int_equal(f.total, 21);
}

static void test_no_limit(void **state)
{
    (void)state;
    lockout_step_arg arg = {.policy = {.limit = 0, .window = 60, .first = 60, .max = 3600}};
    store_failure f = {0};
    for (int i = 0; i < 1000; i++)
        lockout_step(&arg, &f, 1000);
    assert_int_equal(f.locked_until, 0);
    assert_int_equal(f.total, 1000);
}

static void test_policy_of_config(void **state)
{
    (void)state;
    config c;
    config_defaults(&c, NULL);
    lockout_policy p = lockout_policy_of(&c, LOCKOUT_ADDRESS);
    assert_int_equal(p.limit, 20);
    assert_int_equal(p.window, 60);
    assert_int_equal(p.first, 60);
    assert_int_equal(p.max, 3600);
    char err[128];
    assert_int_equal(config_set(&c, "max_subject_failures", "5", err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "max_lockout", "10", err, sizeof(err)), 0);
    assert_int_equal(lockout_policy_of(&c, LOCKOUT_SUBJECT).limit, 5);
    assert_int_equal(lockout_policy_of(&c, LOCKOUT_ADMIN).limit, 20);
    assert_int_equal(lockout_policy_of(&c, LOCKOUT_ADMIN).max, 60); /* never below the first */
    assert_int_not_equal(config_set(&c, "max_failures", "-1", err, sizeof(err)), 0);
    assert_non_null(strstr(err, "bad value for max_failures: '-1'"));
    assert_int_not_equal(config_set(&c, "lockout", "0", err, sizeof(err)), 0);
}

typedef struct key_case {
    const char *in, *want;
} key_case;

static void test_address_keys(void **state)
{
    (void)state;
    static const key_case cases[] = {
        {"192.0.2.7", "192.0.2.7"},
        {"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
        {"2001:db8:1:2::9", "2001:db8:1:2::/64"}, /* the same /64 */
        {"::ffff:192.0.2.7", "192.0.2.7"},
        {"-", ""},
        {"192.0.2.7; DROP", ""},
    };
    char key[LOCKOUT_KEY];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lockout_address_key(cases[i].in, key, sizeof(key));
        assert_string_equal(key, cases[i].want);
    }
    lockout_address_key(NULL, key, sizeof(key));
    assert_string_equal(key, "");
}

static void test_subject_keys(void **state)
{
    (void)state;
    static const key_case cases[] = {
        {"CN=Device-7,O=Example", "cn=device-7"},
        {"CN=device-7,O=Other,C=DE", "cn=device-7"},
        {"CN=a\\,b,O=x", "cn=a\\,b"}, /* an escaped comma stays in the RDN */
        {"CN=a+UID=7,O=x", "cn=a+uid=7"},
        {"CN=ends-in-escape\\", "cn=ends-in-escape\\"},
    };
    char key[LOCKOUT_KEY];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lockout_subject_key(cases[i].in, key, sizeof(key));
        assert_string_equal(key, cases[i].want);
    }
    char longer[300];
    memset(longer, 'A', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    lockout_subject_key(longer, key, sizeof(key));
    assert_int_equal(strlen(key), sizeof(key) - 2);
}

/* The checks of an enrollment on a store: the address and the subject, each on its own. */
static void test_challenge_checks(void **state)
{
    (void)state;
    char err[256] = "", why[128];
    store *st = store_open(":memory:", err, sizeof(err));
    assert_non_null(st);
    config c;
    config_defaults(&c, NULL);
    c.max_failures = 3;
    c.max_subject_failures = 5;
    for (int i = 0; i < 2; i++)
        lockout_challenge_failed(&c, st, "192.0.2.1", "CN=dev-1,O=x");
    assert_int_equal(lockout_challenge_refused(&c, st, "192.0.2.1", "CN=dev-1", why, sizeof(why)),
                     0);
    lockout_challenge_failed(&c, st, "192.0.2.1", "CN=dev-1,O=y");
    assert_int_equal(lockout_challenge_refused(&c, st, "192.0.2.1", "CN=new", why, sizeof(why)), 1);
    long left = 0;
    assert_int_equal(sscanf(why, "too many failed attempts, retry after %ld s", &left), 1);
    assert_true(left >= 59 && left <= 60);
    /* Another address, same subject: 3 failures of 5 so far. */
    assert_int_equal(lockout_challenge_refused(&c, st, "192.0.2.2", "CN=dev-1", why, sizeof(why)),
                     0);
    lockout_challenge_failed(&c, st, "192.0.2.2", "CN=DEV-1");
    lockout_challenge_failed(&c, st, NULL, "CN=dev-1,O=z"); /* unknown address: subject only */
    assert_int_equal(lockout_challenge_refused(&c, st, "192.0.2.3", "CN=dev-1", why, sizeof(why)),
                     1);
    assert_int_equal(lockout_challenge_refused(&c, st, "192.0.2.3", "CN=dev-2", why, sizeof(why)),
                     0);
    /* Off: nothing is read or refused. */
    c.max_failures = 0;
    c.max_subject_failures = 0;
    assert_int_equal(lockout_challenge_refused(&c, st, "192.0.2.1", "CN=dev-1", why, sizeof(why)),
                     0);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_within_window),
        cmocka_unit_test(test_window_restarts),
        cmocka_unit_test(test_backoff_doubles_to_cap),
        cmocka_unit_test(test_failure_while_locked_only_counts),
        cmocka_unit_test(test_no_limit),
        cmocka_unit_test(test_policy_of_config),
        cmocka_unit_test(test_address_keys),
        cmocka_unit_test(test_subject_keys),
        cmocka_unit_test(test_challenge_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
