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
/* a transactionID, or "TID~SERIAL" for a renewal, then "@profile:NAME" for a profile's */
#define STORE_TID 240
#define STORE_ADDR 64 /* an IPv4 or IPv6 address as text */

/* An enrollment transaction (RFC 8894 section 3.3.1, draft Appendix E): one per
 * transactionID, bound to the requester's public key. */
typedef struct store_request {
    int64_t id;
    char transaction_id[STORE_TID];
    char key_id[STORE_KEY_ID];
    char subject[STORE_TEXT]; /* RFC 4514 text (ca_name_text), for operators */
    int message_type;         /* 19 PKCSReq, 17 RenewalReq */
    request_state state;
    /* The CSR without its challengePassword (csr_at_rest.h); csr_hash: hex SHA-256 of the DER
     * as the requester sent it, challenge and all, for recognising a resend. */
    unsigned char *csr_der;
    size_t csr_len;
    char csr_hash[STORE_KEY_ID];
    char cert_serial[STORE_HEX_SERIAL]; /* when ISSUED */
    char reason[STORE_TEXT];            /* why rejected, for the failInfoText */
    char challenge_hash[STORE_KEY_ID];  /* hex SHA-256 of the request's challenge, or empty */
    char client_addr[STORE_ADDR];       /* the sender's IP address as logged; empty when unknown */
    char challenge_kind[16];            /* "none", "static", "one-time"; empty when unknown */
    /* The key id of the certificate that signs this transaction's messages when its key is not
     * the request's (a separate self-signed signer; the certificate a renewal replaces), or
     * empty. A poll must come from key_id or from this key. */
    char signer_key_id[STORE_KEY_ID];
    int64_t created_at; /* Unix seconds */
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
    /* For the admin API's search: */
    const char *serial;       /* exactly this serial */
    int only_expired;         /* not revoked and expired at `now` */
    int64_t expires_before;   /* not_after at or before this */
    int exclude_ca;           /* issued certificates only, no CA generation */
    const char *after_serial; /* a page: the certificates stored after this one */
} cert_filter;

/* A page of requests, oldest first; state -1 means any. */
typedef struct request_filter {
    int state;
    int64_t after_id; /* those with a larger id */
    int limit;        /* 0: no limit */
} request_filter;

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

/* The CA generations as the store shares them between nodes: each role's CA certificate, RA
 * certificate (RA mode) and the references of their keys (a file name relative to DIR, an
 * absolute path or a pkcs11: URI; never key material), and when it becomes (or became)
 * current. The files in DIR stay what an operator reads; the store mirrors them. */
typedef enum store_ca_role {
    STORE_CA_CURRENT = 0,
    STORE_CA_NEXT = 1,
    STORE_CA_PREVIOUS = 2,
} store_ca_role;

#define STORE_CA_ROLES 3
#define STORE_KEY_REF 1024

typedef struct store_ca_generation {
    unsigned char *ca_der; /* NULL when the role has no CA certificate */
    size_t ca_len;
    unsigned char *ra_der; /* NULL when it has no RA certificate */
    size_t ra_len;
    char ca_key[STORE_KEY_REF];
    char ra_key[STORE_KEY_REF];
    int64_t switch_at; /* Unix seconds */
} store_ca_generation;

/* The generations of every role, out[role]; a role without one is all zero. counter grows by
 * one at each ca_generations_put, on every node: a poll compares it. */
typedef struct store_ca_generations {
    store_ca_generation role[STORE_CA_ROLES];
    int64_t counter; /* 0 before the first put */
} store_ca_generations;

void store_ca_generations_clear(store_ca_generations *g);

/* A one-time challenge password, kept only as a hash. */
typedef struct store_challenge {
    char hash[STORE_KEY_ID]; /* hex SHA-256 of the challenge */
    int64_t created_at;
    int64_t expires_at;
    int64_t used_at;                /* 0 while unused */
    char subject_match[STORE_TEXT]; /* a POSIX extended regex, or empty for any subject */
} store_challenge;

/* A token of the admin API, kept only as a hash. */
#define STORE_TOKEN_NAME 64
typedef struct store_token {
    char name[STORE_TOKEN_NAME]; /* [A-Za-z0-9._-], unique */
    char role[16];               /* "read" or "operate" */
    char hash[STORE_KEY_ID];     /* hex SHA-256 of the token */
    int64_t created_at;
} store_token;

/* One row of the audit log: who did what to which certificate or transaction. */
#define STORE_ACTOR 160
typedef struct store_audit {
    int64_t id;              /* set by the store; grows with time */
    int64_t at;              /* Unix seconds; 0: now */
    char actor[STORE_ACTOR]; /* "token:alice", "cli:root", "scepd", "policy" */
    char action[32];         /* "issue", "approve", "revoke", "challenge.mint", ... */
    char subject[STORE_TEXT];
    char serial[STORE_HEX_SERIAL];
    char transaction_id[STORE_TID];
    char peer[STORE_ADDR];
    char detail[STORE_TEXT];
} store_audit;

