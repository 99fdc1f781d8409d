/* The key seam (server/keys/): the file backend opens, makes, keeps and moves keys, and every
 * key signs, decrypts and hands OpenSSL an EVP_PKEY that CMS can use. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "keys/keys.h"
#include "testutil.h"

typedef struct fixture {
    char dir[32];
    char path[96];
    keystore *ks;
} fixture;

static int setup(void **state)
{
    static fixture f;
    memset(&f, 0, sizeof(f));
    snprintf(f.dir, sizeof(f.dir), "/tmp/scepd-keys-XXXXXX");
    if (mkdtemp(f.dir) == NULL)
        return -1;
    snprintf(f.path, sizeof(f.path), "%s/ca.key", f.dir);
    char err[256];
    f.ks = keys_open(f.path, err, sizeof(err));
    *state = &f;
    return f.ks == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char moved[128];
    snprintf(moved, sizeof(moved), "%s/prev-ca.key", f->dir);
    unlink(f->path);
    unlink(moved);
    rmdir(f->dir);
    f->ks->destroy(f->ks);
    return 0;
}

/* A key saved in the clear and one encrypted with a passphrase open as the same key. */
static void test_open_clear_and_encrypted(void **state)
{
    fixture *f = *state;
    EVP_PKEY *pkey = tu_rsa_key(2048, 0);
    char err[256] = "";
    const char *pins[] = {NULL, "two words"};
    for (int i = 0; i < 2; i++) {
        unlink(f->path);
        assert_int_equal(f->ks->save(f->ks, pkey, f->path, pins[i], err, sizeof(err)), 0);
        struct stat sb;
        assert_int_equal(stat(f->path, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);
        private_key *k = f->ks->open(f->ks, f->path, pins[i], err, sizeof(err));
        assert_non_null(k);
        assert_int_equal(EVP_PKEY_eq(k->ops->pkey(k), pkey), 1);
        k->ops->destroy(k);
    }
    /* A second save never overwrites the key there. */
    assert_int_equal(f->ks->save(f->ks, pkey, f->path, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, f->path));
}

/* Wrong, missing and unneeded passphrases, and a missing file, each with its reason. */
static void test_open_refusals(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    unlink(f->path);
    assert_null(f->ks->open(f->ks, f->path, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot read"));
    assert_non_null(strstr(err, f->path));
    assert_int_equal(f->ks->save(f->ks, tu_rsa_key(2048, 1), f->path, "right", err, sizeof(err)),
                     0);
    assert_null(f->ks->open(f->ks, f->path, "wrong", err, sizeof(err)));
    assert_non_null(strstr(err, "wrong passphrase"));
    assert_null(f->ks->open(f->ks, f->path, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "the key is encrypted"));
    assert_null(f->ks->open(f->ks, f->path, "", err, sizeof(err)));
    assert_non_null(strstr(err, "the key is encrypted"));
}

static void check_caps(private_key *k, const char *type, int bits, int rsa_decrypt)
{
    key_caps caps;
    k->ops->caps(k, &caps);
    assert_string_equal(caps.type, type);
    assert_int_equal(caps.bits, bits);
    assert_int_equal(caps.sign, 1);
    assert_int_equal(caps.rsa_decrypt, rsa_decrypt);
}

/* generate makes a key of the spec where it is told, and the spec of a successor follows. */
static void test_generate_and_caps(void **state)
{
    fixture *f = *state;
    char err[256] = "", spec[32];
    unlink(f->path);
    private_key *k = f->ks->generate(f->ks, "ec:P-384", f->path, "pin", err, sizeof(err));
    assert_non_null(k);
    check_caps(k, "EC", 384, 0);
    key_caps caps;
    k->ops->caps(k, &caps);
    keys_spec_like(&caps, spec, sizeof(spec));
    assert_string_equal(spec, "ec:P-384");
    private_key *back = f->ks->open(f->ks, f->path, "pin", err, sizeof(err));
    assert_non_null(back);
    assert_int_equal(EVP_PKEY_eq(back->ops->pkey(back), k->ops->pkey(k)), 1);
    back->ops->destroy(back);
    k->ops->destroy(k);
    /* An unknown spec, and a place already taken, are refused. */
    assert_null(f->ks->generate(f->ks, "dsa:1024", f->path, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "dsa:1024"));
    assert_null(f->ks->generate(f->ks, "ec:P-256", f->path, NULL, err, sizeof(err)));
    k = keys_pkey_key(keys_new_pkey("rsa:3072"));
    check_caps(k, "RSA", 3072, 1);
    k->ops->caps(k, &caps);
    keys_spec_like(&caps, spec, sizeof(spec));
    assert_string_equal(spec, "rsa:3072");
    k->ops->destroy(k);
}

/* move: the key at the old name is the one at the new name; nothing to move is no error. */
static void test_move(void **state)
{
    fixture *f = *state;
    char err[256] = "", to[128];
    snprintf(to, sizeof(to), "%s/prev-ca.key", f->dir);
    unlink(f->path);
    EVP_PKEY *pkey = tu_rsa_key(2048, 2);
    assert_int_equal(f->ks->save(f->ks, pkey, f->path, NULL, err, sizeof(err)), 0);
    assert_int_equal(f->ks->move(f->ks, f->path, to, err, sizeof(err)), 0);
    assert_int_not_equal(access(f->path, F_OK), 0);
    private_key *k = f->ks->open(f->ks, to, NULL, err, sizeof(err));
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_eq(k->ops->pkey(k), pkey), 1);
    k->ops->destroy(k);
    assert_int_equal(f->ks->move(f->ks, f->path, to, err, sizeof(err)), 0);
}

static void verify(EVP_PKEY *pkey, const unsigned char *data, size_t len, const unsigned char *sig,
                   size_t siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, pkey, NULL), 1);
    assert_int_equal(EVP_DigestVerify(md, sig, siglen, data, len), 1);
    EVP_MD_CTX_free(md);
}

