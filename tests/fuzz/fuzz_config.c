/* libFuzzer: scepd's configuration file (config_load). What loads must keep every limit the
 * parser promises, a file of comments must change nothing, and what `scepd init` writes from
 * a config (config_write) must load back to the same settings. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char input_path[64], written_path[64];

static void remove_files(void)
{
    unlink(input_path);
    unlink(written_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    atexit(remove_files);
    snprintf(input_path, sizeof(input_path), "/tmp/fuzz_config.%ld.in", (long)getpid());
    snprintf(written_path, sizeof(written_path), "/tmp/fuzz_config.%ld.out", (long)getpid());
    return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
}

static void check_text(const char *field, size_t size)
{
    if (strnlen(field, size) >= size)
        abort();
}

/* The ranges and forms config.c accepts; a loaded config outside them is a parser bug. */
static void check_limits(const config *c)
{
    check_text(c->ca_cert, sizeof(c->ca_cert));
    check_text(c->store, sizeof(c->store));
    check_text(c->listen, sizeof(c->listen));
    check_text(c->challenge, sizeof(c->challenge));
    check_text(c->crl_url, sizeof(c->crl_url));
    if (c->validity_days < 1 || c->validity_days > 36500 || c->min_rsa_bits < 1024 ||
        c->min_rsa_bits > 16384 || c->max_body < 1024 || c->max_body > 16 * 1024 * 1024 ||
        c->max_connections < 1 || c->request_timeout < 1 || c->threads < 0 || c->threads > 256 ||
        c->max_clock_skew < 0 || c->crl_days < 1)
        abort();
    if (c->renewal_window_pct < 0 || c->renewal_window_pct > 100 || c->renewal_window_days < 0)
        abort();
    const char *mark = strstr(c->crl_url, CRL_URL_CA_MARK);
    if (strpbrk(c->crl_url, " ,\t\r\n") != NULL || (mark && strstr(mark + 1, CRL_URL_CA_MARK)))
        abort();
}

#define SAME_TEXT(a, b, f) (strcmp((a)->f, (b)->f) == 0)

/* The settings config_write writes, compared with what loaded. */
static void check_written(const config *c)
{
    unlink(written_path); /* config_write never replaces a file (scepd init writes it once) */
    if (config_write(c, written_path) != 0)
        abort();
    config back;
    char err[512];
    config_defaults(&back, c->dir);
    if (config_load(&back, written_path, err, sizeof(err)) != 0)
        abort();
    int same = SAME_TEXT(c, &back, ca_cert) && SAME_TEXT(c, &back, ca_key) &&
               SAME_TEXT(c, &back, ca_chain) && SAME_TEXT(c, &back, ca_key_pass_file) &&
               SAME_TEXT(c, &back, store) && SAME_TEXT(c, &back, listen) &&
               c->approve == back.approve && c->legacy_algorithms == back.legacy_algorithms &&
               c->validity_days == back.validity_days && c->min_rsa_bits == back.min_rsa_bits &&
               c->max_body == back.max_body && c->max_connections == back.max_connections &&
               c->request_timeout == back.request_timeout;
    if (c->ra_cert[0] != '\0')
        same = same && SAME_TEXT(c, &back, ra_cert) && SAME_TEXT(c, &back, ra_key);
    if (!same)
        abort();
}

/* Whether every line is blank or a comment: then nothing may change. */
static int only_comments(const uint8_t *data, size_t size)
{
    int at_start = 1; /* no byte but blanks yet on this line */
    int comment = 0;
    for (size_t i = 0; i < size; i++) {
        uint8_t b = data[i];
        if (b == '\n') {
            at_start = 1;
            comment = 0;
        } else if (at_start && b != ' ' && b != '\t' && b != '\r') {
            at_start = 0;
            comment = b == '#';
            if (!comment)
                return 0;
        }
    }
    return 1;
}

static void check_unchanged(const config *c)
{
    config defaults;
    config_defaults(&defaults, c->dir);
    if (memcmp(c, &defaults, sizeof(defaults)) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_file(input_path, data, size);
    config c;
    char err[512], out[CONFIG_PATH * 2];
    config_defaults(&c, "/srv/scepd");
    int comments = only_comments(data, size);
    if (config_load(&c, input_path, err, sizeof(err)) != 0) {
        if (strnlen(err, sizeof(err)) == 0 || strnlen(err, sizeof(err)) >= sizeof(err))
            abort();
        return 0;
    }
    if (comments)
        check_unchanged(&c);
    check_limits(&c);
    config_store_uri(&c, out, sizeof(out));
    config_path(&c, c.ca_key, out, sizeof(out));
    check_written(&c);
    return 0;
}
