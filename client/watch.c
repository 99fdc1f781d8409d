/* scep watch: the daemon's loop. Each wake-up is one check: switch to a held shadow pair when
 * its time has come, renew when the share of the lifetime has passed, and, for a certificate
 * that ends with its CA, ask the server now and then whether a CA rollover is prepared. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files.h"
#include "watch.h"

enum {
    BACKOFF_FIRST = 30,    /* seconds before the first retry after a failure */
    BACKOFF_MAX = 3600,    /* doubling up to */
    PROBE_INTERVAL = 3600, /* between rollover probes while the certificate ends with its CA */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

typedef struct watch_state {
    const watch_config *w;
    watch_paths p;
    sigset_t waiting;  /* the signal mask while asleep: SIGTERM and SIGINT let through */
    sigset_t original; /* for --exec */
    int backoff;       /* seconds; 0 while nothing fails */
    time_t next_probe;
    time_t last_action; /* the last renewal or switch (see check_current) */
    time_t announced;   /* the last due time logged, so that each is logged once */
    int acted;          /* this check renewed or switched */
    char err[1024];
} watch_state;

/* SIGTERM and SIGINT are blocked during actions and taken only while asleep, so the daemon
 * stops between actions, never halfway through writing files. */
static void setup_signals(watch_state *st)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &st->original);
    st->waiting = st->original;
    sigdelset(&st->waiting, SIGTERM);
    sigdelset(&st->waiting, SIGINT);
}

static void sleep_until(const watch_state *st, time_t t)
{
    for (time_t now = time(NULL); !stop_signal && now < t; now = time(NULL)) {
        struct timespec ts = {t - now, 0};
        pselect(0, NULL, NULL, NULL, &ts, &st->waiting);
    }
}

