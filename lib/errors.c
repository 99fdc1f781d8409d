/* The one table from error reason to text and outward answer. */
#include <stdio.h>

#include "internal.h"

typedef struct error_row {
    scep_err err;
    const char *text;
    int fail_info;   /* SCEP_FAIL_INFO_NONE: answered by http_status */
    int http_status; /* 200 when the answer is a CertRep FAILURE */
} error_row;

static const error_row error_table[] = {
    {SCEP_OK, "success", SCEP_FAIL_INFO_NONE, 200},
    {SCEP_E_NOMEM, "out of memory", SCEP_FAIL_INFO_NONE, 500},
    {SCEP_E_INVALID_ARG, "invalid argument", SCEP_FAIL_INFO_NONE, 500},
    {SCEP_E_INTERNAL, "internal error", SCEP_FAIL_INFO_NONE, 500},
    {SCEP_E_TOO_LARGE, "input too large", SCEP_FAIL_INFO_NONE, 413},
    {SCEP_E_BAD_ENCODING, "malformed encoding", SCEP_FAIL_INFO_NONE, 400},
    {SCEP_E_NOT_SIGNED_DATA, "not a CMS SignedData pkiMessage", SCEP_FAIL_INFO_NONE, 400},
    {SCEP_E_BAD_OPERATION, "unknown or missing operation", SCEP_FAIL_INFO_NONE, 400},
    {SCEP_E_MISSING_MESSAGE, "missing message parameter", SCEP_FAIL_INFO_NONE, 400},
    {SCEP_E_BAD_SIGNATURE, "signature does not verify", SCEP_FAIL_BAD_MESSAGE_CHECK, 200},
    {SCEP_E_NO_SIGNER_CERT, "signer certificate not found", SCEP_FAIL_BAD_MESSAGE_CHECK, 200},
    {SCEP_E_UNTRUSTED_SIGNER, "signer is not trusted", SCEP_FAIL_BAD_MESSAGE_CHECK, 200},
    {SCEP_E_MISSING_ATTR, "required attribute missing", SCEP_FAIL_BAD_REQUEST, 200},
    {SCEP_E_BAD_ATTR, "malformed attribute", SCEP_FAIL_BAD_REQUEST, 200},
    {SCEP_E_BAD_NONCE, "nonce has a bad length", SCEP_FAIL_BAD_REQUEST, 200},
    {SCEP_E_UNKNOWN_MSG_TYPE, "unknown messageType", SCEP_FAIL_BAD_REQUEST, 200},
    {SCEP_E_DECRYPT, "envelope does not decrypt", SCEP_FAIL_BAD_MESSAGE_CHECK, 200},
    {SCEP_E_WRONG_RECIPIENT, "envelope is not for us", SCEP_FAIL_BAD_MESSAGE_CHECK, 200},
    {SCEP_E_BAD_ALG, "algorithm not allowed", SCEP_FAIL_BAD_ALG, 200},
    {SCEP_E_BAD_CSR, "bad certificate request", SCEP_FAIL_BAD_REQUEST, 200},
    {SCEP_E_BAD_TIME, "signingTime too far from now", SCEP_FAIL_BAD_TIME, 200},
    {SCEP_E_BAD_CERT_ID, "no such certificate", SCEP_FAIL_BAD_CERT_ID, 200},
    {SCEP_E_BAD_PAYLOAD, "malformed message data", SCEP_FAIL_BAD_REQUEST, 200},
    {SCEP_E_RECIPIENT_NONCE, "recipientNonce does not match our senderNonce",
     SCEP_FAIL_BAD_MESSAGE_CHECK, 200},
    {SCEP_E_TRANSACTION_ID, "transactionID does not match", SCEP_FAIL_BAD_MESSAGE_CHECK, 200},
    {SCEP_E_NEGOTIATION, "no algorithm both sides allow", SCEP_FAIL_BAD_ALG, 200},
    {SCEP_E_CONTENT_DIGEST, "content does not match its signed messageDigest",
     SCEP_FAIL_BAD_MESSAGE_CHECK, 200},
};

static const error_row *find_row(scep_err err)
{
    for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
        if (error_table[i].err == err)
            return &error_table[i];
    return NULL;
}

const char *scep_strerror(scep_err err)
{
    const error_row *row = find_row(err);
    return row ? row->text : "unknown error";
}

int scep_err_fail_info(scep_err err)
{
    const error_row *row = find_row(err);
    return row ? row->fail_info : SCEP_FAIL_INFO_NONE;
}

int scep_err_http_status(scep_err err)
{
    const error_row *row = find_row(err);
    return row ? row->http_status : 500;
}

const char *scep_fail_info_name(int fail_info)
{
    static const char *const names[] = {"badAlg", "badMessageCheck", "badRequest", "badTime",
                                        "badCertId"};
    if (fail_info < 0 || fail_info >= (int)(sizeof(names) / sizeof(names[0])))
        return "unknown";
    return names[fail_info];
}

scep_err scepi_diag(scep_diag *diag, scep_err err, const char *fmt, ...)
{
    if (diag != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(diag->text, sizeof(diag->text), fmt, ap);
        va_end(ap);
    }
    return err;
}
