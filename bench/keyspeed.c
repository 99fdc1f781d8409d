/*
 * scep-keyspeed: RSA/EC signatures per second with keys opened as scepd opens them (the key
 * seam: a key file, or a token key through libp11), so that a token's own sign rate can be set
 * beside OpenSSL's in the same run.
 *
 *   scep-keyspeed [-s SECONDS] [-t THREADS] [--pkcs11-module SO] [--pkcs11-pin-file FILE]
 *                 KEY...
 *
 * Each KEY (a key file, a pkcs11: URI, or a reference file as `scepd init --key-uri` writes) is
 * timed in turn: THREADS threads, each with its own EVP_PKEY_CTX on the one key (as scepd's
 * workers share the CA key), sign SHA-256 digests (RSA: PKCS#1 v1.5) for SECONDS. One line per
 * key: `key=KEY threads=T signs=N seconds=S rate=SIGNS_PER_S cpu_ms=PROCESS_CPU_MS_PER_SIGN`.
 * The process CPU does not include a token that runs in another process (a network HSM); for
 * SoftHSM, a library in this process, it does.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "keys/keys.h"

#define KEYSPEED_MAX_THREADS 64

static const char usage_text[] =
    "usage: scep-keyspeed [-s SECONDS] [-t THREADS] [--pkcs11-module SO]\n"
    "                     [--pkcs11-pin-file FILE] KEY...\n"
    "\n"
    "Signs SHA-256 digests with each KEY (a key file, a pkcs11: URI or a token key reference\n"
    "file) on THREADS threads for SECONDS (default 1 thread, 3 s); prints one key=value line\n"
    "per key: signatures per second and process CPU milliseconds per signature.\n"
    "\n"
    "  --pkcs11-module SO      the PKCS#11 module for URIs that name none (pkcs11_module)\n"
    "  --pkcs11-pin-file FILE  the token's user PIN (pkcs11_pin_file)\n"
    "\n"
    "Exit status: 0, 1 when a signature failed, 2 usage or setup.\n";

typedef struct sign_job {
    EVP_PKEY *pkey;
    double seconds;
    long signs;
    int failed;
} sign_job;

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static EVP_PKEY_CTX *sign_ctx(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 ||
        (EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* One thread: signatures until the job's time is up. */
static void *sign_loop(void *arg)
{
    sign_job *j = arg;
    EVP_PKEY_CTX *ctx = sign_ctx(j->pkey);
    unsigned char md[32] = {1, 2, 3}, sig[1024];
    double end = now(CLOCK_MONOTONIC) + j->seconds;
    j->failed = ctx == NULL;
    while (!j->failed && now(CLOCK_MONOTONIC) < end) {
        size_t siglen = sizeof(sig);
        md[0] = (unsigned char)j->signs;
        if (EVP_PKEY_sign(ctx, sig, &siglen, md, sizeof(md)) <= 0)
            j->failed = 1;
        else
            j->signs++;
    }
    EVP_PKEY_CTX_free(ctx);
    return NULL;
}

/* Times pkey on threads threads; prints its line. 0, or 1 when a signature failed. */
static int time_key(const char *name, EVP_PKEY *pkey, int threads, double seconds)
{
    pthread_t tid[KEYSPEED_MAX_THREADS];
    sign_job jobs[KEYSPEED_MAX_THREADS];
    double cpu0 = now(CLOCK_PROCESS_CPUTIME_ID), wall0 = now(CLOCK_MONOTONIC);
    int started = 0, failed = 0;
    for (; started < threads; started++) {
        jobs[started] = (sign_job){.pkey = pkey, .seconds = seconds};
        if (pthread_create(&tid[started], NULL, sign_loop, &jobs[started]) != 0)
            break;
    }
    long signs = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
        signs += jobs[i].signs;
        failed |= jobs[i].failed;
    }
    double wall = now(CLOCK_MONOTONIC) - wall0, cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    printf("key=%s threads=%d signs=%ld seconds=%.2f rate=%.1f cpu_ms=%.3f\n", name, started, signs,
           wall, (double)signs / wall, signs > 0 ? 1000 * cpu / (double)signs : 0.0);
    if (failed || started < threads)
        fprintf(stderr, "scep-keyspeed: %s: a signature failed\n", name);
    return failed || started < threads;
}

/* Opens uri through the key seam and times it. 0, 1 (a signature failed) or 2 (setup). */
static int run_key(const char *uri, int threads, double seconds)
{
    char err[512] = "";
    keystore *ks = keys_open(uri, err, sizeof(err));
    private_key *k = ks != NULL ? ks->open(ks, uri, NULL, err, sizeof(err)) : NULL;
    int rc = 2;
    if (k != NULL)
        rc = time_key(uri, k->ops->pkey(k), threads, seconds);
    else
        fprintf(stderr, "scep-keyspeed: %s\n", err);
    if (k != NULL)
        k->ops->destroy(k);
    if (ks != NULL)
        ks->destroy(ks);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"seconds", required_argument, NULL, 's'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"pkcs11-module", required_argument, NULL, 'm'},
                                             {"pkcs11-pin-file", required_argument, NULL, 'P'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    double seconds = 3;
    int threads = 1, c;
    const char *module = NULL, *pin_file = NULL;
    while ((c = getopt_long(argc, argv, "s:t:h", longopts, NULL)) != -1) {
        char *end = NULL;
        if (c == 's')
            seconds = strtod(optarg, &end);
        else if (c == 't')
            threads = (int)strtol(optarg, &end, 10);
        else if (c == 'm')
            module = optarg;
        else if (c == 'P')
            pin_file = optarg;
        else
            return fputs(usage_text, c == 'h' ? stdout : stderr), c == 'h' ? 0 : 2;
        if (end != NULL && (end == optarg || *end != '\0'))
            seconds = 0; /* not a number: refused below */
    }
    if (optind == argc || seconds <= 0 || seconds > 3600 || threads < 1 ||
        threads > KEYSPEED_MAX_THREADS) {
        fprintf(stderr, "scep-keyspeed: need a KEY, 0 < SECONDS <= 3600, 1 <= THREADS <= %d\n%s",
                KEYSPEED_MAX_THREADS, usage_text);
        return 2;
    }
    keys_pkcs11_settings(module, pin_file);
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        int r = run_key(argv[i], threads, seconds);
        rc = r > rc ? r : rc;
    }
    return rc;
}
