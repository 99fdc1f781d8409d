/* The file backend of the key seam: keys in PEM files (PKCS#8, encrypted with the passphrase
 * when one is set), opened through OSSL_STORE so that any URI it knows works like a path. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/store.h>
#include <openssl/ui.h>

#include "keys/keys.h"
#include "os/file_atomic.h"

/* The passphrase a store may ask for (NULL: none), and whether it asked. */
typedef struct pass_ask {
    const char *pass;
    int asked;
} pass_ask;

static int give_pass(char *buf, int size, int rwflag, void *arg)
{
    (void)rwflag;
    pass_ask *p = arg;
    p->asked = 1;
    size_t n = p->pass ? strlen(p->pass) : 0;
    if (p->pass == NULL || size < 0 || n > (size_t)size)
        return -1; /* never a prompt on the terminal */
    memcpy(buf, p->pass, n);
    return (int)n;
}

/* The first private key at uri, or NULL. */
static EVP_PKEY *first_key(const char *uri, pass_ask *ask)
{
    UI_METHOD *ui = UI_UTIL_wrap_read_pem_callback(give_pass, 0);
    OSSL_STORE_CTX *st = ui ? OSSL_STORE_open(uri, ui, ask, NULL, NULL) : NULL;
    EVP_PKEY *pkey = NULL;
    while (st != NULL && pkey == NULL && !OSSL_STORE_eof(st)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(st);
        if (info == NULL)
            break;
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            pkey = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(st);
    UI_destroy_method(ui);
    return pkey;
}

static void load_error(const char *uri, const pass_ask *ask, char *err, size_t errlen)
{
    unsigned long e = ERR_peek_last_error();
    char reason[160] = "";
    if (e != 0)
        ERR_error_string_n(e, reason, sizeof(reason));
    if (ask->asked && ask->pass == NULL)
        snprintf(err, errlen,
                 "%s: the key is encrypted: name its passphrase file "
                 "(ca_key_pass_file, or --key-pass-file)",
                 uri);
    else if (ask->asked)
        snprintf(err, errlen, "%s: wrong passphrase", uri);
    else
        snprintf(err, errlen, "cannot load a private key from %s%s%s", uri, e ? ": " : "", reason);
    ERR_clear_error();
}

static private_key *file_open(keystore *ks, const char *uri, const char *pin, char *err,
                              size_t errlen)
{
    (void)ks;
    if (file_unreadable(uri, err, errlen))
        return NULL;
    pass_ask ask = {pin && pin[0] ? pin : NULL, 0};
    EVP_PKEY *pkey = first_key(uri, &ask);
    if (pkey != NULL)
        return keys_pkey_key(pkey);
    load_error(uri, &ask, err, errlen);
    return NULL;
}

static int file_save(keystore *ks, EVP_PKEY *pkey, const char *where, const char *pin, char *err,
                     size_t errlen)
{
    (void)ks;
    BIO *mem = BIO_new(BIO_s_secmem()); /* wiped as it grows */
    int ok = mem != NULL &&
             (pin != NULL ? PEM_write_bio_PKCS8PrivateKey(mem, pkey, EVP_aes_256_cbc(), pin,
                                                          (int)strlen(pin), NULL, NULL) == 1
                          : PEM_write_bio_PrivateKey(mem, pkey, NULL, NULL, 0, NULL, NULL) == 1);
    char *data = NULL;
    long len = ok ? BIO_get_mem_data(mem, &data) : 0;
    int rc = -1;
    if (len <= 0)
        snprintf(err, errlen, "%s: cannot write the key", where);
    else
        rc = file_write_atomic(where, data, (size_t)len, 0600, FILE_KEEP, err, errlen);
    if (len > 0)
        OPENSSL_cleanse(data, (size_t)len);
    BIO_free(mem);
    return rc;
}

static private_key *file_generate(keystore *ks, const char *spec, const char *where,
                                  const char *pin, char *err, size_t errlen)
{
    EVP_PKEY *pkey = keys_new_pkey(spec);
    if (pkey == NULL) {
        snprintf(err, errlen, "cannot make a %s key", spec);
        return NULL;
    }
    if (file_save(ks, pkey, where, pin, err, errlen) != 0) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return keys_pkey_key(pkey);
}

static int file_move(keystore *ks, const char *from, const char *to, char *err, size_t errlen)
{
    (void)ks;
    return file_move_durable(from, to, err, errlen);
}

static void file_destroy(keystore *ks)
{
    OPENSSL_free(ks);
}

keystore *keys_file_new(void)
{
    keystore *ks = OPENSSL_zalloc(sizeof(*ks));
    if (ks == NULL)
        return NULL;
    *ks = (keystore){file_open, file_generate, file_save, file_move, file_destroy};
    return ks;
}
