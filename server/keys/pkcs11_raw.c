/* The module's own functions, for what libp11 0.4 does not do: key pairs of every type made
 * in the token, and the truth about a token's login after it went away. */
#include "keys/pkcs11_raw.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

const char *p11_ckr_name(unsigned long rv)
{
    static const struct {
        CK_RV rv;
        const char *name;
    } names[] = {{CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
                 {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
                 {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
                 {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
                 {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
                 {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"},
                 {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
                 {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
                 {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
                 {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
                 {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].rv == rv)
            return names[i].name;
    return "a PKCS#11 error";
}

/* The function list of module, dlopened and initialised. */
static CK_FUNCTION_LIST *load(const char *module)
{
    void *h = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList get = h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
    CK_FUNCTION_LIST *fl = NULL;
    if (get == NULL || get(&fl) != CKR_OK || fl == NULL) {
        if (h != NULL)
            dlclose(h);
        return NULL;
    }
    CK_RV rv = fl->C_Initialize(NULL);
    return rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED ? fl : NULL;
}

CK_FUNCTION_LIST *p11_functions(const char *module)
{
    /* Loaded once per module: /readyz asks after every token. */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static struct {
        char module[1024];
        CK_FUNCTION_LIST *fl;
    } known[8];
    static size_t n;
    CK_FUNCTION_LIST *fl = NULL;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n && fl == NULL; i++)
        if (strcmp(known[i].module, module) == 0)
            fl = known[i].fl;
    if (fl == NULL && (fl = load(module)) != NULL && n < sizeof(known) / sizeof(known[0]) &&
        strlen(module) < sizeof(known[0].module)) {
        snprintf(known[n].module, sizeof(known[n].module), "%s", module);
        known[n++].fl = fl;
    }
    pthread_mutex_unlock(&lock);
    return fl;
}

int p11_anchor_open(const char *module, unsigned long slot_id, unsigned long *session)
{
    CK_FUNCTION_LIST *fl = p11_functions(module);
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    if (fl == NULL || fl->C_OpenSession(slot_id, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
        return -1;
    *session = s;
    return 0;
}

void p11_anchor_close(const char *module, unsigned long session)
{
    CK_FUNCTION_LIST *fl = p11_functions(module);
    if (fl != NULL)
        fl->C_CloseSession(session);
}

static int logged_in(const CK_SESSION_INFO *info)
{
    return info->state == CKS_RO_USER_FUNCTIONS || info->state == CKS_RW_USER_FUNCTIONS;
}

static CK_RV login(CK_FUNCTION_LIST *fl, CK_SESSION_HANDLE s, const char *pin)
{
    unsigned char buf[256];
    size_t n = strlen(pin);
    if (n >= sizeof(buf))
        return CKR_PIN_LEN_RANGE;
    memcpy(buf, pin, n);
    CK_RV rv = fl->C_Login(s, CKU_USER, buf, (CK_ULONG)n);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rv;
}

int p11_anchor_check(const char *module, unsigned long slot_id, unsigned long *session,
                     const char *pin, const char *label, char *why, size_t len)
{
    CK_FUNCTION_LIST *fl = p11_functions(module);
    CK_SESSION_INFO info;
    CK_RV rv = fl ? fl->C_GetSessionInfo(*session, &info) : CKR_GENERAL_ERROR;
    if (rv == CKR_OK && logged_in(&info))
        return 0;
    if (rv != CKR_OK) {
        /* The session went with the token: a new one, if it is back. */
        CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
        rv = fl ? fl->C_OpenSession(slot_id, CKF_SERIAL_SESSION, NULL, NULL, &s) : rv;
        if (rv == CKR_OK)
            *session = s;
        if (rv == CKR_OK)
            rv = fl->C_GetSessionInfo(s, &info);
    }
    if (rv == CKR_OK && !logged_in(&info))
        rv = login(fl, *session, pin);
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
        snprintf(why, len, "token '%s' was gone and is back (logged in again): retry", label);
        return 1;
    }
    snprintf(why, len, "token '%s' is not available: %s", label, p11_ckr_name(rv));
    return -1;
}
