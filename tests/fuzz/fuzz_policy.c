/* libFuzzer: scepd's checks of a CSR, as new_request() applies them to any request whose
 * signature verified: key and subject policy, the challenge password and its check, the text
 * an approver sees, and the certificate issued when policy allows. Whatever the CSR asks, the
 * certificate is never a CA, carries only the name types the profile allows, and is signed
 * by the CA over the CSR's subject. Even-sized inputs get the default profile, odd-sized ones
 * a strict one (no EC keys, no copied subjectAltName, RSA from 3072 bits). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/ca_create.h"
#include "keys/keys.h"
#include "policy/challenge.h"
#include "policy/request_policy.h"
#include "admin/request_info.h"
#include "service/server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ONE_TIME "fuzz-one-time-challenge"

static authority ca;
static server srv[2];
static store *st;

/* A fresh store with one one-time challenge for subjects with a common name. */
static void reset_store(void)
{
    char err[256];
    store_close(st);
    st = store_open(":memory:", err, sizeof(err));
    store_challenge c = {.created_at = 1, .expires_at = INT64_MAX / 2};
    challenge_hash(ONE_TIME, c.hash);
    snprintf(c.subject_match, sizeof(c.subject_match), "CN=[^,]+");
    if (st == NULL || st->ops->challenge_add(st, &c) != STORE_OK)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ca.key = keys_new_pkey("ec:P-256"); /* cheap signatures: the checks are what is fuzzed */
    X509_NAME *name = ca_parse_name("CN=Fuzz Policy CA");
    ca.cert = ca.key && name ? ca_create_root(ca.key, name, 3650) : NULL;
    X509_NAME_free(name);
    if (ca.cert == NULL)
        abort();
    for (int i = 0; i < 2; i++) {
        config_defaults(&srv[i].cfg, NULL);
        snprintf(srv[i].cfg.challenge, sizeof(srv[i].cfg.challenge), "fuzz-static-challenge");
        srv[i].cfg.crl_url[0] = '\0';
    }
    srv[1].cfg.allow_ec = 0;
    srv[1].cfg.copy_san = 0;
    srv[1].cfg.min_rsa_bits = 3072;
    srv[1].cfg.approve = APPROVE_MANUAL;
    snprintf(srv[0].cfg.crl_url, sizeof(srv[0].cfg.crl_url), "http://ca.example/crl/{ca}.crl");
    reset_store();
    return 0;
}

/* Text for an approver's terminal: one token of printable ASCII. */
static void check_token(const char *text, size_t size)
{
    size_t n = strnlen(text, size);
    if (n == 0 || n >= size)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] <= 0x20 || (unsigned char)text[i] >= 0x7f)
            abort();
}

static void check_names(const config *c, X509 *cert)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names != NULL && !c->copy_san)
        abort();
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        int type = sk_GENERAL_NAME_value(names, i)->type;
        if (type != GEN_DNS && type != GEN_IPADD && type != GEN_EMAIL && type != GEN_URI)
            abort();
    }
    GENERAL_NAMES_free(names);
}

static void check_issued(const config *c, X509_REQ *csr)
{
    char err[256] = "";
    X509 *cert = ca_issue(&ca, csr, c, err, sizeof(err));
    if (cert == NULL) {
        if (err[0] == '\0')
            abort();
        return;
    }
    if ((X509_get_extension_flags(cert) & EXFLAG_CA) != 0 || X509_verify(cert, ca.key) != 1 ||
        X509_NAME_cmp(X509_get_subject_name(cert), X509_REQ_get_subject_name(csr)) != 0)
        abort();
    check_names(c, cert);
    X509_free(cert);
}

static void check_challenge(const server *s, X509_REQ *csr, const char *subject)
{
    char password[CONFIG_SECRET];
    if (scep_csr_challenge_password(csr, password, sizeof(password)) != SCEP_OK)
        password[0] = '\0';
    if (strnlen(password, sizeof(password)) >= sizeof(password))
        abort();
    challenge_result r = challenge_check(&s->cfg, st, password, subject);
    if (r == CHALLENGE_STATIC && strcmp(password, s->cfg.challenge) != 0)
        abort();
    if (r == CHALLENGE_ONE_TIME && strcmp(password, ONE_TIME) != 0)
        abort();
    if (r == CHALLENGE_ONE_TIME || r == CHALLENGE_USED)
        reset_store();
    OPENSSL_cleanse(password, sizeof(password));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *p = data;
    X509_REQ *csr = d2i_X509_REQ(NULL, &p, (long)size);
    if (csr == NULL)
        return 0;
    const server *s = &srv[size & 1];
    scep_err err;
    const char *why = policy_request(&s->cfg, csr, X509_REQ_get0_pubkey(csr), &err);
    if ((why == NULL) != (err == SCEP_OK))
        abort();
    char subject[STORE_TEXT], text[512];
    ca_name_text(X509_REQ_get_subject_name(csr), subject, sizeof(subject));
    if (strnlen(subject, sizeof(subject)) >= sizeof(subject))
        abort();
    request_info_key(csr, text, sizeof(text));
    check_token(text, sizeof(text));
    request_info_san(csr, text, sizeof(text));
    check_token(text, sizeof(text));
    check_challenge(s, csr, subject);
    if (why == NULL)
        check_issued(&s->cfg, csr);
    X509_REQ_free(csr);
    return 0;
}
