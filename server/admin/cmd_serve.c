/* scepd serve: answer SCEP over HTTP until SIGTERM or SIGINT. */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

#include "admin/cli.h"
#include "admin/admin_http.h"
#include "ca/ca_generations.h"
#include "ca/ca_health.h"
#include "http/http.h"
#include "log/log.h"
#include "os/notify.h"
#include "ca/rollover.h"
#include "service/server.h"
#include "admin/privileges.h"

static const char usage_text[] =
    "usage: scepd serve --dir DIR [options]\n"
    "\n"
    "Serves every SCEP operation (GetCACaps, GetCACert, GetCACertChain, PKIOperation by GET and\n"
    "POST on any path) for the CA in DIR. Settings come from DIR/scepd.conf; flags override.\n"
    "Stops on SIGTERM or SIGINT after the requests in flight finish.\n"
    "\n"
    "  --dir DIR                the CA directory made by `scepd init`\n"
    "  --listen HOST:PORT       where to listen (default 127.0.0.1:8080)\n"
    "  --challenge SECRET       the challenge password requests must carry (every local user\n"
    "                           sees it in ps: prefer --challenge-file)\n"
    "  --challenge-file FILE    read the challenge from FILE (first line)\n"
    "  --approve auto|manual    issue at once, or answer PENDING until `scepd approve`\n"
    "  --legacy-algorithms      also accept and answer single DES and MD5 (old devices)\n"
    "  --log-format text|json   one log line per request on stdout (default text)\n"
    "  --threads N              worker threads (default: two per core)\n"
    "  --set KEY=VALUE          any scepd.conf setting\n"
    "  --user NAME              started as root: become NAME after binding and loading keys\n"
    "  --allow-root             serve as root without giving it up (containers, tests)\n"
    "  --allow-insecure-permissions\n"
    "                           start even when a key or token file (or scepd.conf holding a\n"
    "                           secret) is readable by group or others or a symbolic link, or\n"
    "                           DIR or the store's directory is writable by group or others\n"
    "\n"
    "File names given as flags are relative to the current directory; those in scepd.conf to\n"
    "DIR. SIGHUP reopens log_file (for logrotate) and reads scepd.conf, the flags, the\n"
    "challenge file, the CA files and the TLS certificate and key again; the log names each\n"
    "changed setting, and those that need a restart (listen, listen_tls, store, admin_*,\n"
    "log_file).\n"
    "Exit codes: 0 stopped by a signal, 1 cannot start (configuration, files, keys, store,\n"
    "address), 2 bad command line.\n"
    "\n"
    "Without a static challenge, new requests need a one-time challenge (`scepd challenge`),\n"
    "or, with --approve manual, an operator's approval.\n";

static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"challenge", required_argument, NULL, 'c'},
                                         {"challenge-file", required_argument, NULL, 'f'},
                                         {"approve", required_argument, NULL, 'a'},
                                         {"legacy-algorithms", no_argument, NULL, 'L'},
                                         {"log-format", required_argument, NULL, 'o'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"set", required_argument, NULL, 's'},
                                         {"allow-insecure-permissions", no_argument, NULL, 'I'},
                                         {"user", required_argument, NULL, 'u'},
                                         {"allow-root", no_argument, NULL, 'R'},
                                         {NULL, 0, NULL, 0}};

/* The command line, kept: a reload reads DIR/scepd.conf again and applies the same flags. */
typedef struct serve_args {
    int argc;
    char **argv;
    int insecure_ok;     /* --allow-insecure-permissions */
    int allow_root;      /* --allow-root */
    const char *exposed; /* a flag that put a secret on the command line, or NULL */
} serve_args;

/* One flag over c: --set KEY=VALUE, or a flag named after its key. */
static int apply_flag(config *c, int flag, const char *arg, char *err, size_t errlen)
{
    static const char *const keys[128] = {
        ['l'] = "listen",  ['c'] = "challenge",  ['f'] = "challenge_file",
        ['a'] = "approve", ['o'] = "log_format", ['t'] = "threads",
        ['u'] = "user"};
    char key[64];
    const char *eq = flag == 's' ? strchr(arg, '=') : NULL;
    if (flag == 'L')
        c->legacy_algorithms = 1;
    if (flag != 's')
        return keys[flag & 127] ? config_set_arg(c, keys[flag & 127], arg, err, errlen) : 0;
    if (eq == NULL || (size_t)(eq - arg) >= sizeof(key)) {
        snprintf(err, errlen, "--set needs KEY=VALUE, not '%s'", arg);
        return -1;
    }
    memcpy(key, arg, (size_t)(eq - arg));
    key[eq - arg] = '\0';
    return config_set_arg(c, key, eq + 1, err, errlen);
}

