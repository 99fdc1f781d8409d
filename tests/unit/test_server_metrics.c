/* The metrics registry (server/metrics/): counts land in their labels, histogram buckets are
 * cumulative with the bounds inclusive, and requests counted from many threads at once are all
 * there (atomics, no lock). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "scep/scep.h"
#include "testutil.h"

/* The value of the sample named exactly `series` in the rendered text, or -1. */
static double sample(const char *series)
{
    metrics_gauges g = {.now = 1000, .ca_not_after = 4600, .pending = 3};
    size_t len = 0;
    char *text = metrics_render(&g, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    double v = -1;
    size_t n = strlen(series);
    for (char *line = text; line != NULL && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            v = strtod(line + n + 1, NULL);
    free(text);
    return v;
}

static void test_labels(void **state)
{
    (void)state;
    metrics_request("PKIOperation", SCEP_MSG_PKCS_REQ, "FAILURE", SCEP_FAIL_BAD_REQUEST, 0.002);
    metrics_request("PKIOperation", SCEP_MSG_PKCS_REQ, "FAILURE", SCEP_FAIL_BAD_REQUEST, 0.002);
    metrics_request("GetCACert", SCEP_MSG_NONE, "ok", -1, 0.0001);
    metrics_request("nonsense", 99, "weird", 42, 0.0001); /* counted, under the catch-alls */
    assert_true(sample("scepd_requests_total{operation=\"PKIOperation\",message_type=\"PKCSReq\","
                       "outcome=\"FAILURE\",fail_info=\"badRequest\"}") == 2);
    assert_true(sample("scepd_requests_total{operation=\"GetCACert\",message_type=\"none\","
                       "outcome=\"ok\",fail_info=\"none\"}") == 1);
    assert_true(sample("scepd_requests_total{operation=\"unknown\",message_type=\"none\","
                       "outcome=\"error\",fail_info=\"none\"}") == 1);
    assert_true(sample("scepd_certificate_expiry_seconds{certificate=\"ca\"}") == 3600);
    assert_true(sample("scepd_pending_requests") == 3);
    /* No next CA, no RA, no CRL: no sample rather than a made-up number. */
    assert_true(sample("scepd_certificate_expiry_seconds{certificate=\"ra\"}") == -1);
    assert_true(sample("scepd_crl_next_update_seconds") == -1);
}

/* Each profile CA's certificates get their own samples, labelled with the CA's name; the
 * server's keep their labels as they were. */
static void test_profile_cas(void **state)
{
    (void)state;
    metrics_profile_ca pcas[2] = {{.name = "iot", .times = {.ca_not_after = 1500}},
                                  {.name = "vpn", .times = {5000, 9000, 2000}}};
    metrics_gauges g = {
        .now = 1000, .ca_not_after = 4600, .pending = -1, .pcas = pcas, .n_pcas = 2};
    size_t len = 0;
    char *text = metrics_render(&g, &len);
    assert_non_null(text);
    const char *want[] = {
        "\nscepd_certificate_expiry_seconds{certificate=\"ca\"} 3600\n",
        "\nscepd_certificate_expiry_seconds{certificate=\"ca\",ca=\"iot\"} 500\n",
        "\nscepd_certificate_expiry_seconds{certificate=\"ca\",ca=\"vpn\"} 4000\n",
        "\nscepd_certificate_expiry_seconds{certificate=\"next_ca\",ca=\"vpn\"} 8000\n",
        "\nscepd_certificate_expiry_seconds{certificate=\"ra\",ca=\"vpn\"} 1000\n"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(text, want[i]) == NULL)
            fail_msg("missing %s in:\n%s", want[i], text);
    assert_null(strstr(text, "certificate=\"ra\",ca=\"iot\"")); /* none: no sample */
    free(text);
}

static void test_buckets(void **state)
{
    (void)state;
    metrics_store_flush(0.001); /* on the bound: in le="0.001" */
    metrics_store_flush(0.0011);
    metrics_store_flush(20);
    assert_true(sample("scepd_store_flush_duration_seconds_bucket{le=\"0.001\"}") == 1);
    assert_true(sample("scepd_store_flush_duration_seconds_bucket{le=\"0.0025\"}") == 2);
    assert_true(sample("scepd_store_flush_duration_seconds_bucket{le=\"10\"}") == 2);
    assert_true(sample("scepd_store_flush_duration_seconds_bucket{le=\"+Inf\"}") == 3);
    assert_true(sample("scepd_store_flush_duration_seconds_count") == 3);
    double sum = sample("scepd_store_flush_duration_seconds_sum");
    assert_true(sum > 20.0020 && sum < 20.0022);
}

static void *count_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++) {
        metrics_request("GetCACaps", SCEP_MSG_NONE, "ok", -1, 0.0);
        metrics_certificate(METRICS_RENEWED);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, count_many, NULL), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    assert_true(sample("scepd_requests_total{operation=\"GetCACaps\",message_type=\"none\","
                       "outcome=\"ok\",fail_info=\"none\"}") == 80000);
    assert_true(sample("scepd_request_duration_seconds_count{operation=\"GetCACaps\"}") == 80000);
    assert_true(sample("scepd_certificates_renewed_total") == 80000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_profile_cas),
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
