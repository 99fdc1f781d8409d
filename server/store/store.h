/*
 * The certificate store: enrollment requests, issued certificates, events. One small interface
 * with a backend behind it (SQLite now, PostgreSQL later). It stores DER bytes and plain
 * metadata, never OpenSSL objects, and keeps no state in process memory that another scepd
 * process sharing the store would need: every answer comes from the database.
 *
 * Conventions: functions return store_status. Out-parameters are zeroed on entry (not freed:
 * clear a reused record first). List callbacks see each record only during the call, stop the
 * list by returning non-zero, and must not write through the same handle. Strings in records are
 * NUL-terminated and truncated to their field size. Records returned through out-parameters are
 * owned by the caller and freed with the matching *_clear() function. A store handle belongs to one
 * thread; open one per worker thread (they all share the same database).
 */
#ifndef SCEPD_STORE_H
#define SCEPD_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef enum store_status {
    STORE_OK = 0,
    STORE_NOT_FOUND = 1,
    STORE_EXISTS = 2,   /* a unique key (transactionID, serial) is already taken */
    STORE_CONFLICT = 3, /* the record is not in the state the operation expects */
    STORE_BUSY = 4,     /* the database stayed locked longer than the busy timeout */
    STORE_ERROR = 5,    /* I/O, corruption, schema: see store_last_error() */
    STORE_NOMEM = 6,
} store_status;

typedef enum request_state {
    REQUEST_PENDING = 0,  /* waiting for an operator */
    REQUEST_APPROVED = 1, /* an operator approved; issued at the next poll */
    REQUEST_REJECTED = 2, /* an operator rejected; answered FAILURE */
    REQUEST_ISSUED = 3,   /* a certificate exists: cert_serial */
} request_state;

const char *request_state_name(request_state state);

#define STORE_HEX_SERIAL 41 /* up to 20 bytes of serial in hex + NUL */
#define STORE_KEY_ID 65     /* SHA-256 of the SubjectPublicKeyInfo, hex + NUL */
#define STORE_TEXT 512
#define STORE_TID 192 /* a transactionID, or "TID~SERIAL" for a renewal */

/* An enrollment transaction (RFC 8894 section 3.3.1, draft Appendix E): one per
 * transactionID, bound to the requester's public key. */
typedef struct store_request {
    int64_t id;
    char transaction_id[STORE_TID];
    char key_id[STORE_KEY_ID];
    char subject[STORE_TEXT]; /* RFC 2253 text, for operators */
    int message_type;         /* 19 PKCSReq, 17 RenewalReq */
    request_state state;
    unsigned char *csr_der;
    size_t csr_len;
    char cert_serial[STORE_HEX_SERIAL]; /* when ISSUED */
    char reason[STORE_TEXT];            /* why rejected, for the failInfoText */
    char challenge_hash[STORE_KEY_ID];  /* hex SHA-256 of the request's challenge, or empty */
    int64_t created_at;                 /* Unix seconds */
    int64_t updated_at;
} store_request;

void store_request_clear(store_request *r);

typedef enum cert_state {
    CERT_VALID = 0,
    CERT_REVOKED = 1,
    CERT_SUPERSEDED = 2, /* renewed; still valid until revoked or expired */
} cert_state;

const char *cert_state_name(cert_state state);

typedef struct store_cert {
    char serial[STORE_HEX_SERIAL]; /* upper-case hex, unique */
    char subject[STORE_TEXT];
    char issuer[STORE_TEXT];
    char key_id[STORE_KEY_ID];
    char transaction_id[STORE_TID];
    int64_t not_before;
    int64_t not_after;
    cert_state state;
    int64_t revoked_at;
    int revocation_reason; /* RFC 5280 CRLReason, -1 when not revoked */
    int is_ca;             /* a CA certificate of this store (a generation), not an issued one */
    unsigned char *der;
    size_t der_len;
} store_cert;

void store_cert_clear(store_cert *c);

/* Filters for listing certificates; zero values mean "any". */
typedef struct cert_filter {
    const char *subject_like; /* substring */
    int only_valid;           /* not revoked and not expired at `now` */
    int only_revoked;
    int64_t now;
    int limit; /* 0: no limit */
} cert_filter;

/* A CRL the CA issued. Numbers only grow; the highest is the current one. */
typedef struct store_crl {
    char issuer_key[STORE_KEY_ID]; /* which CA generation (its key id) issued it */
    int64_t number;
    int64_t this_update;
    int64_t next_update;
    unsigned char *der;
    size_t der_len;
} store_crl;

void store_crl_clear(store_crl *c);

/* A one-time challenge password, kept only as a hash. */
typedef struct store_challenge {
    char hash[STORE_KEY_ID]; /* hex SHA-256 of the challenge */
    int64_t created_at;
    int64_t expires_at;
    int64_t used_at;                /* 0 while unused */
    char subject_match[STORE_TEXT]; /* a POSIX extended regex, or empty for any subject */
} store_challenge;