/* DIR/scepd.conf, which must not be readable by others when it holds a secret. */
static int read_file(const serve_args *a, const char *dir, config *c, char *err, size_t errlen)
{
    char path[CONFIG_PATH + 16];
    struct stat sb;
    config_defaults(c, dir);
    snprintf(path, sizeof(path), "%s/scepd.conf", dir);
    if (config_load(c, path, err, errlen) != 0 || cli_apply_store_flag(c, err, errlen) != 0)
        return -1;
    if ((c->challenge[0] != '\0' || c->admin_token[0] != '\0') && !a->insecure_ok &&
        stat(path, &sb) == 0 && (sb.st_mode & 077) != 0) {
        snprintf(err, errlen,
                 "%.512s holds a secret and is readable by group or others (mode %04o): chmod 600 "
                 "it, or pass --allow-insecure-permissions",
                 path, (unsigned)(sb.st_mode & 07777));
        return -1;
    }
    return 0;
}

/*
 * The whole configuration: the file, then the flags, then the challenge file, and the modes
 * of the key and token files. Returns 0, EXIT_USAGE (a bad flag) or EXIT_FAIL, with why in err
 * (empty when getopt already said it).
 */
static int read_settings(serve_args *a, config *c, char *err, size_t errlen)
{
    const char *dir = NULL;
    int flag;
    err[0] = '\0';
    optind = 1;
    while ((flag = getopt_long(a->argc, a->argv, "", longopts, NULL)) != -1)
        if (flag == 'd')
            dir = optarg;
        else if (flag == 'I')
            a->insecure_ok = 1;
        else if (flag == 'R')
            a->allow_root = 1;
        else if (flag == 'c' || (flag == 's' && (strncmp(optarg, "challenge=", 10) == 0 ||
                                                 strncmp(optarg, "admin_token=", 12) == 0)))
            a->exposed = flag == 'c' ? "--challenge" : "--set";
        else if (flag == '?')
            return EXIT_USAGE;
    if (optind != a->argc) {
        snprintf(err, errlen, "unexpected argument '%s'", a->argv[optind]);
        return EXIT_USAGE;
    }
    if (dir == NULL) {
        snprintf(err, errlen, "--dir DIR is required");
        return EXIT_USAGE;
    }
    if (read_file(a, dir, c, err, errlen) != 0)
        return EXIT_FAIL;
    optind = 1;
    while ((flag = getopt_long(a->argc, a->argv, "", longopts, NULL)) != -1)
        if (apply_flag(c, flag, optarg, err, errlen) != 0)
            return EXIT_USAGE;
    if (config_read_challenge_file(c, err, errlen) != 0)
        return EXIT_FAIL;
    if (config_read_validate_secret(c, err, errlen) != 0)
        return EXIT_FAIL;
    if (!a->insecure_ok && (config_check_secret_files(c, err, errlen) != 0 ||
                            privileges_check_dirs(c, err, errlen) != 0))
        return EXIT_FAIL;
    return 0;
}

static void log_health_of(const server *srv, const authority *ca, const char *prof_name)
{
    char report[2048] = "";
    ca_health_of(ca, prof_name, (int64_t)time(NULL), report, sizeof(report));
    for (char *line = report, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        if (strncmp(line, "error: ", 7) == 0)
            log_error(stdout, srv->cfg.log_format, line + 7);
        else
            log_info(stdout, srv->cfg.log_format, line);
    }
}

/* The CA's and RA's state for the operator (and of each profile's ca_dir): an error when they
 * cannot issue, a warning when they expire within CA_EXPIRY_WARNING_DAYS. */
static void log_health(const server *srv)
{
    time_t now = time(NULL);
    log_health_of(srv, &server_era(srv, now)->ca, NULL);
    for (size_t i = 0; i < srv->n_pcas; i++) {
        const profile_ca *pc = &srv->pcas[i];
        log_health_of(srv, &eras_in_force(pc->eras, pc->n_eras, pc->switch_at, now)->ca,
                      pc->profile);
    }
}

