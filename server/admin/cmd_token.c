/* scepd token add|list|remove: the bearer tokens of the admin API, each with a role. Only a
 * token's SHA-256 is stored; `add` prints the token once. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin/audit.h"
#include "admin/cli.h"
#include "admin/tokens.h"

static const char usage_text[] =
    "usage: scepd token add --dir DIR NAME --role read|operate\n"
    "       scepd token list --dir DIR\n"
    "       scepd token remove --dir DIR NAME\n\n"
    "Tokens of the admin API (GET/POST /api/v1/... on admin_listen, \"Authorization: Bearer\n"
    "TOKEN\"). `add` prints a new token once, as the last line (32 random bytes in hex); the\n"
    "store keeps only its SHA-256, so a lost token is removed and added again. A `read` token\n"
    "may GET everything; an `operate` token may also approve, reject, revoke, issue CRLs and\n"
    "mint or revoke challenges. NAME: 1-63 letters, digits, '.', '_' or '-'. `list` prints\n"
    "name, role and creation time, never a token or its hash. Takes effect at once, on every\n"
    "node of the store, without a reload.\n\n"
    "  --role ROLE    read or operate (add only)\n";

static void audit_token(const config *c, store *st, const char *action, const char *name)
{
    log_audit_event e = {.event = action, .subject = name};
    admin_audit(c, st, &e);
}

static int add(const config *c, store *st, const char *name, const char *role)
{
    char token[TOKEN_TEXT], err[512];
    if (token_mint(st, name, role, token, err, sizeof(err)) != 0)
        return cli_fail("token add", "%s", err);
    printf("token %s (%s), shown once:\n%s\n", name, role, token);
    OPENSSL_cleanse(token, sizeof(token));
    audit_token(c, st, "token.add", name);
    return 0;
}

static int print_token(void *arg, const store_token *t)
{
    char when[32];
    cli_time_text(t->created_at, when, sizeof(when));
    printf("%-32s %-8s %s\n", t->name, t->role, when);
    ++*(int *)arg;
    return 0;
}

static int list(store *st)
{
    int n = 0;
    printf("%-32s %-8s %s\n", "NAME", "ROLE", "CREATED");
    if (st->ops->token_list(st, print_token, &n) != STORE_OK)
        return cli_fail("token list", "%s", st->ops->last_error(st));
    return 0;
}

static int remove_token(const config *c, store *st, const char *name)
{
    store_status s = st->ops->token_remove(st, name);
    if (s == STORE_NOT_FOUND)
        return cli_fail("token remove", "no token named '%s'", name);
    if (s != STORE_OK)
        return cli_fail("token remove", "%s", st->ops->last_error(st));
    printf("removed token %s\n", name);
    audit_token(c, st, "token.remove", name);
    return 0;
}

/* The subcommand and its NAME, checked before the store is opened. */
static int check_args(int argc, char **argv, const char *role, const char **name)
{
    const char *sub = argv[optind];
    int wants_name = strcmp(sub, "list") != 0;
    if (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "remove") != 0)
        return cli_misuse("token", "unknown subcommand '%s' (expected add, list or remove)", sub);
    if (optind + 1 + wants_name != argc)
        return cli_misuse("token", wants_name ? "%s takes one NAME" : "%s takes no argument", sub);
    *name = wants_name ? argv[optind + 1] : NULL;
    if (*name != NULL && !token_name_ok(*name))
        return cli_bad_value("token", "NAME", *name, "1-63 letters, digits, '.', '_' or '-'");
    if (strcmp(sub, "add") == 0 && role == NULL)
        return cli_misuse("token", "add needs --role read or --role operate");
    if (role != NULL && strcmp(sub, "add") != 0)
        return cli_misuse("token", "--role is for add only");
    return 0;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"role", required_argument, NULL, 'r'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = NULL, *role = NULL, *name = NULL;
    int flag;
    optind = 1;
    while ((flag = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (flag == 'd')
            dir = optarg;
        else if (flag == 'r' && !token_role_ok(optarg))
            return cli_bad_value("token", "--role", optarg, "read or operate");
        else if (flag == 'r')
            role = optarg;
        else
            return cli_usage(&cmd_token);
    if (optind >= argc)
        return cli_misuse("token", "a subcommand is required: add, list or remove");
    int rc = check_args(argc, argv, role, &name);
    config c;
    if (rc != 0 || cli_load_config("token", dir, &c) != 0)
        return rc != 0 ? rc : EXIT_FAIL;
    store *st = cli_open_store("token", &c);
    if (st == NULL)
        return EXIT_FAIL;
    const char *sub = argv[optind];
    rc = strcmp(sub, "add") == 0    ? add(&c, st, name, role)
         : strcmp(sub, "list") == 0 ? list(st)
                                    : remove_token(&c, st, name);
    store_close(st);
    return rc;
}

const command cmd_token = {"token", "add, list or remove admin API tokens", usage_text, run};
