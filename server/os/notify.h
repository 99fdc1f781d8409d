/* The service manager's view of scepd serve: ready, reloading, stopping (sd_notify). */
#ifndef SCEPD_NOTIFY_H
#define SCEPD_NOTIFY_H

/* READY=1: the listeners are up and the keys loaded. */
void notify_ready(void);

/* RELOADING=1 (with MONOTONIC_USEC, which systemd's notify-reload wants): a SIGHUP reload
 * starts; notify_ready() follows when it is done, whatever its outcome. */
void notify_reloading(void);

/* STOPPING=1: the drain after SIGTERM or SIGINT starts. */
void notify_stopping(void);

#endif