static void announce(const server *srv, const http_server *h)
{
    char line[CONFIG_PATH + 256];
    snprintf(line, sizeof(line), "serving %s CA \"%s\" on port %u (%s approval%s%s)",
             srv->eras[0].ca.ra_cert ? "an RA-mode" : "a", srv->cfg.dir, http_port(h),
             srv->cfg.approve == APPROVE_AUTO ? "automatic" : "manual",
             srv->cfg.legacy_algorithms ? ", legacy DES/MD5 allowed" : "",
             srv->n_eras == 2 ? ", next CA prepared" : "");
    log_info(stdout, srv->cfg.log_format, line);
    if (http_tls_port(h) != 0) {
        snprintf(line, sizeof(line), "serving HTTPS on port %u (TLS certificate serial %s)",
                 http_tls_port(h), http_tls_serial(h));
        log_info(stdout, srv->cfg.log_format, line);
    }
    if (srv->n_eras == 2 && srv->cfg.crl_url[0] != '\0' && strstr(srv->cfg.crl_url, "{ca}") == NULL)
        log_info(stdout, srv->cfg.log_format, CRL_URL_ROLLOVER_WARNING);
    log_health(srv);
}

static void log_line(const config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(const config *c, const char *fmt, ...)
{
    char line[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_info(stdout, c->log_format, line);
}

/*
 * SIGHUP: reads scepd.conf, the flags, the challenge file and the CA files again (after
 * `scepd rollover`, new certificates or a changed setting) and serves with them on the same
 * listening socket; the old server finishes its requests first, with its own configuration.
 * Settings that need a restart keep their old values, named in the log. A configuration or CA
 * that does not load leaves the old one serving. Setting names only: never a value (secrets).
 */
static http_server *reload(serve_args *a, server **srv, http_server *h)
{
    server *fresh = calloc(1, sizeof(*fresh));
    config *cfg = calloc(1, sizeof(*cfg));
    char err[1024], applied[512], kept[256];
    const config *old = &(*srv)->cfg;
    log_file_reopen(
        old->log_format); /* logrotate moved it: this reload's lines go to the new one */
    int rc = fresh && cfg ? read_settings(a, cfg, err, sizeof(err)) : -1;
    if (rc == 0) {
        config_reload_changes(cfg, old, applied, sizeof(applied), kept, sizeof(kept));
        rc = server_init(fresh, cfg, err, sizeof(err));
    }
    if (rc == 0 && profile_sections_differ(&fresh->profiles, &(*srv)->profiles))
        snprintf(applied + strlen(applied), sizeof(applied) - strlen(applied), "%sprofiles",
                 applied[0] ? ", " : "");
    if (cfg != NULL)
        OPENSSL_cleanse(cfg, sizeof(*cfg));
    free(cfg);
    if (rc != 0) {
        log_line(old, "reload refused, still serving the old configuration and CA: %s",
                 fresh && cfg ? err : "out of memory");
        free(fresh);
        return h;
    }
    if (kept[0] != '\0')
        log_line(old, "reload: %s changed; that needs a restart, keeping the old value%s", kept,
                 strchr(kept, ',') ? "s" : "");
    log_line(old, "reload: configuration read%s%s",
             applied[0] ? "; applied: "
             : kept[0]  ? ", no other setting changed"
                        : ", no setting changed",
             applied);
    http_server *next = http_takeover(h, fresh, err, sizeof(err));
    if (next == h) { /* not taken over (out of memory): the old server keeps its own */
        log_line(old, "reload refused, still serving the old configuration and CA: %s", err);
        server_free(fresh);
        free(fresh);
        return h;
    }
    server_free(*srv);
    free(*srv);
    *srv = fresh;
    if (next == NULL)
        log_info(stdout, fresh->cfg.log_format, err);
    else
        announce(fresh, next);
    return next;
}

/*
 * auto_rollover_days of the CA that c configures (the server's or a profile's ca_dir, named by
 * who for the log): when its current CA ends within that many days and nothing is prepared,
 * prepare the next CA in its directory, recorded in the store c names (switching at the
 * current one's expiry). An expired CA is left to the operator. Returns 1 when it did.
 */
static int auto_rollover_of(const config *c, const era *now, const char *who, log_format fmt)
{
    time_t end = (time_t)ca_unix_time(X509_get0_notAfter(now->ca.cert));
    if (c->auto_rollover_days <= 0 || now->ca.next.cert != NULL || end <= time(NULL) ||
        end - time(NULL) > (time_t)c->auto_rollover_days * 86400)
        return 0;
    char err[512], line[CONFIG_PATH + 700];
    store *st = NULL;
    char uri[CONFIG_PATH * 2];
    config_store_uri(c, uri, sizeof(uri));
    st = store_open(uri, err, sizeof(err));
    int rc = st ? rollover_prepare(c, st, end, 0, err, sizeof(err)) : -1;
    store_close(st);
    snprintf(line, sizeof(line),
             rc == 0 ? "auto rollover: %s: prepared the next CA in %s" : "auto rollover: %s: %s",
             who, rc == 0 ? c->dir : err);
    log_info(stdout, fmt, line);
    return rc == 0;
}

/* auto_rollover_of the server's CA and of each profile's ca_dir. 1 when any was prepared. */
static int auto_rollover(const server *srv)
{
    time_t t = time(NULL);
    log_format fmt = srv->cfg.log_format;
    int done = auto_rollover_of(&srv->cfg, server_era(srv, t), "the server's CA", fmt);
    for (size_t i = 0; i < srv->n_pcas; i++) {
        const profile_ca *pc = &srv->pcas[i];
        char who[CONFIG_PROFILE_NAME + 32];
        snprintf(who, sizeof(who), "profile %s (ca_dir)", pc->profile);
        done |= auto_rollover_of(pc->cfg, eras_in_force(pc->eras, pc->n_eras, pc->switch_at, t),
                                 who, fmt);
    }
    return done;
}

/* How often a node on a shared (PostgreSQL) store reads the store's CA generation counter, to
 * serve another node's rollover or RA renewal without a restart. */
#define GENERATION_POLL_SECONDS 5

typedef struct generation_watch {
    store *st;    /* NULL: not watching (SQLite: the files of DIR are what every server reads) */
    int64_t seen; /* the counter of the generations in DIR's files; -1: look again */
} generation_watch;

static void watch_start(generation_watch *w, const config *c)
{
    char uri[CONFIG_PATH * 2], err[512];
    config_store_uri(c, uri, sizeof(uri));
    w->seen = -1;
    if (strncmp(uri, "postgres", 8) != 0)
        return;
    w->st = store_open(uri, err, sizeof(err));
    if (w->st == NULL)
        log_line(c, "CA generations: cannot watch the store, SIGHUP after a rollover: %s", err);
}

/* The store's generations into DIR's files (a missing key refuses them, files untouched);
 * 1 when the server should reload (a file changed, or the counter moved while serving), 0
 * when not, -1 when refused. */
static int watch_sync(generation_watch *w, const config *c, int64_t counter)
{
    store_ca_generations g;
    char err[1024];
    int changed = 0, was_known = w->seen >= 0;
    int rc = w->st->ops->ca_generations_get(w->st, &g) == STORE_OK ? 0 : -1;
    if (rc != 0)
        return 0; /* the store is away: read it again at the next poll */
    w->seen = counter;
    if (g.counter == 0) { /* no generation recorded yet (a store from before schema 9) */
        store_ca_generations_clear(&g);
        return 0;
    }
    rc = ca_generations_to_files(c, &g, &changed, err, sizeof(err));
    store_ca_generations_clear(&g);
    if (rc == 0) /* a new counter: reload even when DIR is this node's and already has them */
        return changed || was_known;
    log_line(c,
             "CA generations %lld in the store refused, still serving the generations this node "
             "has: %s",
             (long long)counter, err);
    ca_generations_refused(err);
    return -1;
}

/* A poll: when the counter moved (or after a SIGHUP), the new generations are served here. */
static http_server *watch_poll(generation_watch *w, serve_args *a, server **srv, http_server *h,
                               admin_http *admin)
{
    int64_t counter = 0;
    if (w->st == NULL || h == NULL ||
        w->st->ops->ca_generations_counter(w->st, &counter) != STORE_OK || counter == w->seen)
        return h;
    int rc = watch_sync(w, &(*srv)->cfg, counter);
    if (rc <= 0) {
        if (rc == 0 && w->seen == counter)
            ca_generations_refused("");
        return h;
    }
    log_line(&(*srv)->cfg, "CA generations %lld in the store: reloading", (long long)counter);
    const server *before = *srv;
    notify_reloading();
    h = reload(a, srv, h);
    admin_http_set_server(admin, *srv);
    notify_ready();
    ca_generations_refused(*srv == before ? "the CA generations in the store do not load here "
                                            "(the log says why)"
                                          : "");
    return h;
}

static const char *admin_banner(const config *c)
{
    return c->admin_tls_cert[0] == '\0'
               ? "admin endpoint: the console at /ui/, /api/v1/, POST /challenge, GET /readyz and "
                 "/healthz on the admin listener"
               : "admin endpoint (HTTPS only): the console at /ui/, /api/v1/, POST /challenge, GET "
                 "/readyz and /healthz on the admin listener";
}

/* SIGHUP reloads; a quiet while checks whether an automatic rollover is due and, on a shared
 * store, whether another node changed the CA generations; the CA's state is said again once
 * a day. Returns when a signal says stop. */
static http_server *serve_loop(serve_args *a, server **srv, http_server *h, admin_http *admin,
                               sigset_t *signals)
{
    generation_watch w = {0};
    watch_start(&w, &(*srv)->cfg);
    h = watch_poll(&w, a, srv, h, admin);
    time_t said = time(NULL);
    for (;;) {
        struct timespec wait = {w.st ? GENERATION_POLL_SECONDS : 60, 0};
        int sig = h ? sigtimedwait(signals, NULL, &wait) : SIGTERM;
        if (sig == SIGHUP || (sig < 0 && auto_rollover(*srv))) {
            const server *before = *srv;
            notify_reloading();
            h = reload(a, srv, h);
            if (*srv != before) /* a refused reload keeps every file as it was */
                admin_http_reload_tls(admin);
            admin_http_set_server(admin, *srv);
            notify_ready();
            w.seen = -1; /* a refused generation is tried again */
        } else if (sig == SIGTERM || sig == SIGINT)
            break;
        h = watch_poll(&w, a, srv, h, admin);
        if (h != NULL && time(NULL) - said >= 86400) {
            log_health(*srv);
            said = time(NULL);
        }
    }
    store_close(w.st);
    return h;
}

/* log_file, relative to DIR: from here on, the log goes there instead of stdout. */
static int open_log_file(const config *c, char *err, size_t errlen)
{
    char path[CONFIG_PATH * 2];
    if (c->log_file[0] == '\0')
        return 0;
    config_path(c, c->log_file, path, sizeof(path));
    return log_file_open(path, err, errlen);
}

static int run(int argc, char **argv)
{
    config c;
    serve_args args = {argc, argv, 0};
    char err[1024];
    int rc = read_settings(&args, &c, err, sizeof(err));
    if (rc == EXIT_USAGE && err[0] == '\0')
        return cli_usage(&cmd_serve);
    if (rc == EXIT_USAGE)
        return cli_misuse("serve", "%s", err);
    if (rc != 0 || open_log_file(&c, err, sizeof(err)) != 0)
        return cli_fail("serve", "%s", err);
    if (args.exposed != NULL)
        log_line(&c,
                 "warning: %s puts a secret on the command line, where every local user reads "
                 "it (ps, /proc/PID/cmdline): use --challenge-file FILE or scepd.conf (mode 0600)",
                 args.exposed);
    if (c.challenge[0] == '\0' && c.approve == APPROVE_AUTO && c.validate.url[0] == '\0')
        log_info(stdout, c.log_format,
                 "no static challenge: new requests need a one-time challenge (scepd challenge)");
    /* Block the signals before any thread starts, so that only sigwait() sees them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return cli_fail("serve", "out of memory");
    if (server_init(srv, &c, err, sizeof(err)) != 0) {
        free(srv);
        return cli_fail("serve", "%s", err);
    }
    if (privileges_check_user(&c, args.allow_root, err, sizeof(err)) != 0) {
        server_free(srv);
        free(srv);
        return cli_fail("serve", "%s", err);
    }
    http_server *h = http_start(srv, err, sizeof(err));
    if (h == NULL) {
        server_free(srv);
        free(srv);
        return cli_fail("serve", "%s", err);
    }
    announce(srv, h);
    admin_http *admin = admin_http_start(&c, err, sizeof(err));
    if (admin == NULL && err[0] != '\0') {
        http_stop(h);
        server_free(srv);
        free(srv);
        return cli_fail("serve", "%s", err);
    }
    if (admin != NULL)
        log_info(stdout, c.log_format, admin_banner(&c));
    if (privileges_drop(&c, err, sizeof(err)) != 0) {
        admin_http_stop(admin);
        http_stop(h);
        server_free(srv);
        free(srv);
        return cli_fail("serve", "%s", err);
    }
    if (c.user[0] != '\0')
        log_line(&c, "running as user %s", c.user);
    admin_http_set_server(admin, srv); /* /readyz answers while a rollover is prepared */
    if (auto_rollover(srv))
        h = reload(&args, &srv, h);
    admin_http_set_server(admin, srv);
    notify_ready();
    h = serve_loop(&args, &srv, h, admin, &signals);
    http_refuse_new(h); /* before the log line: what is answered after it was taken before */
    notify_stopping();
    log_info(stdout, c.log_format, "stopping: finishing requests in flight");
    admin_http_stop(admin);
    http_stop(h);
    server_free(srv);
    free(srv);
    log_info(stdout, c.log_format, "stopped");
    return h ? 0 : EXIT_FAIL;
}

const command cmd_serve = {"serve", "serve SCEP over HTTP", usage_text, run};
