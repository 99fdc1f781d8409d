/* --save DIR: what a test needs to check a run afterwards (which transactions were answered)
 * and to send any request again (a resend must get the same certificate). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "bench.h"

/* Opens DIR/NAME for writing with mode. NULL with a message in err. */
static FILE *open_in(const char *dir, const char *name, mode_t mode, char *err, size_t errlen)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    return f;
}

static int save_one(const bench_target *t, const char *dir, const bench_req *r, char *err,
                    size_t errlen)
{
    char name[SCEP_MAX_TRANSACTION_ID + 8];
    const char *tid = r->transaction_id;
    snprintf(name, sizeof(name), "%s.req", tid);
    FILE *req = open_in(dir, name, 0644, err, errlen);
    snprintf(name, sizeof(name), "%s.key", tid);
    FILE *key = req ? open_in(dir, name, 0600, err, errlen) : NULL;
    snprintf(name, sizeof(name), "%s.crt", tid);
    FILE *crt = key ? open_in(dir, name, 0644, err, errlen) : NULL;
    int ok = crt != NULL && fwrite(r->der, 1, r->der_len, req) == r->der_len &&
             PEM_write_PrivateKey(key, t->keys[r->key_index], NULL, NULL, 0, NULL, NULL) == 1 &&
             PEM_write_X509(crt, t->signers[r->key_index]) == 1;
    int closed = (req == NULL || fclose(req) == 0) & (key == NULL || fclose(key) == 0) &
                 (crt == NULL || fclose(crt) == 0);
    if (crt != NULL && !(ok && closed))
        snprintf(err, errlen, "cannot save request %s in %s", tid, dir);
    return ok && closed ? 0 : -1;
}

int bench_save(const bench_target *t, const bench_opts *o, const bench_req *reqs, char *err,
               size_t errlen)
{
    FILE *results = open_in(o->save_dir, "results", 0644, err, errlen);
    if (results == NULL)
        return -1;
    int rc = 0;
    for (long i = 0; i < o->count && rc == 0; i++) {
        const bench_req *r = &reqs[i];
        fprintf(results, "%s %s %s %d %s %s %lld\n", r->transaction_id,
                r->verified ? "ok" : "failed", r->verified ? r->serial : "-", r->attempts,
                r->first_outcome[0] ? r->first_outcome : "-", r->outcome[0] ? r->outcome : "-",
                r->sent_at_ms);
        rc = save_one(t, o->save_dir, r, err, errlen);
    }
    if (fclose(results) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot write %s/results", o->save_dir);
        rc = -1;
    }
    return rc;
}
