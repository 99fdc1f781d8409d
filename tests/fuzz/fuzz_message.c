/* libFuzzer: a pkiMessage as a server decodes it. Any signer whose signature verifies is
 * accepted (a server applies its own policy afterwards), and the envelope opens with a fixed CA
 * key, so that seeds encrypted to the certificate below reach decryption and the payload
 * parsers. Half the inputs are decoded with legacy algorithms on, so that DES and MD5 inputs get
 * that far too; the other half in OpenSSL's default context, as scepd does by default, where
 * RSA signer certificates take libscep's path without a decoder chain. */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/pem.h>

#include "scep/scep.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A key made for the fuzzers only (CN=Fuzz CA); tests/fuzz/corpus/message is encrypted to it. */
static const char ca_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCkDTvf4FvyeiUH\n"
    "6drG0AzAXC3KlGudWMHafkFCMLupH6McwhAZeFt0NYZUHxv3IbyPPeCiOnNLphPm\n"
    "xuzRQLBK62dBfVk+X/eCXMbplJcPXE//IBcearC3e5Z/uBf9nYzelMGSNxIZH69m\n"
    "ZQTBa7P4Ke/MszhU8hUBNdE8idxnbiUtcZf+jSZGhB7dzKGO6iRAOQ0xlkMyRc6b\n"
    "wZQ9QPjtDvgEPgk+rDUqlaU3kkwnvhmbf49GyNaSx7GoVGoti/XHYAo8IWQGtuOC\n"
    "+GA/Q1oMT+xzqbZWI3Zf9DQ0CWLy/oWiZ4VA83KS3LSvV+ZBnayUeUIsrg9JWZlB\n"
    "F1hr9nxnAgMBAAECggEADSyDjeIM+txZ2UMAzsK0phqLkiniuHMrt2Q4e7HBKCmC\n"
    "Zj6j9KpTIce4k/ce6PTHGR5SydmgGkeUb+MH78feQFibZUlvyhACfBqqMztmTr/5\n"
    "gUHY9BgvkmnKIf3Xw1s3DZrBhACIeLGwMAIAZJibDlyDxXBGSkqvFXahE6z4dj+5\n"
    "BIXPV8/4/NuxVnf+5WCXnjJSL5wylOPpTMZ6J4Xt3pufo05vri/+vbxRGzkwlq4J\n"
    "DK/ietFffqzi8H5VV9Iox/yBhRoCaQedN1fbBVRuDOqe1Ov8khUwG+ckGHa55rnj\n"
    "gBgQC3kNxCXBPSpqvR/xZrsCMOv9Cl1LKlcnL1YcVQKBgQDSi5Ke5T4ltdfaPUwm\n"
    "nN+2RIy0gwNOixh6lwxnvmyEqISWFbpYrK9aSogdCYGlv2HQi2Uf/t4xVQvgfS2r\n"
    "/pks+EOrOuFco12FCehHoC6uvYT6XQKA0m/X/SqoWpw0ZQXMMPMRWDKSTOHJCARr\n"
    "UWI5k+12CX0oBbz20hItUHifcwKBgQDHeA3z1udWZVTSn839yPyTH8sq3yZVqs82\n"
    "ATM2E/1V8fQD3ArtD1cdk+6N1je0CsomkoKesJyQ/LIVN8TffxAzSiGXgbDGT1j3\n"
    "yiOf9idzgWnoMhi9/se5Jr3W8N97tnoi3Iwo07XlO7cogoc3egVZTVVcke0a35Xp\n"
    "humo14oKPQKBgCPZfhquH/ndz6YqX8gHWBQ58ddeo3aBOqbNB2C2zNV9uC2x/2vP\n"
    "43+1Rx3im3+0aZxPz+U1yXGO8JnF1rv9eulsUGFcgjj63BamDDX98VTxki3rHlz+\n"
    "9+pIAjZuT0Cgnu8YupqOcPX2P0+ynMYFMntpU7qQfQ4OhBFmzY+HrzI/AoGACRUG\n"
    "TZvzXJOwkQaFspB8L5a7AXC3ph7o4GSdmFDAsDEcEzDprnGMXeRmcD7YunHjUm5J\n"
    "VEBmYJOg6CZp6GM4sZ0memeFTQI/4shpZtcmZLP3xoLBbaU0ItIIwsik5FUiqoOw\n"
    "PgultJJLfKS002nS5IYI5PYf/aFAiimCahWmS2ECgYEArtUcUSre6t9mkt5IizVB\n"
    "Q77xSxbhQATBoKtuhNsVjC8qOdsVRkLlHp5UNEGvLteVfhokzsJ++mohwCemFcMh\n"
    "G0endTy5JWjHGM3iLmrlEIymPHgOZm21QkO7wbxmGfM9dAg8Q9s5HE/rezGvrdy9\n"
    "bBpt3z5VokrwH80Fcu1KeO4=\n"
    "-----END PRIVATE KEY-----\n";

