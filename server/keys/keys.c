/* The key seam's front: the backend for a key's URI. */
#include <stdio.h>

#include "keys/keys.h"

keystore *keys_open(const char *uri, char *err, size_t errlen)
{
    /* pkcs11: URIs, and the reference files that hold one, are the token's; paths, file: and
     * every other URI OSSL_STORE opens (a provider's) are the file backend's. */
    if (keys_is_token_ref(uri))
        return keys_pkcs11_new(uri, err, errlen);
    keystore *ks = keys_file_new();
    if (ks == NULL)
        snprintf(err, errlen, "%s: out of memory", uri);
    return ks;
}
