#include "log/audit_store.h"

#include <stdio.h>

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

void log_audit_store(store *st, const char *actor, const log_audit_event *e)
{
    if (st == NULL)
        return;
    store_audit a = {0};
    copy(a.actor, sizeof(a.actor), actor);
    copy(a.action, sizeof(a.action), e->event);
    copy(a.subject, sizeof(a.subject), e->subject);
    copy(a.serial, sizeof(a.serial), e->serial);
    copy(a.transaction_id, sizeof(a.transaction_id), e->transaction_id);
    copy(a.peer, sizeof(a.peer), e->peer);
    copy(a.detail, sizeof(a.detail), e->detail ? e->detail : e->sans);
    (void)st->ops->audit_add(st, &a);
}
