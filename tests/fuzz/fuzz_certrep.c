/* libFuzzer: a CertRep as a client decodes it: the signer must be the fixed CA below (or be
 * issued by it), and the envelope opens with a fixed client key, so that seeds made with these
 * keys reach decryption and the certs-only parser. Half the inputs are decoded with legacy
 * algorithms on, so that DES and MD5 replies get that far too; the other half in OpenSSL's
 * default context, where RSA signer certificates take libscep's path without a decoder chain. */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/pem.h>

#include "scep/scep.h"

#include "keys.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The client's key, made for the fuzzers only (CN=SCEP SIGNER); tests/fuzz/corpus/certrep is
 * signed and encrypted with them and with the fuzz CA (keys.c). */
static const char client_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCunlowkPmeC45g\n"
    "H1E3iWzehfraFSQM/CEyY2iPaoYAsh0LqvdQnegzRiWuRn4b+nBvmJTbUsRW1wCW\n"
    "jQgd67yW1ZZecxNZK0A117+m6buWsMIa3sOMtW9oFyCiuFKSeou4Oh52cTcHlWOo\n"
    "9z3c4gYfYQ2nERLucVdTKzka3YB3QRp+loVf2LuX4bK4Zpa+qu8w4X1aIOmSBNFg\n"
    "E3booxr1T/eow3gueame3cphbiC9CrWrIcMbfZRCFAaFOesbpKxQEKRsGN2+gwXi\n"
    "JGnHYcROYlGNkf3jCICq9k70ahSp7gTktyiA0kjskv+mMOSIs2hN+DnyOsPus0t0\n"
    "3KX+wpzhAgMBAAECggEAJAuzMXBT3uCi0MvWL6EyNJMyr78KdJW9YpHrvSMvq0gZ\n"
    "P9XYfK9EBgWWdK2/jZX6jMbR/55LwmNajzlosgh+IyLPCgs2NMN9W0AAo3t/SkGN\n"
    "qA9RDaRMbY/MoFptTSh33B0/OZLwWaPocTIsdoK/4c1ejJy1LDyAWr5C6P1NbhBO\n"
    "MpCyl0mVjtjyMLCeW4UCr6jCDaMVAPvnIG0s2hTMgOZz4EkMLCCYMPcwbEyiPkCP\n"
    "0VbSOGR+tDn/tLhfRj8ayhtcKEK8SWVSkD9w7Xj35S2LO6OJCrSyqWu3T33rVTpB\n"
    "joujADCE6dJdZVhdTxp0uEQER1bDWagRhJoI8a9S6wKBgQDoV/+jkMKx1C1fYBbt\n"
    "xxb14b5AKb1HBlFEF3Svm/TokKuTSUnTX+2Khdzth3b60nR5v5grG/Xy5AGABw9n\n"
    "HuBMJoeViZ2TBlkBBpx7crrpeW35Y2zZuezPJaDWhZLynqdYKsZPjRsThJho0xv+\n"
    "uyxq9IR3JnvH899LCOQB8H6w2wKBgQDAZcGiurZPPdo1bz/eLQ6U5oD/n/6cnLIt\n"
    "iVTLMVy7Tozk2KQDYXhU2Ow/iQCSKujtIs8Yyypuw10JN+TcLQN7s2CTqkqv7Tji\n"
    "PvsVavRbROAz2RB5UayxjAaE7XzdMwgZssGAT3kVGR8T/KGzbi2+GsF6FkEuNmPN\n"
    "xWaBypxH8wKBgB++diTo0FDvhktzm25dNxvc/dtSWJPtnwjIk56yliF4Mpjq+HUy\n"
    "tAerBmZFjdHzEwrXTHkHVvEaicHuNQKHy2lcEkYyCR9fTKXBO3v6TuM7PfVGykZt\n"
    "Cpe6smDc2xje6Eo5feK8iqh+Azy/KyIAfK8YPUjyLxNAlI9x5YUGUKjlAoGAdBSw\n"
    "6LLITjUeU8EEgtMiihos2I46u1kbc7f5DgOBVI2HGofPJS8IwACFQawySP5UvMaU\n"
    "tvvVZTDAEFDF50XNZTQL3+wN1elFudOQABMgzXRX5VBgzSHHFPRL9qWnAXrJt1+P\n"
    "ug+5GU6n3pI9KZofRSS1eSi2OOCeBMfGGicZdZsCgYAEGUTHVCfxmnnzBNG7xETB\n"
    "SJAoBijZT5/F4GuHiq6qT/yCSL6/RMsC2KbinBG46ndcWiYRlkCB4vnuAp+PRI1u\n"
    "0IdCbDlLsmKQs8SKUp3bBur5MOe3IOx2mienuKRLEmnh5tH33bSZUP4ETX54PO7J\n"
    "QIXJXVAsZsOcpo9QJN6EZQ==\n"
    "-----END PRIVATE KEY-----\n";