typedef int (*store_cert_fn)(void *arg, const store_cert *cert);
typedef int (*store_request_fn)(void *arg, const store_request *req);

typedef struct store store;

/* The backend's operations. Each returns STORE_OK or an error. */
typedef struct store_ops {
    /* Inserts req as PENDING, or APPROVED when req->state says so (its id and timestamps are
     * set by the store), unless a request with the same transactionID exists; either way *out is
     * the stored request (STORE_EXISTS when it was already there). Atomic under concurrent
     * duplicates. */
    store_status (*request_put)(store *s, const store_request *req, store_request *out);
    store_status (*request_get)(store *s, const char *transaction_id, store_request *out);
    store_status (*request_get_by_id)(store *s, int64_t id, store_request *out);
    /* The request whose certificate has this serial. */
    store_status (*request_get_by_cert)(store *s, const char *serial, store_request *out);
    /* Moves request id from state `from` to `to` (STORE_CONFLICT when it is not in `from`),
     * recording reason (may be NULL). */
    store_status (*request_transition)(store *s, int64_t id, request_state from, request_state to,
                                       const char *reason);
    store_status (*request_list)(store *s, int only_pending, store_request_fn fn, void *arg);

    /* Records cert and moves request id (0: no request) from `from` to ISSUED with its serial,
     * in one transaction. STORE_EXISTS when the serial is taken (the caller draws a new one),
     * STORE_CONFLICT when the request is no longer in `from` (another process issued). */
    store_status (*cert_issue)(store *s, const store_cert *cert, int64_t request_id,
                               request_state from);
    /* A new request approved and issued at once: records cert, and req as ISSUED with cert's
     * serial, in one transaction (one commit per automatic enrollment). STORE_EXISTS when the
     * serial is taken (nothing written; the caller draws a new one), STORE_CONFLICT when the
     * transactionID is (nothing written; *out is the stored request). */
    store_status (*request_issue)(store *s, const store_request *req, const store_cert *cert,
                                  store_request *out);
    store_status (*cert_get)(store *s, const char *serial, store_cert *out);
    store_status (*cert_list)(store *s, const cert_filter *filter, store_cert_fn fn, void *arg);
    /* A valid (not revoked, not expired at now) certificate with this subject, if any. */
    store_status (*cert_find_valid_by_subject)(store *s, const char *subject, int64_t now,
                                               store_cert *out);
    store_status (*cert_set_state)(store *s, const char *serial, cert_state state,
                                   int64_t revoked_at, int reason);

    /* Records a CRL; STORE_EXISTS when its number is taken (another process issued one).
     * Numbers are one sequence across CA generations, so each issuer's only grow. */
    store_status (*crl_add)(store *s, const store_crl *crl);
    /* The latest CRL of the generation with this key id (any generation when NULL): the
     * highest number; STORE_NOT_FOUND when none was issued. */
    store_status (*crl_latest)(store *s, const char *issuer_key, store_crl *out);

    /* Adds a one-time challenge (by hash); STORE_EXISTS when that hash is known. */
    store_status (*challenge_add)(store *s, const store_challenge *c);
    store_status (*challenge_get)(store *s, const char *hash, store_challenge *out);
    /* Marks it used at `now` if it is unused and unexpired, atomically across processes;
     * STORE_CONFLICT when it was used or expired, STORE_NOT_FOUND when unknown. */
    store_status (*challenge_consume)(store *s, const char *hash, int64_t now);

    /* An audit line: what happened to which transaction or serial. */
    store_status (*event_add)(store *s, const char *kind, const char *ref, const char *detail);

    /* Returns once every write this handle committed is on disk. A handle from store_open()
     * flushes at each commit, so this returns at once; a handle of a store_group commits
     * without waiting for the disk, and must call this before it reports a write to anyone. */
    store_status (*flush)(store *s);

    const char *(*last_error)(store *s);
    void (*destroy)(store *s);
} store_ops;

struct store {
    const store_ops *ops;
};

/*
 * Opens the store named by uri: "sqlite:PATH" or a plain path (SQLite). Creates the database
 * and migrates its schema to the current version. On failure returns NULL and writes a reason
 * into err (may be NULL).
 */
store *store_open(const char *uri, char *err, size_t errlen);
void store_close(store *s);

/*
 * A server's worker threads: the handles of one group run their operations on one connection,
 * one at a time (SQLite keeps its page cache, and collisions wait on a lock instead of
 * sleeping in the busy handler), and commit without waiting for the disk: one flush makes the
 * commits of every waiting handle durable at once (group commit). A group handle is still one
 * thread's; call flush() on it before a reply that reports its writes. Close every handle
 * before the group.
 */
typedef struct store_group store_group;

store_group *store_group_open(const char *uri, char *err, size_t errlen);
store *store_group_handle(store_group *g, char *err, size_t errlen);
void store_group_close(store_group *g);

/* The schema version this build writes. */
#define STORE_SCHEMA_VERSION 4

#endif
