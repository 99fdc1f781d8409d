/* scepd serve: answer SCEP over HTTP until SIGTERM or SIGINT. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "admin_http.h"
#include "http.h"
#include "log.h"
#include "rollover.h"
#include "server.h"

static const char usage_text[] =
    "usage: scepd serve --dir DIR [options]\n"
    "\n"
    "Serves every SCEP operation (GetCACaps, GetCACert, GetCACertChain, PKIOperation by GET and\n"
    "POST on any path) for the CA in DIR. Settings come from DIR/scepd.conf; flags override.\n"
    "Stops on SIGTERM or SIGINT after the requests in flight finish.\n"
    "\n"
    "  --dir DIR                the CA directory made by `scepd init`\n"
    "  --listen HOST:PORT       where to listen (default 127.0.0.1:8080)\n"
    "  --challenge SECRET       the challenge password requests must carry\n"
    "  --challenge-file FILE    read the challenge from FILE (first line)\n"
    "  --approve auto|manual    issue at once, or answer PENDING until `scepd approve`\n"
    "  --legacy-algorithms      also accept and answer single DES and MD5 (old devices)\n"
    "  --log-format text|json   one log line per request on stdout (default text)\n"
    "  --threads N              worker threads (default: two per core)\n"
    "  --set KEY=VALUE          any scepd.conf setting\n"
    "\n"
    "Without a static challenge, new requests need a one-time challenge (`scepd challenge`),\n"
    "or, with --approve manual, an operator's approval.\n";

static int apply(config *c, const char *key, const char *value)
{
    char err[256];
    if (config_set(c, key, value, err, sizeof(err)) != 0)
        return cli_fail("serve", "%s", err);
    return 0;
}

static int parse(int argc, char **argv, config *c)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"listen", required_argument, NULL, 'l'},
                                             {"challenge", required_argument, NULL, 'c'},
                                             {"challenge-file", required_argument, NULL, 'f'},
                                             {"approve", required_argument, NULL, 'a'},
                                             {"legacy-algorithms", no_argument, NULL, 'L'},
                                             {"log-format", required_argument, NULL, 'o'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"set", required_argument, NULL, 's'},
                                             {NULL, 0, NULL, 0}};
    static const char *const keys[128] = {
        ['l'] = "listen",  ['c'] = "challenge",  ['f'] = "challenge_file",
        ['a'] = "approve", ['o'] = "log_format", ['t'] = "threads"};
    const char *dir = NULL;
    int c0;
    /* The directory first: its config is the base the other flags override. */
    optind = 1;
    while ((c0 = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (c0 == 'd')
            dir = optarg;
        else if (c0 == '?')
            return EXIT_USAGE;
    if (optind != argc || cli_load_config("serve", dir, c) != 0)
        return optind != argc ? EXIT_USAGE : EXIT_FAIL;
    optind = 1;
    while ((c0 = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *eq = c0 == 's' ? strchr(optarg, '=') : NULL;
        int rc = 0;
        if (c0 == 'L')
            c->legacy_algorithms = 1;
        else if (c0 == 's' && eq == NULL)
            rc = cli_fail("serve", "--set needs KEY=VALUE");
        else if (c0 == 's') {
            *eq = '\0';
            rc = apply(c, optarg, eq + 1);
        } else if (c0 != 'd')
            rc = apply(c, keys[c0 & 127], optarg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int check_policy(config *c)
{
    char err[512];
    if (config_read_challenge_file(c, err, sizeof(err)) != 0)
        return cli_fail("serve", "%s", err);
    if (c->challenge[0] == '\0' && c->approve == APPROVE_AUTO)
        log_info(stdout, c->log_format,
                 "no static challenge: new requests need a one-time challenge (scepd challenge)");
    return 0;
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
    if (srv->n_eras == 2 && srv->cfg.crl_url[0] != '\0' && strstr(srv->cfg.crl_url, "{ca}") == NULL)
        log_info(stdout, srv->cfg.log_format, CRL_URL_ROLLOVER_WARNING);
}

/*
 * SIGHUP: reads the CA files again (after `scepd rollover`, or new certificates) and serves
 * with them on the same listening socket; the old server finishes its requests first. A CA
 * that does not load leaves the old one serving.
 */
static http_server *reload(server **srv, http_server *h)
{
    server *fresh = calloc(1, sizeof(*fresh));
    char err[512];
    const config *c = &(*srv)->cfg;
    if (fresh == NULL || server_init(fresh, c, err, sizeof(err)) != 0) {
        char line[600];
        snprintf(line, sizeof(line), "reload failed, still serving the old CA: %s",
                 fresh ? err : "out of memory");
        log_info(stdout, c->log_format, line);
        free(fresh);
        return h;
    }
    http_server *next = http_takeover(h, fresh, err, sizeof(err));
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
 * auto_rollover_days: when the current CA ends within that many days and nothing is prepared,
 * prepare the next CA (switching at the current one's expiry). Returns 1 when it did.
 */
static int auto_rollover(const server *srv)
{
    const config *c = &srv->cfg;
    const era *now = server_era(srv, time(NULL));
    if (c->auto_rollover_days <= 0 || now->ca.next.cert != NULL)
        return 0;
    time_t end = (time_t)ca_unix_time(X509_get0_notAfter(now->ca.cert));
    if (end - time(NULL) > (time_t)c->auto_rollover_days * 86400)
        return 0;
    char err[512], line[700];
    store *st = NULL;
    char uri[CONFIG_PATH * 2];
    config_store_uri(c, uri, sizeof(uri));
    st = store_open(uri, err, sizeof(err));
    int rc = st ? rollover_prepare(c, st, end, 0, err, sizeof(err)) : -1;
    store_close(st);
    snprintf(line, sizeof(line),
             rc == 0 ? "auto rollover: prepared the next CA" : "auto rollover: %s", err);
    log_info(stdout, c->log_format, line);
    return rc == 0;
}

static int run(int argc, char **argv)
{
    config c;
    int rc = parse(argc, argv, &c);
    if (rc == EXIT_USAGE)
        return cli_usage(&cmd_serve);
    if (rc != 0 || check_policy(&c) != 0)
        return EXIT_FAIL;
    /* Block the signals before any thread starts, so that only sigwait() sees them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    server *srv = calloc(1, sizeof(*srv));
    char err[512];
    if (srv == NULL)
        return cli_fail("serve", "out of memory");
    if (server_init(srv, &c, err, sizeof(err)) != 0) {
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
        log_info(stdout, c.log_format, "admin endpoint: POST /challenge on the admin listener");
    if (auto_rollover(srv))
        h = reload(&srv, h);
    /* SIGHUP reloads; a quiet minute checks whether an automatic rollover is due. */
    for (;;) {
        struct timespec minute = {60, 0};
        int sig = h ? sigtimedwait(&signals, NULL, &minute) : SIGTERM;
        if (sig == SIGHUP || (sig < 0 && auto_rollover(srv)))
            h = reload(&srv, h);
        else if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    log_info(stdout, c.log_format, "stopping: finishing requests in flight");
    admin_http_stop(admin);
    http_stop(h);
    server_free(srv);
    free(srv);
    log_info(stdout, c.log_format, "stopped");
    return h ? 0 : EXIT_FAIL;
}

const command cmd_serve = {"serve", "serve SCEP over HTTP", usage_text, run};
