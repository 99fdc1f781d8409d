/*
 * sd_notify(3) for a Type=notify unit. Without NOTIFY_SOCKET (not started by systemd, or a
 * build without libsystemd) each call does nothing. The environment is kept: a reload and the
 * stop still have to say so after READY.
 */
#include "os/notify.h"

#include <stdio.h>
#include <time.h>

#ifdef SCEPD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#define SEND(text) ((void)sd_notify(0, (text)))
#else
#define SEND(text) ((void)(text))
#endif

void notify_ready(void)
{
    SEND("READY=1\nSTATUS=serving");
}

void notify_reloading(void)
{
    struct timespec now;
    char text[96];
    clock_gettime(CLOCK_MONOTONIC, &now);
    snprintf(text, sizeof(text), "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
             (unsigned long long)now.tv_sec * 1000000ULL + (unsigned long long)now.tv_nsec / 1000);
    SEND(text);
}

void notify_stopping(void)
{
    SEND("STOPPING=1\nSTATUS=finishing requests in flight");
}
