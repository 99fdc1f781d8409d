/* The process's PKCS#11 modules and tokens: loaded once, logged in once, checked (and logged
 * in again) when an operation failed. */
#include "keys/pkcs11_token.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "keys/keys.h"
#include "keys/pkcs11_raw.h"
#include "os/file_secret.h"

#define MAX_TOKENS 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static p11_token tokens[MAX_TOKENS];
static size_t n_tokens;
/* The libp11 contexts and slot lists of tokens that went away: the keys of the authority
 * before the reload still point into them (the slots hold the keys). Kept until exit. */
static struct {
    PKCS11_CTX *ctx;
    PKCS11_SLOT *slots;
} retired[64];
static size_t n_retired;
static char set_module[P11_URI_PATH], set_pin_file[P11_URI_PATH];

void p11_lock(void)
{
    pthread_mutex_lock(&lock);
}

void p11_unlock(void)
{
    pthread_mutex_unlock(&lock);
}

void keys_pkcs11_settings(const char *module, const char *pin_file)
{
    p11_lock();
    snprintf(set_module, sizeof(set_module), "%s", module ? module : "");
    snprintf(set_pin_file, sizeof(set_pin_file), "%s", pin_file ? pin_file : "");
    p11_unlock();
}

const char *p11_last_ckr(void)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0 || ERR_GET_LIB(e) != ERR_get_CKR_code())
        return "";
    return p11_ckr_name((unsigned long)ERR_GET_REASON(e));
}

/* The slot of u's token among the module's slots, or NULL. */
static PKCS11_SLOT *find_slot(PKCS11_SLOT *slots, unsigned n, const p11_uri *u)
{
    for (unsigned i = 0; i < n; i++) {
        PKCS11_TOKEN *t = slots[i].token;
        if (t == NULL || !t->initialized)
            continue;
        if ((u->token[0] == '\0' || strcmp(t->label, u->token) == 0) &&
            (u->serial[0] == '\0' || strcmp(t->serialnr, u->serial) == 0))
            return &slots[i];
    }
    return NULL;
}

static int load_slot(p11_token *t, const p11_uri *u, char *err, size_t errlen)
{
    t->ctx = PKCS11_CTX_new();
    if (t->ctx == NULL || PKCS11_CTX_load(t->ctx, t->module) != 0) {
        snprintf(err, errlen, "cannot load the PKCS#11 module %s", t->module);
        return -1;
    }
    t->loaded = 1;
    if (PKCS11_enumerate_slots(t->ctx, &t->slots, &t->n_slots) != 0 ||
        (t->slot = find_slot(t->slots, t->n_slots, u)) == NULL) {
        snprintf(err, errlen, "no token%s%s%s in the PKCS#11 module %s",
                 u->token[0] ? " labelled '" : "", u->token, u->token[0] ? "'" : "", t->module);
        return -1;
    }
    snprintf(t->label, sizeof(t->label), "%s", t->slot->token->label);
    snprintf(t->serial, sizeof(t->serial), "%s", t->slot->token->serialnr);
    return 0;
}

static int login(p11_token *t, const char *pin_file, char *err, size_t errlen)
{
    if (!t->slot->token->loginRequired)
        return 0;
    if (pin_file[0] == '\0') {
        snprintf(err, errlen,
                 "token '%s' needs a PIN: set pkcs11_pin_file (or pin-source=file: in the URI)",
                 t->label);
        return -1;
    }
    if (file_read_secret("PIN file", pin_file, t->pin, sizeof(t->pin), err, errlen) != 0)
        return -1;
    /* The anchor after libp11's session: opening that one closes the token's others. */
    t->slot_id = PKCS11_get_slotid_from_slot(t->slot);
    if (PKCS11_open_session(t->slot, 0) == 0 && PKCS11_login(t->slot, 0, t->pin) == 0 &&
        p11_anchor_open(t->module, t->slot_id, &t->anchor) == 0) {
        t->anchor_open = 1;
        return 0;
    }
    const char *ckr = p11_last_ckr();
    snprintf(err, errlen, "token '%s' refused the PIN in %s%s%s", t->label, pin_file,
             ckr[0] ? ": " : "", ckr);
    OPENSSL_cleanse(t->pin, sizeof(t->pin));
    return -1;
}

/* Whether a token in use (other than t) is in t's module. */
static int module_in_use(const p11_token *t)
{
    for (size_t i = 0; i < n_tokens; i++)
        if (&tokens[i] != t && tokens[i].ctx != NULL && strcmp(tokens[i].module, t->module) == 0)
            return 1;
    return 0;
}

