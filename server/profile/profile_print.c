/* `scepd profiles`: what each profile does, one block each. Never a secret. */
#include <stdarg.h>
#include <stdio.h>

#include "profile/profile.h"

/* "  label:  value", the values in one column. */
static void row(FILE *f, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void row(FILE *f, const char *label, const char *fmt, ...)
{
    va_list ap;
    char head[24];
    snprintf(head, sizeof(head), "%s:", label);
    fprintf(f, "  %-16s", head);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
}

const char *profile_challenge_source(const config *c)
{
    if (c->challenge_none)
        return "none (an operator approves)";
    if (c->challenge_file[0] != '\0')
        return "static (challenge_file) or one-time";
    if (c->challenge[0] != '\0')
        return "static or one-time";
    return c->approve == APPROVE_MANUAL ? "one-time, or none (an operator approves)"
                                        : "one-time only";
}

static const char *or_none(const char *text, const char *none)
{
    return text[0] != '\0' ? text : none;
}

static void print_validity(FILE *f, const config *c)
{
    if (c->validity_seconds > 0)
        row(f, "validity", "%d seconds\n", c->validity_seconds);
    else
        row(f, "validity", "%d days\n", c->validity_days);
}

static void print_keys(FILE *f, const config *c)
{
    if (c->allowed_keys[0] != '\0')
        row(f, "keys", "%s\n", c->allowed_keys);
    else
        row(f, "keys", "RSA >= %d bits%s\n", c->min_rsa_bits,
            c->allow_ec ? ", EC P-256 or larger" : "");
}

static void print_rules(FILE *f, const config *c)
{
    row(f, "subject", "require %s; match %s\n", or_none(c->subject_require, "-"),
        or_none(c->subject_match, "-"));
    row(f, "SANs", "%s; DNS %s; email %s; URI %s; IP %s\n", c->copy_san ? "copied" : "not copied",
        or_none(c->san_dns_domains, "any"), or_none(c->san_email_domains, "any"),
        or_none(c->san_uri_match, "any"), or_none(c->san_ip_ranges, "any"));
    row(f, "san_template", "%s\n", or_none(c->san_template, "-"));
}

static void print_extensions(FILE *f, const config *c)
{
    row(f, "key_usage", "%s\n",
        or_none(c->key_usage,
                c->copy_key_usage ? "as requested, else by key type" : "by key type"));
    row(f, "ext_key_usage", "%s\n",
        or_none(c->ext_key_usage,
                c->copy_ext_key_usage ? "as requested, else clientAuth" : "clientAuth"));
    row(f, "policies", "%s\n", or_none(c->certificate_policies, "-"));
}

void profile_print(FILE *f, const profile *p, const char *ca_subject)
{
    const config *c = p->cfg;
    fprintf(f, "%s\n", profile_label(p));
    if (p->name[0])
        row(f, "path", "/scep/%s, /scep/%s/pkiclient.exe, GetCACert message=%s\n", p->name, p->name,
            p->name);
    else
        row(f, "path", "/scep, /cgi-bin/pkiclient.exe (and any other)\n");
    row(f, "CA", "%s\n", ca_subject);
    if (c->ca_dir[0] != '\0')
        row(f, "ca_dir", "%s\n", c->ca_dir);
    row(f, "challenge", "%s\n", profile_challenge_source(c));
    row(f, "approve", "%s; renewals %s\n", c->approve == APPROVE_AUTO ? "auto" : "manual",
        c->renewal_approve == APPROVE_AUTO ? "auto" : "manual");
    print_validity(f, c);
    print_keys(f, c);
    print_rules(f, c);
    print_extensions(f, c);
    if (c->renewal_window_days > 0)
        row(f, "renewal", "from %d days before expiry\n", c->renewal_window_days);
    else
        row(f, "renewal", "from %d%% of the lifetime\n", c->renewal_window_pct);
}
