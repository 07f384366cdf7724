/*
 * notify.h - tell systemd (Type=notify) when the exporter is ready, is
 * reloading and is stopping, through sd_notify(3).
 *
 * Every call is a no-op when the build has no libsystemd or when the
 * process was not started by systemd (no NOTIFY_SOCKET in the environment),
 * so the daemon calls them unconditionally.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

/* Send READY=1: the logs are being followed and the HTTP server answers.
 * systemd holds back units ordered After= us, and `systemctl start`, until
 * this arrives; sent again after a reload finishes. */
void notify_ready(void);

/* Send RELOADING=1 with MONOTONIC_USEC, at the start of a SIGHUP reload, so
 * `systemctl reload` and `systemctl status` show the reload; notify_ready()
 * ends it. */
void notify_reloading(void);

/* Send STOPPING=1 as graceful shutdown begins, so systemd shows
 * "deactivating" while the last lines are drained. */
void notify_stopping(void);

#endif
