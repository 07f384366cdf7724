/*
 * notify.c - sd_notify(3) messages for Type=notify units.
 *
 * libsystemd is optional: a build without it (another init system, a
 * container) keeps the daemon and turns these calls into no-ops.
 */
#include "daemon/notify.h"

#include "build_config.h"

#if HAVE_LIBSYSTEMD
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "daemon/input/systemd_dl.h"
#include "util/log.h"

static int load_failure_logged;   /* the main thread is the one caller */

/* Send one state string. A failure is logged, never fatal: the exporter
 * serves metrics whether or not systemd hears about it (systemd itself
 * times the start-up out if READY=1 never arrives). */
static void
send_state(const char *state)
{
	char err[256];
	int r;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	/* libsystemd is loaded by the first message (util/dynload.h). If it
	 * cannot be, systemd times the start out; the reason is in our log,
	 * once: later calls are silent. */
	if (systemd_dl_load(err, sizeof err) < 0) {
		if (!load_failure_logged)
			log_errorx("cannot tell systemd our state: %s", err);
		load_failure_logged = 1;
		return;
	}
	/* unset_environment=0: later messages need the same socket. */
	if ((r = sym_sd_notify(0, state)) < 0)
		log_warnx("sd_notify(%s) failed: error %d", state, -r);
}

void
notify_ready(void)
{
	send_state("READY=1\nSTATUS=following the mail log and serving metrics");
}

void
notify_reloading(void)
{
	struct timespec ts;
	char msg[96];

	/* systemd ≥ 253 (Type=notify-reload) wants the time the reload began,
	 * so a RELOADING=1 from before `systemctl reload` is not taken for its
	 * answer; older versions ignore the field. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	send_state(msg);
}

void
notify_stopping(void)
{
	send_state("STOPPING=1\nSTATUS=stopping: reading what is left of the log");
}

#else

void
notify_ready(void)
{
}

void
notify_reloading(void)
{
}

void
notify_stopping(void)
{
}

#endif