/* Bytes and digests signed through the seam verify with the public key (RSA and EC). */
static void test_sign(void **state)
{
    (void)state;
    static const unsigned char data[] = "sign these bytes";
    unsigned char md[32];
    assert_non_null(SHA256(data, sizeof(data), md));
    EVP_PKEY *keys[] = {tu_rsa_key(2048, 0), tu_ec_key("P-256", 0)};
    for (int i = 0; i < 2; i++) {
        EVP_PKEY_up_ref(keys[i]);
        private_key *k = keys_pkey_key(keys[i]);
        unsigned char *sig = NULL;
        size_t siglen = 0;
        assert_int_equal(k->ops->sign(k, "SHA256", data, sizeof(data), &sig, &siglen), 0);
        verify(keys[i], data, sizeof(data), sig, siglen);
        OPENSSL_free(sig);
        assert_int_equal(k->ops->sign_digest(k, "SHA256", md, sizeof(md), &sig, &siglen), 0);
        verify(keys[i], data, sizeof(data), sig, siglen);
        OPENSSL_free(sig);
        k->ops->destroy(k);
    }
}

/* A CMS envelope to the key's certificate opens with the EVP_PKEY the seam hands out, and the
 * key transport a client sends decrypts through the seam's own decrypt. */
static void test_decrypt_cms(void **state)
{
    fixture *f = *state;
    const tu_ca *ca = tu_test_ca();
    char err[256] = "";
    unlink(f->path);
    assert_int_equal(f->ks->save(f->ks, ca->ra_key, f->path, "pin", err, sizeof(err)), 0);
    private_key *k = f->ks->open(f->ks, f->path, "pin", err, sizeof(err));
    assert_non_null(k);
    STACK_OF(X509) *to = sk_X509_new_null();
    assert_true(sk_X509_push(to, ca->ra_cert) > 0);
    static const char secret[] = "the content key wraps this";
    BIO *in = BIO_new_mem_buf(secret, (int)strlen(secret)), *out = BIO_new(BIO_s_mem());
    CMS_ContentInfo *cms = CMS_encrypt(to, in, EVP_aes_128_cbc(), CMS_BINARY);
    assert_non_null(cms);
    assert_int_equal(CMS_decrypt(cms, k->ops->pkey(k), ca->ra_cert, NULL, out, CMS_BINARY), 1);
    char *got = NULL;
    long n = BIO_get_mem_data(out, &got);
    assert_int_equal(n, (long)strlen(secret));
    assert_memory_equal(got, secret, strlen(secret));
    /* What a client's KeyTransRecipientInfo carries: a content key under RSA PKCS#1 v1.5. */
    unsigned char cek[16] = "0123456789abcdef", wrapped[512], *back = NULL;
    size_t wrappedlen = sizeof(wrapped), backlen = 0;
    EVP_PKEY_CTX *enc = EVP_PKEY_CTX_new_from_pkey(NULL, X509_get0_pubkey(ca->ra_cert), NULL);
    assert_int_equal(EVP_PKEY_encrypt_init(enc), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(enc, RSA_PKCS1_PADDING), 1);
    assert_int_equal(EVP_PKEY_encrypt(enc, wrapped, &wrappedlen, cek, sizeof(cek)), 1);
    EVP_PKEY_CTX_free(enc);
    assert_int_equal(k->ops->decrypt(k, wrapped, wrappedlen, &back, &backlen), 0);
    assert_int_equal(backlen, sizeof(cek));
    assert_memory_equal(back, cek, sizeof(cek));
    OPENSSL_clear_free(back, backlen);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    BIO_free(out);
    sk_X509_free(to);
    k->ops->destroy(k);
}