/* Undoes what a failed open did; the module stays initialised while a token in use needs it. */
static void forget(p11_token *t)
{
    if (t->anchor_open)
        p11_anchor_close(t->module, t->anchor);
    if (t->slots != NULL)
        PKCS11_release_all_slots(t->ctx, t->slots, t->n_slots);
    if (t->loaded && !module_in_use(t))
        PKCS11_CTX_unload(t->ctx);
    if (t->ctx != NULL)
        PKCS11_CTX_free(t->ctx);
    OPENSSL_cleanse(t->pin, sizeof(t->pin));
    memset(t, 0, sizeof(*t));
}

/* An open token of the same module and label, or NULL. */
static p11_token *known(const char *module, const p11_uri *u)
{
    for (size_t i = 0; i < n_tokens; i++)
        if (strcmp(tokens[i].module, module) == 0 &&
            (u->token[0] == '\0' || strcmp(tokens[i].label, u->token) == 0) &&
            (u->serial[0] == '\0' || strcmp(tokens[i].serial, u->serial) == 0))
            return &tokens[i];
    return NULL;
}

/* A token back after it went away: its old object handles are gone, so its keys open afresh
 * in a new libp11 context. The old one stays: the keys in use until the reload point into it. */
static p11_token *reopen(p11_token *t, const p11_uri *u, const char *pin_file, char *err,
                         size_t errlen)
{
    if (t->ctx != NULL) {
        if (n_retired == sizeof(retired) / sizeof(retired[0])) {
            snprintf(err, errlen, "token '%s' went away too often: restart scepd", t->label);
            return NULL;
        }
        retired[n_retired].ctx = t->ctx;
        retired[n_retired++].slots = t->slots;
    }
    t->ctx = NULL;
    t->slot = t->slots = NULL;
    t->n_slots = 0;
    t->loaded = 0;
    if (load_slot(t, u, err, errlen) == 0 && login(t, pin_file, err, errlen) == 0) {
        t->stale = 0;
        return t;
    }
    /* Still not there: the next open tries again. The module stays initialised. */
    if (t->slots != NULL)
        PKCS11_release_all_slots(t->ctx, t->slots, t->n_slots);
    if (t->ctx != NULL)
        PKCS11_CTX_free(t->ctx);
    t->ctx = NULL;
    t->slot = t->slots = NULL;
    return NULL;
}

static p11_token *open_locked(const p11_uri *u, char *err, size_t errlen)
{
    const char *module = u->module[0] ? u->module : set_module;
    const char *pin_file = u->pin_file[0] ? u->pin_file : set_pin_file;
    if (module[0] == '\0') {
        snprintf(err, errlen, "no PKCS#11 module: set pkcs11_module (or module-path= in the URI)");
        return NULL;
    }
    p11_token *t = known(module, u);
    if (t != NULL && !t->stale)
        return t;
    if (t != NULL)
        return reopen(t, u, pin_file, err, errlen);
    if (n_tokens == MAX_TOKENS) {
        snprintf(err, errlen, "more than %d tokens", MAX_TOKENS);
        return NULL;
    }
    t = &tokens[n_tokens];
    memset(t, 0, sizeof(*t));
    snprintf(t->module, sizeof(t->module), "%s", module);
    /* A module that failed is not kept: the next open tries again (it may be back). */
    if (load_slot(t, u, err, errlen) != 0 || login(t, pin_file, err, errlen) != 0) {
        forget(t);
        return NULL;
    }
    n_tokens++;
    return t;
}

p11_token *p11_token_open(const p11_uri *u, char *err, size_t errlen)
{
    p11_lock();
    p11_token *t = open_locked(u, err, errlen);
    p11_unlock();
    ERR_clear_error();
    return t;
}

/* Whether t answers with its user logged in (0). When it lost the login (it was gone and
 * came back), logs in again with the PIN it had, still -1: the operation that failed did. */
static int check(p11_token *t, char *why, size_t len)
{
    if (t->stale) {
        /* Until a reload opened its keys again (1 again: a reload that failed is retried). */
        snprintf(why, len, "token '%s' is back; its keys are being opened again", t->label);
        return 1;
    }
    if (!t->slot->token->loginRequired)
        return 0;
    int rc = p11_anchor_check(t->module, t->slot_id, &t->anchor, t->pin, t->label, why, len);
    /* Its sessions and object handles went with it: the keys must be opened again. */
    if (rc > 0)
        t->stale = 1;
    return rc;
}

int keys_tokens_ready(char *why, size_t len)
{
    int rc = 0;
    why[0] = '\0';
    p11_lock();
    for (size_t i = 0; i < n_tokens && rc == 0; i++)
        rc = check(&tokens[i], why, len);
    p11_unlock();
    ERR_clear_error();
    return rc;
}