/* Filters of the audit log, newest first; zero values mean "any". */
typedef struct audit_filter {
    const char *actor, *action, *serial;
    int64_t since, until; /* at >= since, at <= until */
    int64_t before_id;    /* a page: rows with a smaller id */
    int limit;            /* 0: no limit */
} audit_filter;

/* Failed attempts of one kind (scope: "address", "subject", "admin") from one source (key: an
 * address, a subject), shared by every process of the store so that several nodes agree. What
 * the numbers mean is the caller's policy (server/lockout.c); the store keeps them and forgets
 * the record after expires_at. */
typedef struct store_failure {
    char scope[16];
    char key[STORE_TEXT];
    int64_t window_start; /* when the current counting window began */
    int count;            /* failures in that window */
    int strikes;          /* lockouts since the record was created */
    int64_t locked_until; /* 0 or the end of the current lockout */
    int64_t first_at;     /* the first failure */
    int64_t last_at;      /* the last failure */
    int64_t total;        /* failures since first_at */
    int64_t expires_at;   /* then the record is forgotten */
} store_failure;

/* Applies one more failure at now to f (a record with only scope and key set when there was
 * none, or an expired one), inside the store's transaction. */
typedef void (*store_failure_step)(void *arg, store_failure *f, int64_t now);
typedef int (*store_failure_fn)(void *arg, const store_failure *f);

typedef int (*store_cert_fn)(void *arg, const store_cert *cert);
typedef int (*store_token_fn)(void *arg, const store_token *t);
typedef int (*store_audit_fn)(void *arg, const store_audit *a);
typedef int (*store_challenge_fn)(void *arg, const store_challenge *c);
typedef int (*store_request_fn)(void *arg, const store_request *req);

typedef struct store store;

typedef void (*store_durable_fn)(void *arg, store_status status, const char *why);

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
    /* A page of requests in the filter's state, by id. */
    store_status (*request_page)(store *s, const request_filter *f, store_request_fn fn, void *arg);

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
    /* Claims the issuing of the next CRL across processes, so that one node signs it, not all:
     * STORE_OK while this handle holds the claim (until crl_release), STORE_BUSY while another
     * holds it (it is issuing one now: read that back a moment later). NULL in a backend whose
     * processes may all issue (the front then answers STORE_OK). */
    store_status (*crl_claim)(store *s);
    void (*crl_release)(store *s);

    /* Adds a one-time challenge (by hash); STORE_EXISTS when that hash is known. */
    store_status (*challenge_add)(store *s, const store_challenge *c);
    store_status (*challenge_get)(store *s, const char *hash, store_challenge *out);
    /* Marks it used at `now` if it is unused and unexpired, atomically across processes;
     * STORE_CONFLICT when it was used or expired, STORE_NOT_FOUND when unknown. */
    store_status (*challenge_consume)(store *s, const char *hash, int64_t now);
    /* The challenges unused and unexpired at now, oldest first. */
    store_status (*challenge_list)(store *s, int64_t now, store_challenge_fn fn, void *arg);
    /* Marks used at now every unused challenge whose hash begins with the 16 hex digits id
     * (what the admin API shows); STORE_NOT_FOUND when there is none. */
    store_status (*challenge_revoke)(store *s, const char *id, int64_t now);

    /* Admin API tokens: add (STORE_EXISTS when the name is taken), list by name, remove by
     * name and find by hash (STORE_NOT_FOUND when there is none). */
    store_status (*token_add)(store *s, const store_token *t);
    store_status (*token_list)(store *s, store_token_fn fn, void *arg);
    store_status (*token_remove)(store *s, const char *name);
    store_status (*token_find)(store *s, const char *hash, store_token *out);

    /* The audit log: one row per action, shared by every node; listed newest first. */
    store_status (*audit_add)(store *s, const store_audit *a);
    store_status (*audit_list)(store *s, const audit_filter *f, store_audit_fn fn, void *arg);

    /* The failure record of (scope, key); STORE_NOT_FOUND when there is none, or it expired
     * before now. One indexed read: this is on the enrollment path. */
    store_status (*failure_get)(store *s, const char *scope, const char *key, int64_t now,
                                store_failure *out);
    /* The records of two sources at once, one read on the enrollment path (the lockout check
     * of an address and a subject; the two pairs differ): out[i] is that of (scope[i], key[i]), or
     * all zero when there is none or it expired before now. A NULL or empty key[i] is not looked
     * up. */
    store_status (*failure_get_pair)(store *s, const char *const scope[2], const char *const key[2],
                                     int64_t now, store_failure out[2]);
    /* Reads the record (or a fresh one), applies step, writes it back, atomically across
     * processes, and forgets a few expired records; *out is the record written. */
    store_status (*failure_add)(store *s, const char *scope, const char *key, int64_t now,
                                store_failure_step step, void *arg, store_failure *out);
    /* Every record that has not expired at now, by scope and key. */
    store_status (*failure_list)(store *s, int64_t now, store_failure_fn fn, void *arg);
    /* Forgets the records of key in every scope (key NULL: every record); *cleared (may be
     * NULL) is how many. */
    store_status (*failure_clear)(store *s, const char *key, int *cleared);

    /* Replaces the CA generations, every role at once (a role whose ca_der and ra_der are
     * NULL is dropped), and adds one to the counter; *counter (may be NULL) is the new one. */
    store_status (*ca_generations_put)(store *s, const store_ca_generations *g, int64_t *counter);
    /* The generations and the counter (0 and no roles before the first put). */
    store_status (*ca_generations_get)(store *s, store_ca_generations *out);
    /* The counter alone: what a node polls. */
    store_status (*ca_generations_counter)(store *s, int64_t *counter);

    /* An audit line: what happened to which transaction or serial. */
    store_status (*event_add)(store *s, const char *kind, const char *ref, const char *detail);

    /* Returns once every write this handle committed is on disk. A handle from store_open()
     * flushes at each commit, so this returns at once; a handle of a store_group commits
     * without waiting for the disk, and must call this before it reports a write to anyone. */
    store_status (*flush)(store *s);
    /* flush() for a caller that does not wait: done(arg, status, why) runs once every write
     * this handle committed so far is on disk (STORE_OK, why "") or never can be (STORE_ERROR,
     * why says why), exactly once, on the backend's thread or on the caller's before this
     * returns. done must be short and must not use the store. Optional: a backend whose commits
     * are durable when they return (PostgreSQL's COMMIT) leaves it NULL, and the front then
     * calls flush() and done at once. */
    void (*when_durable)(store *s, store_durable_fn done, void *arg);

    const char *(*last_error)(store *s);
    void (*destroy)(store *s);
} store_ops;