typedef struct thread_copy {
    EVP_PKEY *shared, *copy;
} thread_copy;

static void *copy_in_thread(void *arg)
{
    thread_copy *t = arg;
    t->copy = key_for_thread(t->shared);
    /* The copy outlives this function only as a pointer to compare: the thread's end frees it. */
    assert_true(EVP_PKEY_eq(t->copy, t->shared) == 1);
    return NULL;
}

/* Each thread signs with its own copy of an in-memory RSA key (no shared blinding lock), the
 * same key; an EC key, which has no such lock, is handed back as it is. */
static void test_key_for_thread(void **state)
{
    (void)state;
    EVP_PKEY *rsa = tu_rsa_key(2048, 0), *ec = tu_ec_key("P-256", 0);
    EVP_PKEY *mine = key_for_thread(rsa);
    assert_ptr_not_equal(mine, rsa);
    assert_true(EVP_PKEY_eq(mine, rsa) == 1);
    assert_ptr_equal(key_for_thread(rsa), mine);
    assert_ptr_equal(key_for_thread(ec), ec);
    assert_null(key_for_thread(NULL));
    thread_copy other = {.shared = rsa};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, copy_in_thread, &other), 0);
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_ptr_not_equal(other.copy, rsa);
    assert_ptr_not_equal(other.copy, mine);
    /* A signature by the copy verifies with the shared key's public half. */
    static const unsigned char data[] = "signed by a copy";
    EVP_PKEY_up_ref(mine);
    private_key *k = keys_pkey_key(mine);
    unsigned char *sig = NULL;
    size_t siglen = 0;
    assert_int_equal(k->ops->sign(k, "SHA256", data, sizeof(data), &sig, &siglen), 0);
    verify(rsa, data, sizeof(data), sig, siglen);
    OPENSSL_free(sig);
    k->ops->destroy(k);
    /* More keys than a thread keeps: the oldest copy goes, every key still gets its own. */
    EVP_PKEY *many[10];
    for (int i = 0; i < 10; i++) {
        many[i] = keys_new_pkey("rsa:2048");
        assert_non_null(many[i]);
        EVP_PKEY *c = key_for_thread(many[i]);
        assert_ptr_not_equal(c, many[i]);
        assert_true(EVP_PKEY_eq(c, many[i]) == 1);
    }
    assert_true(EVP_PKEY_eq(key_for_thread(many[0]), many[0]) == 1);
    key_thread_release();
    for (int i = 0; i < 10; i++)
        EVP_PKEY_free(many[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_clear_and_encrypted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generate_and_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move, setup, teardown),
        cmocka_unit_test(test_sign),
        cmocka_unit_test_setup_teardown(test_decrypt_cms, setup, teardown),
        cmocka_unit_test(test_key_for_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
