/* The PKCS#11 backend of the key seam, through libp11: its keys are EVP_PKEYs whose private
 * operations run in the token, which OpenSSL's CMS, X509_sign and CRL code take as they are.
 * In the CA directory a key is a reference file: one line, the key's pkcs11: URI (token,
 * object, id), so that a rollover's moves are renames as with key files. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "keys/keys.h"
#include "keys/pkcs11_keygen.h"
#include "keys/pkcs11_token.h"
#include "keys/pkcs11_uri.h"
#include "os/file_atomic.h"

#define REF_MAX 2048

typedef struct p11_store {
    keystore base;
    p11_uri uri;        /* the key the store was opened for: its token makes new keys */
    char text[REF_MAX]; /* that URI as written, for messages */
} p11_store;

/* The first line of the regular file at path (at most len - 1 bytes) into buf; "" when path
 * is no regular file or cannot be read (a FIFO is never waited on). */
static void read_ref(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    struct stat sb;
    ssize_t n = fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? read(fd, buf, len - 1) : 0;
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
}

/* The URI of uri, or of the reference file at uri, into text and *u. 0, or -1. */
static int resolve(const char *uri, p11_uri *u, char *text, size_t len, char *err, size_t errlen)
{
    if (p11_uri_is(uri)) {
        snprintf(text, len, "%s", uri);
    } else {
        read_ref(uri, text, len);
        if (!p11_uri_is(text)) {
            snprintf(err, errlen, "%s: not a token key reference (a pkcs11: URI)", uri);
            return -1;
        }
    }
    char why[200];
    if (p11_uri_parse(text, u, why, sizeof(why)) == 0)
        return 0;
    snprintf(err, errlen, "%s: %s", text, why);
    return -1;
}

static int matches(const PKCS11_KEY *k, const p11_uri *u)
{
    return k->isPrivate &&
           (u->object[0] == '\0' || (k->label && strcmp(k->label, u->object) == 0)) &&
           (u->id_len == 0 || (k->id_len == u->id_len && memcmp(k->id, u->id, u->id_len) == 0));
}

/* How many private keys of t match u, the first in *found. The caller holds p11_lock. */
static unsigned lookup(p11_token *t, const p11_uri *u, PKCS11_KEY **found)
{
    PKCS11_KEY *keys = NULL;
    unsigned n = 0, hits = 0;
    *found = NULL;
    if (PKCS11_enumerate_keys(t->slot->token, &keys, &n) != 0)
        n = 0;
    for (unsigned i = 0; i < n; i++)
        if (matches(&keys[i], u) && hits++ == 0)
            *found = &keys[i];
    return hits;
}

/* Whether t holds a private key that u names. */
static int holds(p11_token *t, const p11_uri *u)
{
    PKCS11_KEY *found;
    p11_lock();
    unsigned hits = lookup(t, u, &found);
    p11_unlock();
    ERR_clear_error();
    return hits > 0;
}

/* The private key u names in t; its id into u when u named none. NULL with a reason. */
static EVP_PKEY *find_key(p11_token *t, p11_uri *u, char *err, size_t errlen)
{
    PKCS11_KEY *found;
    EVP_PKEY *pkey = NULL;
    p11_lock();
    unsigned hits = lookup(t, u, &found);
    if (hits == 1 && (pkey = PKCS11_get_private_key(found)) != NULL && u->id_len == 0 &&
        found->id_len <= sizeof(u->id)) {
        memcpy(u->id, found->id, found->id_len);
        u->id_len = found->id_len;
    }
    p11_unlock();
    if (hits > 1)
        snprintf(err, errlen, "%u private keys in token '%s' match: add id= to the URI", hits,
                 t->label);
    else if (pkey == NULL)
        snprintf(err, errlen, "no such private key in token '%s'", t->label);
    ERR_clear_error();
    return pkey;
}

/* The key u names, with errors prefixed by text. */
static EVP_PKEY *open_uri(p11_uri *u, const char *text, char *err, size_t errlen)
{
    char why[400] = "";
    p11_token *t = p11_token_open(u, why, sizeof(why));
    EVP_PKEY *pkey = t ? find_key(t, u, why, sizeof(why)) : NULL;
    if (pkey == NULL)
        snprintf(err, errlen, "%s: %s", text, why);
    return pkey;
}

static private_key *p11_open(keystore *ks, const char *uri, const char *pin, char *err,
                             size_t errlen)
{
    (void)ks, (void)pin; /* the PIN is the token's: pin-source or pkcs11_pin_file */
    p11_uri u;
    char text[REF_MAX];
    if (resolve(uri, &u, text, sizeof(text), err, errlen) != 0)
        return NULL;
    EVP_PKEY *pkey = open_uri(&u, text, err, errlen);
    return pkey ? keys_pkey_key(pkey) : NULL;
}

