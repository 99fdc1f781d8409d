/* A PKCS#11 module for tests: passes every call to the real module (FAULTY_PKCS11_REAL), except
 * while the file FAULTY_PKCS11_DOWN exists. Then the token is "gone": the first call closes
 * every session of the real module (the login goes with them, as when a token is pulled) and
 * each call answers CKR_DEVICE_REMOVED. Removing the file brings the token back. */
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST faulty;
static CK_SLOT_ID last_slot;
static int pulled;

/* Whether the token is gone now; the first call of an outage closes the real sessions. */
static int gone(void)
{
    const char *flag = getenv("FAULTY_PKCS11_DOWN");
    if (flag == NULL || access(flag, F_OK) != 0) {
        pulled = 0;
        return 0;
    }
    if (!pulled)
        real->C_CloseAllSessions(last_slot);
    pulled = 1;
    return 1;
}

static CK_RV open_session(CK_SLOT_ID slot, CK_FLAGS flags, void *app, CK_NOTIFY notify,
                          CK_SESSION_HANDLE *s)
{
    last_slot = slot;
    return gone() ? CKR_DEVICE_REMOVED : real->C_OpenSession(slot, flags, app, notify, s);
}

static CK_RV session_info(CK_SESSION_HANDLE s, CK_SESSION_INFO *info)
{
    return gone() ? CKR_DEVICE_REMOVED : real->C_GetSessionInfo(s, info);
}

static CK_RV login(CK_SESSION_HANDLE s, CK_USER_TYPE who, unsigned char *pin, CK_ULONG len)
{
    return gone() ? CKR_DEVICE_REMOVED : real->C_Login(s, who, pin, len);
}

static CK_RV sign_init(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE k)
{
    return gone() ? CKR_DEVICE_REMOVED : real->C_SignInit(s, m, k);
}

static CK_RV sign(CK_SESSION_HANDLE s, unsigned char *in, CK_ULONG n, unsigned char *out,
                  CK_ULONG *outlen)
{
    return gone() ? CKR_DEVICE_REMOVED : real->C_Sign(s, in, n, out, outlen);
}

static CK_RV decrypt_init(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE k)
{
    return gone() ? CKR_DEVICE_REMOVED : real->C_DecryptInit(s, m, k);
}

static CK_RV decrypt(CK_SESSION_HANDLE s, unsigned char *in, CK_ULONG n, unsigned char *out,
                     CK_ULONG *outlen)
{
    return gone() ? CKR_DEVICE_REMOVED : real->C_Decrypt(s, in, n, out, outlen);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST **list)
{
    if (real == NULL) {
        const char *path = getenv("FAULTY_PKCS11_REAL");
        void *h = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
        CK_C_GetFunctionList get = h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
        if (get == NULL || get(&real) != CKR_OK)
            return CKR_GENERAL_ERROR;
        faulty = *real;
        faulty.C_OpenSession = open_session;
        faulty.C_GetSessionInfo = session_info;
        faulty.C_Login = login;
        faulty.C_SignInit = sign_init;
        faulty.C_Sign = sign;
        faulty.C_DecryptInit = decrypt_init;
        faulty.C_Decrypt = decrypt;
    }
    *list = &faulty;
    return CKR_OK;
}