static const char client_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDBjCCAe6gAwIBAgIBAjANBgkqhkiG9w0BAQsFADAWMRQwEgYDVQQDDAtTQ0VQ\n"
    "IFNJR05FUjAgFw0yNjExMjMxOTM3MThaGA8yMTI2MTAzMDE5MzcxOFowFjEUMBIG\n"
    "A1UEAwwLU0NFUCBTSUdORVIwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIB\n"
    "AQCunlowkPmeC45gH1E3iWzehfraFSQM/CEyY2iPaoYAsh0LqvdQnegzRiWuRn4b\n"
    "+nBvmJTbUsRW1wCWjQgd67yW1ZZecxNZK0A117+m6buWsMIa3sOMtW9oFyCiuFKS\n"
    "eou4Oh52cTcHlWOo9z3c4gYfYQ2nERLucVdTKzka3YB3QRp+loVf2LuX4bK4Zpa+\n"
    "qu8w4X1aIOmSBNFgE3booxr1T/eow3gueame3cphbiC9CrWrIcMbfZRCFAaFOesb\n"
    "pKxQEKRsGN2+gwXiJGnHYcROYlGNkf3jCICq9k70ahSp7gTktyiA0kjskv+mMOSI\n"
    "s2hN+DnyOsPus0t03KX+wpzhAgMBAAGjXTBbMB0GA1UdDgQWBBTpeS+yQ9gE+30N\n"
    "yC2KJRYmeO09yDAfBgNVHSMEGDAWgBTpeS+yQ9gE+30NyC2KJRYmeO09yDAJBgNV\n"
    "HRMEAjAAMA4GA1UdDwEB/wQEAwIFoDANBgkqhkiG9w0BAQsFAAOCAQEALU038E6G\n"
    "2xFcAYaGHYjURu7EA1xNniVs9yC6jkvPMbt2jfiK1sDUl6jQVPRgurGe8TLsB8tp\n"
    "wtyJdszg/9bo0KNyhHzOhiJ1IIEI5A7+pdTs3Db0qixyL0S2dTj4QGZasegn10V0\n"
    "Nb2SKvOoIRCsRZ7u/VN5SeIL4vgMOxqgch5DKzT6HcCbGSvtkEPHWr/X+V6xFuJI\n"
    "YOpYR9hgA/A1bN0Y4PI/GWDIPfIcOqc4HRHxGkK3OFEw0ngpyFWnL2HnMCDgKIAB\n"
    "NZcO3WYnP0RyCeqlzTyc7JrXIirMyMhzCFSxxhTbM+Zu3HSxmWvVLYi6R4VCS0px\n"
    "4ndzgk4PPEiiKA==\n"
    "-----END CERTIFICATE-----\n";

static scep_ctx *client_ctx, *legacy_ctx;
static STACK_OF(X509) * trusted;
static scep_recipient client;

static X509 *read_cert(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return cert;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    scep_ctx_options opts = {.allow_legacy = 0}, legacy = {.allow_legacy = 1};
    BIO *key = BIO_new_mem_buf(client_key_pem, -1);
    client.key = PEM_read_bio_PrivateKey(key, NULL, NULL, NULL);
    BIO_free(key);
    client.cert = read_cert(client_cert_pem);
    trusted = sk_X509_new_null();
    X509 *ca = read_cert(fuzz_ca_cert_pem);
    if (client.key == NULL || client.cert == NULL || ca == NULL || trusted == NULL ||
        !sk_X509_push(trusted, ca) || scep_ctx_new(&opts, &client_ctx) != SCEP_OK ||
        scep_ctx_new(&legacy, &legacy_ctx) != SCEP_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    scep_open_options open_opts = {.trusted_signers = trusted};
    scep_decrypt_options decrypt = {.recipients = &client, .n_recipients = 1};
    /* Odd-sized inputs in OpenSSL's default context (RSA signer certificates without a decoder
     * chain), the others with legacy algorithms on. */
    scep_ctx *ctx = (size & 1) ? client_ctx : legacy_ctx;
    scep_msg *msg = NULL;
    if (scep_msg_decode(ctx, data, size, &open_opts, &decrypt, &msg, NULL) == SCEP_OK)
        scep_msg_free(msg);
    return 0;
}
