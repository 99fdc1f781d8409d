/* CertPoll (GetCertInitial): the state of a transaction, asked by the key that opened it. */
#include <string.h>

#include "policy/request_policy.h"
#include "service/exchange.h"
#include "service/transaction.h"

void poll_request(exchange *x)
{
    X509 *signer = x->req->signer_cert;
    transaction_set_key(x, !policy_self_signed(signer) && ca_issued(x->ca, signer) ? signer : NULL);
    store_request r = {0};
    store_status s = x->st->ops->request_get(x->st, x->key, &r);
    char key_id[STORE_KEY_ID];
    ca_key_id(X509_get_X509_PUBKEY(x->req->signer_cert), key_id, sizeof(key_id));
    if (s == STORE_NOT_FOUND)
        exchange_fail(x, SCEP_E_BAD_CERT_ID, "unknown transactionID");
    else if (s != STORE_OK)
        exchange_store_down(x, s);
    else if (strcmp(r.key_id, key_id) != 0 &&
             (r.signer_key_id[0] == '\0' || strcmp(r.signer_key_id, key_id) != 0))
        exchange_fail(x, SCEP_E_BAD_CSR, "the transaction belongs to another key");
    else /* no challenge here: an EC requester's SUCCESS goes by key agreement */
        transaction_resume(x, &r);
    store_request_clear(&r);
}
