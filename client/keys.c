#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "files.h"

static EVP_PKEY *generate(const char *spec)
{
    if (!strcmp(spec, "rsa:2048") || !strcmp(spec, "rsa:3072") || !strcmp(spec, "rsa:4096"))
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)strtoul(spec + 4, NULL, 10));
    if (!strcmp(spec, "ec:P-256") || !strcmp(spec, "ec:P-384"))
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", spec + 3);
    return NULL;
}

EVP_PKEY *keys_load_or_generate(const char *path, const char *spec, int *generated, char *err,
                                size_t errlen)
{
    *generated = 0;
    if (files_exists(path))
        return files_read_key(path, err, errlen);
    EVP_PKEY *key = generate(spec ? spec : "rsa:2048");
    if (key == NULL) {
        snprintf(err, errlen, "unknown key type '%s' (rsa:2048, rsa:3072, rsa:4096, ec:P-256)",
                 spec);
        return NULL;
    }
    if (files_write_key(path, key, err, errlen) != 0) {
        EVP_PKEY_free(key);
        return NULL;
    }
    *generated = 1;
    return key;
}

int keys_usage_mask(const char *text)
{
    if (text == NULL)
        return 0;
    if (!strcmp(text, "sign"))
        return KU_DIGITAL_SIGNATURE;
    if (!strcmp(text, "encrypt"))
        return KU_KEY_ENCIPHERMENT;
    if (!strcmp(text, "both"))
        return KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT;
    return -1;
}

int keys_read_challenge(const char *path, char *buf, size_t buflen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int ok = fgets(buf, (int)buflen, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\r\n")] = '\0';
    return ok && buf[0] != '\0' ? 0 : -1;
}
