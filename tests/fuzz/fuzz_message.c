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

#include "keys.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static scep_ctx *server_ctx, *legacy_ctx;
static scep_recipient ca;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    scep_ctx_options opts = {.allow_legacy = 0}, legacy = {.allow_legacy = 1};
    BIO *key = BIO_new_mem_buf(fuzz_ca_key_pem, -1);
    BIO *cert = BIO_new_mem_buf(fuzz_ca_cert_pem, -1);
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
