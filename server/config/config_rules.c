#include "config/config_rules.h"

#include <arpa/inet.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/obj_mac.h>
#include <openssl/objects.h>

#include "config/config.h"

int config_list_next(const char **p, char *item, size_t len)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0')
        return 0;
    size_t n = strcspn(s, ",");
    *p = s[n] == ',' ? s + n + 1 : s + n;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= len)
        return -1;
    memcpy(item, s, n);
    item[n] = '\0';
    return 1;
}

/* Calls ok(item) for each item: 0 when every one passes and there is at least one. */
static int each_item(const char *value, int (*ok)(const char *item))
{
    char item[CONFIG_LIST_ITEM];
    const char *p = value;
    int r, seen = 0;
    while ((r = config_list_next(&p, item, sizeof(item))) == 1) {
        if (!ok(item))
            return -1;
        seen = 1;
    }
    return r == 0 && seen ? 0 : -1;
}

static int curve_nid(const char *name)
{
    if (!strcasecmp(name, "P-256"))
        return NID_X9_62_prime256v1;
    if (!strcasecmp(name, "P-384"))
        return NID_secp384r1;
    if (!strcasecmp(name, "P-521"))
        return NID_secp521r1;
    return NID_undef;
}

static int parse_rsa_bits(const char *text, key_rule *k)
{
    long lo = 0, hi = 16384;
    char first[16];
    const char *dash = strchr(text, '-');
    size_t n = dash ? (size_t)(dash - text) : strlen(text);
    if (n == 0 || n >= sizeof(first))
        return -1;
    memcpy(first, text, n);
    first[n] = '\0';
    if (config_parse_long(first, 1024, 16384, &lo) != 0 ||
        (dash != NULL && config_parse_long(dash + 1, lo, 16384, &hi) != 0))
        return -1;
    k->min_bits = (int)lo;
    k->max_bits = (int)hi;
    return 0;
}

static int parse_key(const char *item, key_rule *k)
{
    memset(k, 0, sizeof(*k));
    if (!strcasecmp(item, "rsa")) {
        *k = (key_rule){.type = KEY_RULE_RSA, .min_bits = 2048, .max_bits = 16384};
        return 0;
    }
    if (!strncasecmp(item, "rsa:", 4)) {
        k->type = KEY_RULE_RSA;
        return parse_rsa_bits(item + 4, k);
    }
    if (!strcasecmp(item, "ec")) {
        k->type = KEY_RULE_EC; /* curve_nid 0: any of the three */
        return 0;
    }
    k->type = KEY_RULE_EC;
    k->curve_nid = !strncasecmp(item, "ec:", 3) ? curve_nid(item + 3) : NID_undef;
    return k->curve_nid == NID_undef ? -1 : 0;
}

int config_parse_keys(const char *text, key_rule *out, size_t *n)
{
    char item[CONFIG_LIST_ITEM];
    const char *p = text;
    int r;
    *n = 0;
    while ((r = config_list_next(&p, item, sizeof(item))) == 1)
        if (*n == CONFIG_MAX_KEY_RULES || parse_key(item, &out[(*n)++]) != 0)
            return -1;
    return r == 0 && *n > 0 ? 0 : -1;
}

static int parse_range(const char *item, ip_range *r)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(item, '/');
    size_t n = slash ? (size_t)(slash - item) : strlen(item);
    if (n == 0 || n >= sizeof(addr))
        return -1;
    memcpy(addr, item, n);
    addr[n] = '\0';
    memset(r, 0, sizeof(*r));
    r->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    int max = r->family == AF_INET6 ? 128 : 32;
    long prefix = max;
    if (inet_pton(r->family, addr, r->addr) != 1 ||
        (slash != NULL && config_parse_long(slash + 1, 0, max, &prefix) != 0))
        return -1;
    r->prefix = (int)prefix;
    return 0;
}

int config_parse_ip_ranges(const char *text, ip_range *out, size_t *n)
{
    char item[CONFIG_LIST_ITEM];
    const char *p = text;
    int r;
    *n = 0;
    while ((r = config_list_next(&p, item, sizeof(item))) == 1)
        if (*n == CONFIG_MAX_IP_RANGES || parse_range(item, &out[(*n)++]) != 0)
            return -1;
    return r == 0 && *n > 0 ? 0 : -1;
}