/* Writes the reference to the key of u at where (0600, never over a file). */
static int write_ref(const p11_uri *u, const char *where, char *err, size_t errlen)
{
    char line[REF_MAX];
    if (p11_uri_format(u, line, sizeof(line) - 1) != 0) {
        snprintf(err, errlen, "%s: the key's URI is too long", where);
        return -1;
    }
    size_t n = strlen(line);
    line[n++] = '\n';
    return file_write_atomic(where, line, n, 0600, FILE_KEEP, err, errlen);
}

/* The label of a key made for where: the store's key's label up to '#', '#', where's name. */
static void new_label(const p11_store *s, const char *where, const unsigned char *id, char *out,
                      size_t len)
{
    const char *name = strrchr(where, '/') ? strrchr(where, '/') + 1 : where;
    size_t stem = strlen(name);
    if (stem > 4 && strcmp(name + stem - 4, ".key") == 0)
        stem -= 4;
    int root = (int)strcspn(s->uri.object, "#");
    snprintf(out, len, "%.*s#%.*s-%02x%02x%02x%02x", root > 48 ? 48 : root, s->uri.object,
             (int)(stem > 32 ? 32 : stem), name, id[0], id[1], id[2], id[3]);
}

/* Makes the key of u (its object and id set) in t. */
static EVP_PKEY *make_key(p11_token *t, p11_uri *u, const char *spec, char *err, size_t errlen)
{
    char why[400];
    if (p11_keygen(t->module, PKCS11_get_slotid_from_slot(t->slot), spec, u->object, u->id,
                   u->id_len, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "token '%s': %s", t->label, why);
        return NULL;
    }
    return find_key(t, u, err, errlen);
}

static private_key *p11_generate(keystore *ks, const char *spec, const char *where, const char *pin,
                                 char *err, size_t errlen)
{
    (void)pin;
    p11_store *s = (p11_store *)ks;
    char why[400] = "";
    p11_token *t = p11_token_open(&s->uri, why, sizeof(why));
    p11_uri u = s->uri;
    if (t == NULL) {
        snprintf(err, errlen, "%s: %s", s->text, why);
        return NULL;
    }
    u.module[0] = u.pin_file[0] = '\0';
    snprintf(u.token, sizeof(u.token), "%s", t->label);
    if (where != NULL || u.id_len == 0) {
        u.id_len = 16;
        if (RAND_bytes(u.id, (int)u.id_len) != 1) {
            snprintf(err, errlen, "%s: no random bytes for the new key's id", s->text);
            return NULL;
        }
    }
    if (where != NULL)
        new_label(s, where, u.id, u.object, sizeof(u.object));
    else if (u.object[0] == '\0') {
        snprintf(err, errlen, "%s: name the new key with object=", s->text);
        return NULL;
    } else {
        p11_uri same = s->uri;
        same.id_len = 0;
        if (holds(t, &same)) {
            snprintf(err, errlen,
                     "%s: the token already holds a key labelled '%s' (use it with "
                     "--import-ca CERT URI, or choose another object=)",
                     s->text, u.object);
            return NULL;
        }
    }
    EVP_PKEY *pkey = make_key(t, &u, spec, err, errlen);
    if (pkey != NULL && where != NULL && write_ref(&u, where, err, errlen) != 0) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey ? keys_pkey_key(pkey) : NULL;
}

static int p11_save(keystore *ks, EVP_PKEY *pkey, const char *where, const char *pin, char *err,
                    size_t errlen)
{
    (void)pin;
    p11_store *s = (p11_store *)ks;
    p11_uri u = s->uri;
    EVP_PKEY *own = open_uri(&u, s->text, err, errlen);
    int same = own != NULL && EVP_PKEY_eq(own, pkey) == 1;
    EVP_PKEY_free(own);
    if (own != NULL && !same)
        snprintf(err, errlen, "%s: not the key to keep (a key is never moved into a token)",
                 s->text);
    if (!same)
        return -1;
    u.module[0] = u.pin_file[0] = '\0';
    return write_ref(&u, where, err, errlen);
}

static int p11_move(keystore *ks, const char *from, const char *to, char *err, size_t errlen)
{
    (void)ks;
    if (p11_uri_is(from) || p11_uri_is(to)) {
        snprintf(err, errlen,
                 "%s names a token key directly: a rollover moves key reference files (as "
                 "`scepd init --key-uri` writes them), so name one in ca_key and ra_key",
                 p11_uri_is(from) ? from : to);
        return -1;
    }
    return file_move_durable(from, to, err, errlen);
}

static void p11_destroy(keystore *ks)
{
    OPENSSL_free(ks);
}

int keys_is_token_ref(const char *uri)
{
    if (p11_uri_is(uri))
        return 1;
    char head[8];
    read_ref(uri, head, sizeof(head));
    return p11_uri_is(head);
}

keystore *keys_pkcs11_new(const char *uri, char *err, size_t errlen)
{
    p11_store *s = OPENSSL_zalloc(sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "%s: out of memory", uri);
        return NULL;
    }
    s->base = (keystore){p11_open, p11_generate, p11_save, p11_move, p11_destroy};
    if (resolve(uri, &s->uri, s->text, sizeof(s->text), err, errlen) != 0) {
        OPENSSL_free(s);
        return NULL;
    }
    return &s->base;
}
