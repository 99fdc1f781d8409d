/* The key seam: every private key of scepd (the CA's, the RA's, their generations) is opened,
 * made and moved through this interface, so that a key on a token (PKCS#11) or in another
 * process plugs in behind it. Backends: files (keys_file.c) and PKCS#11 tokens (keys_pkcs11.c). */
#ifndef SCEPD_KEYS_H
#define SCEPD_KEYS_H

#include <stddef.h>

#include <openssl/evp.h>

/* What a key can do. */
typedef struct key_caps {
    int sign;        /* signatures: CMS SignerInfos, certificates, CRLs */
    int rsa_decrypt; /* RSA key transport: clients encrypt their content key to it */
    char type[16];   /* "RSA", "EC", ... as OpenSSL names the type */
    int bits;
} key_caps;

/* One private key. Not thread-safe; the EVP_PKEY it hands out is (OpenSSL's rules). */
typedef struct private_key private_key;
typedef struct private_key_ops {
    /* Signs data hashed with digest ("SHA256"; NULL for a type that hashes itself) into *sig
     * (caller frees with OPENSSL_free). 0, or -1. */
    int (*sign)(private_key *k, const char *digest, const unsigned char *data, size_t len,
                unsigned char **sig, size_t *siglen);
    /* The same for a digest the caller computed with digest (RSA: PKCS#1 v1.5). */
    int (*sign_digest)(private_key *k, const char *digest, const unsigned char *md, size_t mdlen,
                       unsigned char **sig, size_t *siglen);
    /* Decrypts an RSA PKCS#1 v1.5 ciphertext (a KeyTransRecipientInfo's encryptedKey) into
     * *out (caller frees with OPENSSL_clear_free(*out, *outlen)). 0, or -1. */
    int (*decrypt)(private_key *k, const unsigned char *in, size_t inlen, unsigned char **out,
                   size_t *outlen);
    /* The key as an EVP_PKEY for OpenSSL's CMS, X509_sign and CRL code (for a token, a
     * provider key): borrowed until destroy; EVP_PKEY_up_ref it to keep it longer. */
    EVP_PKEY *(*pkey)(private_key *k);
    void (*caps)(private_key *k, key_caps *out);
    void (*destroy)(private_key *k);
} private_key_ops;
struct private_key {
    const private_key_ops *ops;
};

/*
 * Where keys live: a backend, chosen by the URI of a key (keys_open). `pin` is the key's
 * passphrase or PIN (NULL: none; never a prompt on a terminal), which the caller reads from
 * its source (ca_key_pass_file) and wipes. Errors name the key's URI.
 */
typedef struct keystore keystore;
struct keystore {
    /* The key at uri. NULL with a reason: "wrong passphrase", "the key is encrypted: name its
     * passphrase file", or what the backend said. */
    private_key *(*open)(keystore *ks, const char *uri, const char *pin, char *err, size_t errlen);
    /* A new key of spec (keys_new_pkey), kept at where durably (files: a path that must not
     * exist yet, mode 0600, encrypted with pin unless NULL). The caller records where. */
    private_key *(*generate)(keystore *ks, const char *spec, const char *where, const char *pin,
                             char *err, size_t errlen);
    /* Keeps an existing key at where, as generate does (`scepd init`). 0, or -1. */
    int (*save)(keystore *ks, EVP_PKEY *pkey, const char *where, const char *pin, char *err,
                size_t errlen);
    /* The key at from is from now on the key at to (files: rename, then sync the directory):
     * how a prepared key becomes the current one and the current one the previous. Nothing at
     * from is no error. 0, or -1. */
    int (*move)(keystore *ks, const char *from, const char *to, char *err, size_t errlen);
    void (*destroy)(keystore *ks);
};

/* The backend that keeps the key at uri: files (a path or file: URI) and every other URI that
 * OSSL_STORE opens. Caller frees with ks->destroy. NULL with a reason. */
keystore *keys_open(const char *uri, char *err, size_t errlen);

/* The file backend (keys_file.c). */
keystore *keys_file_new(void);

/* The PKCS#11 backend (keys_pkcs11.c), for a pkcs11: URI or a reference file holding one (what
 * `scepd init --key-uri` writes for each key: the token keeps the key). */
keystore *keys_pkcs11_new(const char *uri, char *err, size_t errlen);
/* Whether uri is a pkcs11: URI or a file that holds one. */
int keys_is_token_ref(const char *uri);
/* The module (pkcs11_module) and PIN file (pkcs11_pin_file) for URIs that name neither
 * (module-path=, pin-source=); NULL or "": none. Before the first token key is opened. */
void keys_pkcs11_settings(const char *module, const char *pin_file);
/* Whether every token in use answers, its user logged in: after a failed operation, to tell a
 * token's failure (a 503) from a request's. 0; -1 with the reason (never the PIN) while a
 * token does not answer; 1 when one came back (logged in again with the PIN it was opened
 * with): its keys must be opened again (ca_load), and until then it counts as not answering. */
int keys_tokens_ready(char *why, size_t len);

/* A new key in memory: "rsa:2048", "rsa:3072", "rsa:4096", "ec:P-256", "ec:P-384". NULL when
 * spec is unknown. Caller frees with EVP_PKEY_free. */
EVP_PKEY *keys_new_pkey(const char *spec);
/* The spec of a key of the same kind as one with caps (RSA: 2048, 3072 or 4096 bits; EC: P-256
 * or P-384), for a successor. */
void keys_spec_like(const key_caps *caps, char *spec, size_t len);

/* A key over an EVP_PKEY, which it owns from now on (freed by destroy, also on failure): the
 * operations of every backend whose keys OpenSSL can use. NULL when out of memory. */
private_key *keys_pkey_key(EVP_PKEY *pkey);
/* What pkey can do. */
void keys_pkey_caps(const EVP_PKEY *pkey, key_caps *out);

/* This thread's own copy of shared, an in-memory RSA key (key_thread.c), so that threads
 * signing and decrypting with one key do not queue on its blinding lock; any other key (a
 * token's, EC) as it is. Borrowed: valid while the thread lives and shared is referenced by
 * the caller. Falls back to shared when no copy can be made. */
EVP_PKEY *key_for_thread(EVP_PKEY *shared);
/* Frees this thread's copies now (a thread that lives on but is done with its keys). */
void key_thread_release(void);

#endif