const char *config_check_keys(const char *value)
{
    key_rule k[CONFIG_MAX_KEY_RULES];
    size_t n;
    return config_parse_keys(value, k, &n) == 0
               ? NULL
               : "up to 8 of rsa, rsa:MIN, rsa:MIN-MAX (1024 to 16384 bits), ec, ec:P-256, "
                 "ec:P-384, ec:P-521";
}

static int is_rdn(const char *item)
{
    return strspn(item, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.") ==
               strlen(item) &&
           OBJ_txt2nid(item) != NID_undef;
}

const char *config_check_rdns(const char *value)
{
    return each_item(value, is_rdn) == 0 ? NULL : "attribute names such as CN,O,OU,serialNumber";
}

const char *config_check_regex(const char *value)
{
    regex_t re;
    if (regcomp(&re, value, REG_EXTENDED | REG_NOSUB) != 0)
        return "a POSIX extended regular expression";
    regfree(&re);
    return NULL;
}

/* "example.com" (that name) or ".example.com" (names below it). */
static int is_domain(const char *item)
{
    const char *d = item[0] == '.' ? item + 1 : item;
    size_t n = strlen(d);
    return n > 0 && n <= 253 &&
           strspn(d, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == n &&
           d[0] != '.' && d[n - 1] != '.' && strstr(d, "..") == NULL;
}

const char *config_check_domains(const char *value)
{
    return each_item(value, is_domain) == 0
               ? NULL
               : "domains such as example.com (that name) or .example.com (names below it)";
}

const char *config_check_ip_ranges(const char *value)
{
    ip_range r[CONFIG_MAX_IP_RANGES];
    size_t n;
    return config_parse_ip_ranges(value, r, &n) == 0
               ? NULL
               : "up to 32 addresses or ranges such as 10.0.0.0/8,2001:db8::/32";
}

/* An end entity's usages: keyCertSign and cRLSign are for CAs. */
static int is_key_usage(const char *item)
{
    static const char *const names[] = {"digitalSignature", "nonRepudiation", "keyEncipherment",
                                        "dataEncipherment", "keyAgreement",   "encipherOnly",
                                        "decipherOnly"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(item, names[i]) == 0)
            return 1;
    return 0;
}

const char *config_check_key_usage(const char *value)
{
    return each_item(value, is_key_usage) == 0
               ? NULL
               : "digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, "
                 "keyAgreement, encipherOnly, decipherOnly";
}

static int is_object(const char *item, int numeric)
{
    if (strspn(item, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.") !=
        strlen(item))
        return 0;
    ASN1_OBJECT *o = OBJ_txt2obj(item, numeric);
    ASN1_OBJECT_free(o);
    return o != NULL;
}

static int is_eku(const char *item)
{
    return is_object(item, 0);
}

static int is_oid(const char *item)
{
    return is_object(item, 1);
}

const char *config_check_ext_key_usage(const char *value)
{
    return each_item(value, is_eku) == 0
               ? NULL
               : "names such as clientAuth,serverAuth,emailProtection or dotted OIDs";
}

const char *config_check_policies(const char *value)
{
    return each_item(value, is_oid) == 0 ? NULL : "dotted OIDs such as 1.3.6.1.4.1.99999.1";
}

/* TYPE:VALUE, TYPE DNS, email or URI; VALUE printable, no spaces, braces only in {cn}. */
static int is_san_template(const char *item)
{
    const char *colon = strchr(item, ':');
    if (colon == NULL || colon[1] == '\0')
        return 0;
    size_t t = (size_t)(colon - item);
    if (!(t == 3 && !strncmp(item, "DNS", 3)) && !(t == 5 && !strncmp(item, "email", 5)) &&
        !(t == 3 && !strncmp(item, "URI", 3)))
        return 0;
    for (const char *p = colon + 1; *p; p++) {
        if (!strncmp(p, "{cn}", 4)) {
            p += 3;
            continue;
        }
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '{' || *p == '}')
            return 0;
    }
    return 1;
}

const char *config_check_san_template(const char *value)
{
    return each_item(value, is_san_template) == 0
               ? NULL
               : "names such as DNS:{cn}.example.com,email:{cn}@example.com,URI:urn:dev:{cn}";
}
