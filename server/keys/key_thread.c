/*
 * Each thread's own copy of a private key held in memory. OpenSSL 3.0 keeps one blinding
 * value per RSA key for the thread that used it first; every other thread takes the key's
 * write lock and a shared blinding value under a second lock for each private-key operation,
 * so workers sharing the CA key queue on it. A copy per thread has its own.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core.h>
#include <openssl/provider.h>

#include "keys/keys.h"

/* Keys a worker uses at once: the CA's and the RA's of three generations, and a reload's. */
#define KEYS_PER_THREAD 8

typedef struct thread_key {
    EVP_PKEY *shared; /* referenced: the address cannot be another key's while cached */
    EVP_PKEY *copy;
    unsigned long last_use;
} thread_key;

typedef struct thread_keys {
    thread_key slot[KEYS_PER_THREAD];
    unsigned long uses;
} thread_keys;

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_ok;

static void slot_clear(thread_key *t)
{
    EVP_PKEY_free(t->copy);
    EVP_PKEY_free(t->shared);
    memset(t, 0, sizeof(*t));
}

static void thread_keys_free(void *arg)
{
    thread_keys *keys = arg;
    for (int i = 0; i < KEYS_PER_THREAD; i++)
        slot_clear(&keys->slot[i]);
    OPENSSL_free(keys);
}

static void tls_init(void)
{
    tls_ok = pthread_key_create(&tls_key, thread_keys_free) == 0;
}

/* Only RSA keys of OpenSSL's default provider are copied: a token's key (a provider or an
 * engine of its own) stays where it is, and other types have no shared blinding. */
static int worth_copying(EVP_PKEY *key)
{
    if (!EVP_PKEY_is_a(key, "RSA"))
        return 0;
    const OSSL_PROVIDER *prov = EVP_PKEY_get0_provider(key);
    const char *name = prov != NULL ? OSSL_PROVIDER_get0_name(prov) : NULL;
    return name != NULL && strcmp(name, "default") == 0;
}

static thread_keys *this_thread(void)
{
    pthread_once(&tls_once, tls_init);
    if (!tls_ok)
        return NULL;
    thread_keys *keys = pthread_getspecific(tls_key);
    if (keys == NULL) {
        keys = OPENSSL_zalloc(sizeof(*keys));
        if (keys != NULL && pthread_setspecific(tls_key, keys) != 0) {
            OPENSSL_free(keys);
            keys = NULL;
        }
    }
    return keys;
}

/* The slot to reuse: an empty one, else the least recently used. */
static thread_key *free_slot(thread_keys *keys)
{
    thread_key *oldest = &keys->slot[0];
    for (int i = 0; i < KEYS_PER_THREAD; i++) {
        if (keys->slot[i].shared == NULL)
            return &keys->slot[i];
        if (keys->slot[i].last_use < oldest->last_use)
            oldest = &keys->slot[i];
    }
    slot_clear(oldest);
    return oldest;
}

EVP_PKEY *key_for_thread(EVP_PKEY *shared)
{
    if (shared == NULL || !worth_copying(shared))
        return shared;
    thread_keys *keys = this_thread();
    if (keys == NULL)
        return shared;
    keys->uses++;
    for (int i = 0; i < KEYS_PER_THREAD; i++) {
        if (keys->slot[i].shared == shared) {
            keys->slot[i].last_use = keys->uses;
            return keys->slot[i].copy;
        }
    }
    EVP_PKEY *copy = EVP_PKEY_dup(shared);
    if (copy == NULL || EVP_PKEY_up_ref(shared) != 1) {
        EVP_PKEY_free(copy);
        return shared;
    }
    thread_key *t = free_slot(keys);
    *t = (thread_key){.shared = shared, .copy = copy, .last_use = keys->uses};
    return copy;
}

void key_thread_release(void)
{
    pthread_once(&tls_once, tls_init);
    thread_keys *keys = tls_ok ? pthread_getspecific(tls_key) : NULL;
    if (keys == NULL)
        return;
    pthread_setspecific(tls_key, NULL);
    thread_keys_free(keys);
}
