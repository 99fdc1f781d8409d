/* Key pairs made inside the token (C_GenerateKeyPair): libp11 0.4 makes RSA keys only, and a
 * CA key must never exist outside the token. The private half is sensitive and not
 * extractable. */
#include "keys/pkcs11_keygen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>

#include "keys/pkcs11_raw.h"

/* The DER OID of the curve of spec ("ec:P-256") into der (CKA_EC_PARAMS); its length, or 0. */
static int curve_params(const char *spec, unsigned char *der, int len)
{
    int nid = strcmp(spec, "ec:P-256") == 0   ? NID_X9_62_prime256v1
              : strcmp(spec, "ec:P-384") == 0 ? NID_secp384r1
                                              : NID_undef;
    const ASN1_OBJECT *obj = nid != NID_undef ? OBJ_nid2obj(nid) : NULL;
    int n = obj ? i2d_ASN1_OBJECT(obj, NULL) : 0;
    unsigned char *p = der;
    return n > 0 && n <= len && i2d_ASN1_OBJECT(obj, &p) == n ? n : 0;
}

typedef struct pair_template {
    CK_MECHANISM mech;
    CK_ATTRIBUTE pub[8], priv[10];
    CK_ULONG n_pub, n_priv;
    CK_ULONG bits;
    unsigned char params[16];
    char label[128];
    unsigned char id[64];
} pair_template;

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static unsigned char f4[] = {0x01, 0x00, 0x01};

#define ATTR(list, n, t, v, l)                                                                     \
    (list)[(n)++] = (CK_ATTRIBUTE)                                                                 \
    {                                                                                              \
        (t), (v), (l)                                                                              \
    }

/* The templates of a key pair of spec, labelled and identified. 0, or -1 for an unknown spec. */
static int make_template(pair_template *t, const char *spec, const char *label,
                         const unsigned char *id, size_t id_len)
{
    memset(t, 0, sizeof(*t));
    size_t label_len = strlen(label);
    if (label_len >= sizeof(t->label) || id_len > sizeof(t->id))
        return -1;
    memcpy(t->label, label, label_len);
    memcpy(t->id, id, id_len);
    int rsa = strncmp(spec, "rsa:", 4) == 0;
    if (rsa) {
        t->bits = strtoul(spec + 4, NULL, 10);
        if (t->bits != 2048 && t->bits != 3072 && t->bits != 4096)
            return -1;
        t->mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        ATTR(t->pub, t->n_pub, CKA_MODULUS_BITS, &t->bits, sizeof(t->bits));
        ATTR(t->pub, t->n_pub, CKA_PUBLIC_EXPONENT, f4, sizeof(f4));
        ATTR(t->pub, t->n_pub, CKA_ENCRYPT, &yes, sizeof(yes));
        ATTR(t->priv, t->n_priv, CKA_DECRYPT, &yes, sizeof(yes));
    } else {
        int n = curve_params(spec, t->params, (int)sizeof(t->params));
        if (n == 0)
            return -1;
        t->mech.mechanism = CKM_EC_KEY_PAIR_GEN;
        ATTR(t->pub, t->n_pub, CKA_EC_PARAMS, t->params, (CK_ULONG)n);
        /* An EC CA without an RA is the recipient of key agreement (ECDH) too. */
        ATTR(t->priv, t->n_priv, CKA_DERIVE, &yes, sizeof(yes));
    }
    ATTR(t->pub, t->n_pub, CKA_TOKEN, &yes, sizeof(yes));
    ATTR(t->pub, t->n_pub, CKA_VERIFY, &yes, sizeof(yes));
    ATTR(t->pub, t->n_pub, CKA_LABEL, t->label, (CK_ULONG)label_len);
    ATTR(t->pub, t->n_pub, CKA_ID, t->id, (CK_ULONG)id_len);
    ATTR(t->priv, t->n_priv, CKA_TOKEN, &yes, sizeof(yes));
    ATTR(t->priv, t->n_priv, CKA_PRIVATE, &yes, sizeof(yes));
    ATTR(t->priv, t->n_priv, CKA_SENSITIVE, &yes, sizeof(yes));
    ATTR(t->priv, t->n_priv, CKA_EXTRACTABLE, &no, sizeof(no));
    ATTR(t->priv, t->n_priv, CKA_SIGN, &yes, sizeof(yes));
    ATTR(t->priv, t->n_priv, CKA_LABEL, t->label, (CK_ULONG)label_len);
    ATTR(t->priv, t->n_priv, CKA_ID, t->id, (CK_ULONG)id_len);
    return 0;
}

int p11_keygen(const char *module, unsigned long slot_id, const char *spec, const char *label,
               const unsigned char *id, size_t id_len, char *err, size_t errlen)
{
    pair_template t;
    if (make_template(&t, spec, label, id, id_len) != 0) {
        snprintf(err, errlen, "cannot make a %s key in a token", spec);
        return -1;
    }
    CK_FUNCTION_LIST *fl = p11_functions(module);
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
    CK_RV rv = fl ? fl->C_OpenSession(slot_id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)
                  : CKR_GENERAL_ERROR;
    if (rv == CKR_OK)
        rv = fl->C_GenerateKeyPair(s, &t.mech, t.pub, t.n_pub, t.priv, t.n_priv, &pub, &priv);
    if (s != CK_INVALID_HANDLE)
        fl->C_CloseSession(s);
    if (rv == CKR_OK)
        return 0;
    snprintf(err, errlen, "the token could not make a %s key (%s: %s)", spec,
             fl ? "C_GenerateKeyPair" : "the module's function list", p11_ckr_name(rv));
    return -1;
}
