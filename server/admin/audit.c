#include "admin/audit.h"

#include "log/audit_store.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The account running the command, and who called sudo when it did. */
static void operator_name(char *buf, size_t len)
{
    struct passwd pw, *found = NULL;
    char scratch[1024];
    uid_t uid = getuid();
    int known = getpwuid_r(uid, &pw, scratch, sizeof(scratch), &found) == 0 && found != NULL;
    const char *sudo = getenv("SUDO_USER");
    if (known && sudo != NULL && sudo[0] != '\0')
        snprintf(buf, len, "%s (sudo %.64s)", pw.pw_name, sudo);
    else if (known)
        snprintf(buf, len, "%s", pw.pw_name);
    else
        snprintf(buf, len, "uid %lu", (unsigned long)uid);
}

void admin_audit(const config *c, store *st, log_audit_event *e)
{
    char by[160], path[CONFIG_PATH * 2] = "", actor[STORE_ACTOR];
    operator_name(by, sizeof(by));
    e->by = by;
    if (c->log_file[0] != '\0')
        config_path(c, c->log_file, path, sizeof(path));
    log_audit_to_file(path, c->log_format, e);
    snprintf(actor, sizeof(actor), "cli:%.150s", by);
    log_audit_store(st, actor, e);
    e->by = NULL;
}