static void log_status(const char *cmd, int status)
{
    if (WIFEXITED(status))
        watch_log("--exec '%s' exited with status %d", cmd, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        watch_log("--exec '%s' was killed by signal %d", cmd, WTERMSIG(status));
}

/* --exec, told what happened through SCEP_WATCH_EVENT (renewed, switched), SCEP_CERT, SCEP_KEY. */
static void run_exec(const watch_state *st, const char *event)
{
    const watch_config *w = st->w;
    if (w->exec == NULL)
        return;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        sigprocmask(SIG_SETMASK, &st->original, NULL);
        setenv("SCEP_WATCH_EVENT", event, 1);
        setenv("SCEP_CERT", w->cert, 1);
        setenv("SCEP_KEY", w->key, 1);
        execl("/bin/sh", "sh", "-c", w->exec, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0)
        watch_log("cannot run --exec: %s", strerror(errno));
    else if (waitpid(pid, &status, 0) == pid)
        log_status(w->exec, status);
}

static void announce(watch_state *st, time_t due, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs what the daemon waits for, once per due time. */
static void announce(watch_state *st, time_t due, const char *fmt, ...)
{
    if (due == st->announced)
        return;
    st->announced = due;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    watch_log("%s", text);
}

/* A shadow pair is held: switch when its validity begins. */
static int check_shadow(watch_state *st, time_t now, time_t *next)
{
    const watch_config *w = st->w;
    watch_pair shadow;
    char when[32];
    int rc = watch_pair_load(st->p.cert_next, st->p.key_next, &shadow, st->err, sizeof(st->err));
    if (rc != EXIT_OK) {
        /* Set aside, so that the next check asks for a shadow certificate again. */
        char aside[4200];
        snprintf(aside, sizeof(aside), "%s.bad", st->p.cert_next);
        if (rename(st->p.cert_next, aside) == 0)
            watch_log("unusable shadow pair moved aside to %s", aside);
        return rc;
    }
    time_t switch_at = watch_time(X509_get0_notBefore(shadow.cert));
    time_t until = watch_time(X509_get0_notAfter(shadow.cert));
    watch_pair_free(&shadow);
    if (now < switch_at) {
        *next = switch_at;
        announce(st, switch_at, "holding the shadow certificate %s; switching to it at %s",
                 st->p.cert_next, watch_date(switch_at, when, sizeof(when)));
        return EXIT_OK;
    }
    if (watch_switch(w, &st->p, st->err, sizeof(st->err)) != 0)
        return EXIT_ERROR;
    watch_log("switched to the next CA: %s now valid until %s, CA certificates in %s", w->cert,
              watch_date(until, when, sizeof(when)), w->c.ca_dir);
    st->acted = 1;
    run_exec(st, "switched");
    return EXIT_OK;
}

/* The new certificate's switch time (a shadow) or end, for the log; 0 when unreadable. */
static time_t new_cert_time(const watch_state *st, watch_outcome outcome)
{
    int shadow = outcome == WATCH_SHADOW;
    watch_pair fresh;
    char err[512];
    if (watch_pair_load(shadow ? st->p.cert_next : st->w->cert,
                        shadow ? st->p.key_next : st->w->key, &fresh, err, sizeof(err)) != EXIT_OK)
        return 0;
    time_t t =
        watch_time(shadow ? X509_get0_notBefore(fresh.cert) : X509_get0_notAfter(fresh.cert));
    watch_pair_free(&fresh);
    return t;
}

static int attempt(watch_state *st, const watch_pair *cur, int probe_only)
{
    watch_outcome outcome = WATCH_NOTHING;
    int rc = watch_renew(st->w, &st->p, cur, probe_only, &outcome, st->err, sizeof(st->err));
    if (rc != EXIT_OK || outcome == WATCH_NOTHING)
        return rc;
    char when[32];
    watch_date(new_cert_time(st, outcome), when, sizeof(when));
    st->acted = 1;
    if (outcome == WATCH_SHADOW) {
        watch_log("shadow certificate from the next CA saved to %s, valid from %s (the switch)",
                  st->p.cert_next, when);
    } else {
        watch_log("renewed: %s now valid until %s", st->w->cert, when);
        run_exec(st, "renewed");
    }
    return EXIT_OK;
}

/* Renews when due; otherwise, for a certificate that ends with its CA, probes for a rollover. */
static int check_current(watch_state *st, time_t now, time_t *next)
{
    const watch_config *w = st->w;
    watch_pair cur;
    char when[32], due_text[32];
    int rc = watch_pair_load(w->cert, w->key, &cur, st->err, sizeof(st->err));
    if (rc != EXIT_OK)
        return rc;
    time_t from = watch_time(X509_get0_notBefore(cur.cert));
    time_t until = watch_time(X509_get0_notAfter(cur.cert));
    time_t due = from + (time_t)((double)(until - from) * w->renew_at / 100.0);
    /* A due time that a renewal just passed (--renew-at 0) would renew in a loop: wait a check
     * interval then, but never past the certificate's end. */
    if (st->last_action != 0 && due <= st->last_action) {
        due = st->last_action + w->check_interval;
        if (due > until)
            due = until;
    }
    time_t ca_until = watch_ca_not_after(w->c.ca_dir);
    if (now >= due) {
        rc = attempt(st, &cur, 0);
    } else if (ca_until != 0 && until >= ca_until && now >= st->next_probe) {
        st->next_probe = now + PROBE_INTERVAL;
        rc = attempt(st, &cur, 1);
    }
    if (rc == EXIT_OK && !st->acted) {
        int ends_with_ca = ca_until != 0 && until >= ca_until;
        *next = ends_with_ca && st->next_probe < due ? st->next_probe : due;
        announce(st, due, "%s valid until %s; renewal due at %s (%d%% of its lifetime)", w->cert,
                 watch_date(until, when, sizeof(when)), watch_date(due, due_text, sizeof(due_text)),
                 w->renew_at);
    }
    watch_pair_free(&cur);
    return rc;
}

static int check(watch_state *st, time_t now, time_t *next)
{
    st->acted = 0;
    st->err[0] = '\0';
    *next = now + st->w->check_interval;
    watch_recover(st->w, &st->p);
    if (files_exists(st->p.cert_next))
        return check_shadow(st, now, next);
    return check_current(st, now, next);
}

/* After a failure: one line, and the time of the retry. */
static time_t retry_time(watch_state *st, int rc, time_t now)
{
    st->backoff = st->backoff ? st->backoff * 2 : BACKOFF_FIRST;
    if (st->backoff > BACKOFF_MAX)
        st->backoff = BACKOFF_MAX;
    watch_log("attempt failed (exit code %d): %s; retrying in %ds", rc, st->err, st->backoff);
    return now + st->backoff;
}

int watch_run(const watch_config *w)
{
    watch_state st = {.w = w};
    if (watch_paths_init(w, &st.p) != 0)
        return cli_fail("watch", EXIT_USAGE, "a path is too long");
    watch_recover(w, &st.p);
    watch_pair first;
    if (watch_pair_load(w->cert, w->key, &first, st.err, sizeof(st.err)) != EXIT_OK)
        return cli_fail("watch", EXIT_USAGE, "%s", st.err);
    watch_pair_free(&first);
    setup_signals(&st);
    if (!w->once)
        watch_log("watching %s: renewal at %d%% of its lifetime, checks every %ds", w->cert,
                  w->renew_at, w->check_interval);
    for (;;) {
        time_t now = time(NULL), next = 0;
        int rc = check(&st, now, &next);
        if (w->once) {
            if (rc != EXIT_OK)
                watch_log("failed (exit code %d): %s", rc, st.err);
            return rc;
        }
        if (rc != EXIT_OK) {
            next = retry_time(&st, rc, now);
        } else {
            st.backoff = 0;
            if (st.acted)
                st.last_action = now;
            if (next > now + w->check_interval)
                next = now + w->check_interval;
        }
        if (!st.acted) /* after an action, plan again at once */
            sleep_until(&st, next > now ? next : now + 1);
        if (stop_signal) {
            watch_log("stopping on signal %d", (int)stop_signal);
            return EXIT_OK;
        }
    }
}
