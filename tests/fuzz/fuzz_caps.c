/* libFuzzer: GetCACaps text. Whatever parses must format and parse back to the same mask,
 * and negotiation must only pick algorithms the context allows. */
#include <stdint.h>
#include <stdlib.h>

#include "scep/scep.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static scep_ctx *strict_ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (scep_ctx_new(NULL, &strict_ctx) != SCEP_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    scep_caps caps = 0, again = 0;
    char *text = NULL;
    size_t len = 0;
    if (scep_caps_parse((const char *)data, size, &caps) != SCEP_OK)
        return 0;
    if (scep_caps_format(caps, &text, &len) != SCEP_OK ||
        scep_caps_parse(text, len, &again) != SCEP_OK || again != caps)
        abort();
    free(text);
    scep_negotiated n;
    if (scep_caps_negotiate(strict_ctx, caps, &n) == SCEP_OK &&
        (!scep_cipher_allowed(strict_ctx, n.cipher) || !scep_digest_allowed(strict_ctx, n.digest)))
        abort();
    return 0;
}
