/*
 * Roles among GetCACert certificates (RFC 8894 sections 2.2 and 3.5.2): the issuing CA, the RA
 * encryption and signing certificates, and the chain above the issuing CA. The list comes from
 * the network, so every link is a verified signature, not a matching name, and duplicates,
 * cycles, strays and separate chains are expected.
 */
#include <string.h>

#include <openssl/x509v3.h>

#include "internal.h"

/* The certificates without duplicates, and which one signed which. */
typedef struct cert_graph {
    X509 *cert[SCEP_MAX_CERTS];
    int is_ca[SCEP_MAX_CERTS];
    unsigned char signed_by[SCEP_MAX_CERTS][SCEP_MAX_CERTS]; /* [child][parent] */
    int n;
} cert_graph;

static int already_in(const cert_graph *g, X509 *cert)
{
    for (int i = 0; i < g->n; i++)
        if (X509_cmp(g->cert[i], cert) == 0)
            return 1;
    return 0;
}

/* Whether parent, a CA certificate, issued child: names, key identifiers, and the signature. */
static int issued_and_signed(X509 *parent, X509 *child)
{
    EVP_PKEY *key = X509_get0_pubkey(parent);
    return key != NULL && X509_check_issued(parent, child) == X509_V_OK &&
           X509_verify(child, key) == 1;
}

static scep_err graph_build(STACK_OF(X509) * certs, cert_graph *g, scep_diag *diag)
{
    memset(g, 0, sizeof(*g));
    int n = sk_X509_num(certs);
    if (n <= 0)
        return scepi_diag(diag, SCEP_E_BAD_CERT_ID, "no certificate at all");
    if (n > SCEP_MAX_CERTS)
        return scepi_diag(diag, SCEP_E_TOO_LARGE, "more than %d certificates", SCEP_MAX_CERTS);
    for (int i = 0; i < n; i++) {
        X509 *cert = sk_X509_value(certs, i);
        if (cert == NULL || already_in(g, cert))
            continue;
        g->is_ca[g->n] = X509_check_ca(cert) >= 1;
        g->cert[g->n++] = cert;
    }
    for (int child = 0; child < g->n; child++)
        for (int parent = 0; parent < g->n; parent++)
            g->signed_by[child][parent] = parent != child && g->is_ca[parent] &&
                                          issued_and_signed(g->cert[parent], g->cert[child]);
    return SCEP_OK;
}

/* Whether certificate i signed a certificate of the given kind (CA or not). */
static int signed_one(const cert_graph *g, int i, int ca_kind)
{
    for (int child = 0; child < g->n; child++)
        if (g->is_ca[child] == ca_kind && g->signed_by[child][i])
            return 1;
    return 0;
}

/*
 * The issuing CA: the lowest CA certificate, the one that signed no other CA certificate of the
 * list. With several separate chains, the one whose lowest CA signed an RA certificate.
 */
static scep_err find_issuing_ca(const cert_graph *g, int *ca, scep_diag *diag)
{
    int lowest = -1, lowest_count = 0, with_ra = -1, with_ra_count = 0, cas = 0;
    for (int i = 0; i < g->n; i++) {
        if (!g->is_ca[i])
            continue;
        cas++;
        if (signed_one(g, i, 1))
            continue;
        lowest = i;
        lowest_count++;
        if (signed_one(g, i, 0)) {
            with_ra = i;
            with_ra_count++;
        }
    }
    if (lowest_count == 1 || with_ra_count == 1) {
        *ca = lowest_count == 1 ? lowest : with_ra;
        return SCEP_OK;
    }
    if (cas == 0)
        return scepi_diag(diag, SCEP_E_BAD_CERT_ID, "none of the %d certificates is a CA", g->n);
    if (lowest_count == 0)
        return scepi_diag(diag, SCEP_E_BAD_CERT_ID,
                          "the CA certificates sign each other in a cycle: no issuing CA");
    return scepi_diag(diag, SCEP_E_BAD_CERT_ID,
                      "the certificates hold %d separate CA chains: cannot tell the issuing CA",
                      lowest_count);
}

/* Marks ca and every CA certificate above it (each signed one already marked). */
static void mark_chain(const cert_graph *g, int ca, unsigned char *in_chain)
{
    memset(in_chain, 0, SCEP_MAX_CERTS);
    in_chain[ca] = 1;
    for (int grew = 1; grew;) {
        grew = 0;
        for (int child = 0; child < g->n; child++)
            for (int parent = 0; in_chain[child] && parent < g->n; parent++)
                if (g->signed_by[child][parent] && !in_chain[parent])
                    in_chain[parent] = grew = 1;
    }
}

static int has_usage(X509 *cert, uint32_t bit)
{
    /* No keyUsage extension means any usage. */
    return (X509_get_key_usage(cert) & bit) != 0;
}

/* The first non-CA certificate with usage that a CA of the chain signed (an RA), or NULL. */
static X509 *find_ra(const cert_graph *g, const unsigned char *in_chain, uint32_t usage)
{
    for (int i = 0; i < g->n; i++) {
        if (g->is_ca[i] || !has_usage(g->cert[i], usage))
            continue;
        for (int parent = 0; parent < g->n; parent++)
            if (in_chain[parent] && g->signed_by[i][parent])
                return g->cert[i];
    }
    return NULL;
}

static int index_of(const cert_graph *g, const X509 *cert)
{
    for (int i = 0; i < g->n; i++)
        if (X509_cmp(g->cert[i], cert) == 0)
            return i;
    return -1;
}

scep_err scep_certs_roles_diag(STACK_OF(X509) * certs, X509 **ca, X509 **ra_enc, X509 **ra_sign,
                               scep_diag *diag)
{
    if (ca == NULL || ra_enc == NULL || ra_sign == NULL)
        return SCEP_E_INVALID_ARG;
    *ca = *ra_enc = *ra_sign = NULL;
    cert_graph g;
    scep_err err = graph_build(certs, &g, diag);
    int the_ca = 0;
    /* A lone certificate is the CA whatever it says (CA mode of old servers). */
    if (err == SCEP_OK && g.n > 1)
        err = find_issuing_ca(&g, &the_ca, diag);
    if (err != SCEP_OK)
        return err;
    unsigned char in_chain[SCEP_MAX_CERTS];
    mark_chain(&g, the_ca, in_chain);
    X509 *enc = find_ra(&g, in_chain, KU_KEY_ENCIPHERMENT);
    X509 *sign = find_ra(&g, in_chain, KU_DIGITAL_SIGNATURE);
    *ca = g.cert[the_ca];
    *ra_enc = enc ? enc : *ca;
    *ra_sign = sign ? sign : *ra_enc;
    return SCEP_OK;
}

scep_err scep_certs_roles(STACK_OF(X509) * certs, X509 **ca, X509 **ra_enc, X509 **ra_sign)
{
    return scep_certs_roles_diag(certs, ca, ra_enc, ra_sign, NULL);
}

int scep_certs_chain_fingerprint_matches(STACK_OF(X509) * certs, X509 *ca, const char *fingerprint)
{
    cert_graph g;
    if (scep_cert_fingerprint_matches(ca, fingerprint))
        return 1;
    int i = graph_build(certs, &g, NULL) == SCEP_OK ? index_of(&g, ca) : -1;
    if (i < 0)
        return 0;
    unsigned char in_chain[SCEP_MAX_CERTS];
    mark_chain(&g, i, in_chain);
    int found = 0;
    for (int j = 0; j < g.n; j++)
        found |= in_chain[j] && scep_cert_fingerprint_matches(g.cert[j], fingerprint);
    return found;
}