struct store {
    const store_ops *ops;
};

/* The largest CSR, certificate or CRL DER the store accepts, whatever the backend. */
#define STORE_MAX_BLOB (1024u * 1024u)

/*
 * Opens the store named by uri: "sqlite:PATH" or a plain path (SQLite), or "memory:" (a private
 * store in memory, for tests), and migrates its schema to the current version. A store that
 * does not exist is an error ("no store at PATH: run scepd init"): only store_create() makes
 * one. Every commit of the handle is durable when it returns. On failure returns NULL and
 * writes a reason into err (may be NULL).
 */
store *store_open(const char *uri, char *err, size_t errlen);
/* The same, creating the store when it does not exist (`scepd init`). */
store *store_create(const char *uri, char *err, size_t errlen);
void store_close(store *s);
/* A consistent copy of the store at uri in the new file dest (not there yet), taken while other
 * processes use it: `scepd backup`. 0; 1 for a backend without a copy of its own (dest is not
 * made, err names the tool to use); -1 with a reason in err. */
int store_backup(const char *uri, const char *dest, char *err, size_t errlen);
/* Brings the schema of the existing store at uri to the current version (what every open does
 * on its own): `scepd db migrate`. *from is the version found, *to the version now. 0, or -1
 * with a reason in err (a newer schema is refused). */
int store_migrate(const char *uri, int64_t *from, int64_t *to, char *err, size_t errlen);

/*
 * A server's worker threads: the handles of one group share what the backend can share between
 * threads (SQLite: one connection and one flush for every waiting commit, a group commit), and
 * may commit without waiting for the disk. A group handle is still one thread's; call flush()
 * (or when_durable()) on it before a reply that reports its writes. Close every handle before the
 * group.
 */
typedef struct store_group store_group;

store_group *store_group_open(const char *uri, char *err, size_t errlen);
store *store_group_handle(store_group *g, char *err, size_t errlen);
/* Every flush() of a group handle also checks that the database file, its log and its
 * shared-memory file are still the files the group opened (device and inode). Once one was
 * removed or replaced while serving, or a flush failed, every operation and flush of the
 * group's handles fails with STORE_ERROR and says why in last_error(): what they wrote would
 * be lost. */
void store_group_close(store_group *g);

/*
 * For backends. A backend is one row of the front's table (store.c), found by the scheme of a
 * URI; rest is what follows "scheme:" (the whole URI for a plain path), uri the whole, for
 * messages. The front checks every call against the contract above (valid states, keys and
 * sizes) before it reaches the backend, so a backend does only what the check leaves: storing,
 * atomically. Backends include this header only.
 */
typedef struct store_backend_group store_backend_group;

typedef struct store_backend {
    const char *scheme;
    store *(*open)(const char *uri, const char *rest, char *err, size_t errlen); /* never creates */
    store *(*create)(const char *uri, const char *rest, char *err, size_t errlen);
    store_backend_group *(*group_open)(const char *uri, const char *rest, char *err, size_t errlen);
    store *(*group_handle)(store_backend_group *g); /* NULL when out of memory */
    void (*group_close)(store_backend_group *g);
    /* Optional (NULL: the backend's own tools back it up, such as pg_dump): a consistent copy
     * of the store, taken while it serves, into the new file dest. 0, or -1 with err. */
    int (*backup)(const char *uri, const char *rest, const char *dest, char *err, size_t errlen);
    /* Opens the existing store as open() does, migrating it; *from is the schema version found
     * before. 0, or -1 with err. */
    int (*migrate)(const char *uri, const char *rest, int64_t *from, int64_t *to, char *err,
                   size_t errlen);
} store_backend;

#endif
