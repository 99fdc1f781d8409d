/* The syntax of the per-profile rules (docs/profiles.md): lists of key types, domains, IP
 * ranges, usages and OIDs, regexes, the SAN template. Checked when a value is set, parsed
 * again where a profile compiles its rules. */
#ifndef SCEPD_CONFIG_RULES_H
#define SCEPD_CONFIG_RULES_H

#include <stddef.h>

#define CONFIG_MAX_KEY_RULES 8
#define CONFIG_MAX_IP_RANGES 32
#define CONFIG_LIST_ITEM 256

/* The next comma-separated item of *p, trimmed, into item; advances *p. 0 at the end, -1 when
 * an item is empty or longer than len - 1. */
int config_list_next(const char **p, char *item, size_t len);

typedef enum key_rule_type { KEY_RULE_RSA = 1, KEY_RULE_EC = 2 } key_rule_type;
typedef struct key_rule {
    key_rule_type type;
    int min_bits, max_bits; /* RSA */
    int curve_nid;          /* EC */
} key_rule;

/* "rsa", "rsa:2048", "rsa:2048-4096", "ec:P-256", "ec" (P-256, P-384 or P-521). */
int config_parse_keys(const char *text, key_rule *out, size_t *n);

typedef struct ip_range {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;
} ip_range;

/* "10.0.0.0/8,2001:db8::/32,192.0.2.7" (no prefix: one address). */
int config_parse_ip_ranges(const char *text, ip_range *out, size_t *n);

/* The checks of config_set: NULL, or what the value should look like. */
const char *config_check_keys(const char *value);
const char *config_check_rdns(const char *value);
const char *config_check_regex(const char *value);
const char *config_check_domains(const char *value);
const char *config_check_ip_ranges(const char *value);
const char *config_check_key_usage(const char *value);
const char *config_check_ext_key_usage(const char *value);
const char *config_check_policies(const char *value);
const char *config_check_san_template(const char *value);

#endif