static const char ca_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDBDCCAeygAwIBAgIBATANBgkqhkiG9w0BAQsFADASMRAwDgYDVQQDDAdGdXp6\n"
    "IENBMCAXDTI2MTEyMzE5MzcxN1oYDzIxMjYxMDMwMTkzNzE3WjASMRAwDgYDVQQD\n"
    "DAdGdXp6IENBMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApA073+Bb\n"
    "8nolB+naxtAMwFwtypRrnVjB2n5BQjC7qR+jHMIQGXhbdDWGVB8b9yG8jz3gojpz\n"
    "S6YT5sbs0UCwSutnQX1ZPl/3glzG6ZSXD1xP/yAXHmqwt3uWf7gX/Z2M3pTBkjcS\n"
    "GR+vZmUEwWuz+CnvzLM4VPIVATXRPIncZ24lLXGX/o0mRoQe3cyhjuokQDkNMZZD\n"
    "MkXOm8GUPUD47Q74BD4JPqw1KpWlN5JMJ74Zm3+PRsjWksexqFRqLYv1x2AKPCFk\n"
    "BrbjgvhgP0NaDE/sc6m2ViN2X/Q0NAli8v6FomeFQPNykty0r1fmQZ2slHlCLK4P\n"
    "SVmZQRdYa/Z8ZwIDAQABo2MwYTAdBgNVHQ4EFgQUxZkotEJeyYa/7DpNNs+jyLgN\n"
    "E34wHwYDVR0jBBgwFoAUxZkotEJeyYa/7DpNNs+jyLgNE34wDwYDVR0TAQH/BAUw\n"
    "AwEB/zAOBgNVHQ8BAf8EBAMCAaYwDQYJKoZIhvcNAQELBQADggEBAHB2ioLZlhh+\n"
    "zL0WmYzYyMVhHR0WjQidbZsLu7k9vNYKvp84L1CpSENVVu+9mSAe+BI326lANrC8\n"
    "4/Cqy7TTc562U6aZgJB7dn8filVQ7khUGL4iY5rlTj20GaSsde+aF7B312mAMvii\n"
    "CjDyQdrHnhnANn6d9Yfp20D8dEkRUuEMqD3DZ3e78IZ6AnG5tUGoFXwwpVo96+8B\n"
    "HM5Rj17uDAShWyWwY3uo8XM/bACCt/DPHJ6EgOm15kFhxuw0+jokQGH/AyBg6cug\n"
    "rCRhbzr/PYcuZw3eJvwbWNbY09JxxcbYsWU0yLMzUb1LHTYXo+Q+SbNLUDxMI9IR\n"
    "5vWbdu2jy5A=\n"
    "-----END CERTIFICATE-----\n";

static scep_ctx *server_ctx, *legacy_ctx;
static scep_recipient ca;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    scep_ctx_options opts = {.allow_legacy = 0}, legacy = {.allow_legacy = 1};
    BIO *key = BIO_new_mem_buf(ca_key_pem, -1);
    BIO *cert = BIO_new_mem_buf(ca_cert_pem, -1);
    ca.key = PEM_read_bio_PrivateKey(key, NULL, NULL, NULL);
    ca.cert = PEM_read_bio_X509(cert, NULL, NULL, NULL);
    BIO_free(key);
    BIO_free(cert);
    if (ca.key == NULL || ca.cert == NULL || scep_ctx_new(&opts, &server_ctx) != SCEP_OK ||
        scep_ctx_new(&legacy, &legacy_ctx) != SCEP_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Odd-sized inputs take scepd's path (CSR parsed without its own key object); the next bit
     * of the size picks the context. */
    scep_decrypt_options decrypt = {
        .recipients = &ca, .n_recipients = 1, .csr_key_from_signer = (int)(size & 1)};
    scep_ctx *ctx = (size & 2) ? legacy_ctx : server_ctx;
    scep_msg *msg = NULL;
    if (scep_msg_decode(ctx, data, size, NULL, &decrypt, &msg, NULL) == SCEP_OK)
        scep_msg_free(msg);
    return 0;
}
